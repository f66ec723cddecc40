"""The pass with a model: every cluster asked concurrently, each answer saved as it arrives.

A cluster whose request still fails after its retries is saved as failed and the pass goes on;
`--resume` asks again for exactly those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.summarize.prompts import ClusterSummaryAnswer, build_messages, clean_answer

if TYPE_CHECKING:
    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.summarize.options import SummarizeOptions, SummarizeResult
    from lmsys_tui.core.summarize.passes import SummaryPass
    from lmsys_tui.core.summarize.sampling import Job
    from lmsys_tui.stage import CancelCheck, Progress

STAGE = "summarize"  # the ledger's stage column


async def llm_pass(
    summary_pass: SummaryPass,
    spec: ModelSpec,
    jobs: list[Job],
    opts: SummarizeOptions,
    result: SummarizeResult,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    from lmsys_tui.core.llm.clients import CallFailed, LLMSession, run_tasks

    store, run_id = summary_pass.store, summary_pass.run_id
    async with LLMSession.for_stage(store, spec, STAGE, run_id, opts) as session:

        async def one(job: Job) -> None:
            params: dict[str, Any] = {
                "sample": len(job.sample),
                "contrast": [c[0] for c in job.contrast],
            }
            try:
                answer = await session.ask(
                    build_messages(job, opts.max_query_chars), ClusterSummaryAnswer
                )
            except CallFailed as exc:
                fields: dict[str, Any] = {"title": None, "description": None, "coherence": None}
                params |= {"attempts": exc.attempts}
                error: str | None = exc.message
            else:
                title, description, coherence = clean_answer(answer)
                fields = {"title": title, "description": description, "coherence": coherence}
                error = None
            await session.db(summary_pass.save, job, **fields, params=params, error=error)
            if error is None:
                result.done += 1
            else:
                result.failed += 1

        try:
            await run_tasks(
                [one(j) for j in jobs],
                session,
                progress,
                cancelled,
                f"summarize cancelled; continue with --resume {summary_pass.summary_run_id}",
            )
        finally:
            result.llm = session.stats.to_dict()
