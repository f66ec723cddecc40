"""`evaluate titles RUN --judge MODEL`: Clio's check that each title fits its cluster.

Clio rates its titles by asking a model whether a cluster's title and description describe a
sample of the cluster's queries (96-97% accurate there). Here the same question goes, for each
cluster of one summary pass, to any model the LLM stack reaches (a key, or a local
OpenAI-compatible server through --base-url), through `LLMSession.ask`: paced, retried, every
answer in the ledger, so a re-run pays nothing twice. The sample is the cluster's most central
queries and a spread of the rest (the summarizer's own sampler, its own seed), escaped inside
tags so a query cannot fake the prompt. The figure is the share of judged clusters whose title
AND description were found to fit; each part's share and every verdict come with it.
"""

from __future__ import annotations

import asyncio
import functools
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.llm.options import LLMOptions
from lmsys_tui.core.options import option
from lmsys_tui.errors import NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

STAGE = "evaluate-titles"  # the ledger's stage column
SKIPPED = "not asked: no queries to show (the cluster is empty)"
SYSTEM = (
    "You check the names an analysis tool gave to clusters of user requests to an AI "
    "assistant. Judge only from the sample of requests you are shown."
)


@dataclass
class JudgeOptions(LLMOptions):
    model: str | None = option(flag="--judge")  # the judging model (required)
    sample: int = option(10, minimum=1)  # queries shown per cluster
    summary_run_id: str | None = option()
    alias: str | None = option()
    max_query_chars: int = 400  # each query shown is cut to this

    def check(self) -> None:
        super().check()
        if not self.model:
            raise UsageError("--judge MODEL is required (e.g. openai/gpt-4o-mini, ollama/llama3)")


@functools.cache
def verdict_model() -> Any:
    """The answer's shape (pydantic, built on first use: the CLI does not pay for it at start)."""
    from pydantic import BaseModel, Field

    class TitleVerdict(BaseModel):
        title_fits: bool = Field(description="The title names what most sampled requests ask.")
        description_fits: bool = Field(description="The description is true of most requests.")
        reason: str = Field(description="One short sentence.")

    return TitleVerdict


def build_messages(title: str, description: str, queries: list[str]) -> list[dict[str, str]]:
    """The question for one cluster; every untrusted text escaped inside its tag."""
    shown = "\n".join(f"<query>{html.escape(q, quote=False)}</query>" for q in queries)
    user = (
        f"<title>{html.escape(title, quote=False)}</title>\n"
        f"<description>{html.escape(description, quote=False)}</description>\n"
        f"<queries>\n{shown}\n</queries>\n"
        "Does the title accurately name what these requests are about? Is the description "
        "accurate for them? Answer for each separately."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _samples(
    store: Store, run_id: str, cluster_ids: list[int], opts: JudgeOptions
) -> dict[int, list[str]]:
    from lmsys_tui.core.store import queries, sql
    from lmsys_tui.core.summarize.sampling import member_ranking, sample_ids

    out = {}
    with sql.connection(store) as conn:
        for cid in cluster_ids:
            ids = sample_ids(
                member_ranking(conn, run_id, cid), opts.sample, f"judge:{run_id}:{cid}"
            )
            texts = queries.clipped_texts(conn, ids, opts.max_query_chars)
            out[cid] = [texts[i][0] for i in ids if i in texts and texts[i][0].strip()]
    return out


def judge_titles(
    store: Store,
    run_id: str,
    opts: JudgeOptions,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> dict[str, Any]:
    """Ask the judge about every summarised cluster of one pass; the accurate shares."""
    from lmsys_tui.core.cluster.runs import load_run
    from lmsys_tui.core.llm.probe import probe
    from lmsys_tui.core.llm.providers import resolve_model
    from lmsys_tui.core.summarize.passes import summaries_for_pass

    opts.check()
    load_run(store, run_id)
    spec = resolve_model(opts.model, opts.base_url)
    if spec.offline:
        raise UsageError("--judge needs a model: the offline summariser cannot judge titles")
    srid, summaries = summaries_for_pass(store, run_id, opts.alias, opts.summary_run_id)
    done = {c: s for c, s in summaries.items() if s["status"] == "done" and s["title"]}
    if srid is None or not done:
        raise NotFoundError(f"run {run_id!r} has no finished summaries to judge (`summarize`)")
    probe(spec)
    samples = _samples(store, run_id, sorted(done), opts)
    # a cluster curation emptied (its queries moved away) has nothing to show: not asked
    empty = [{"cluster_id": c, "title": done[c]["title"], "error": SKIPPED}
             for c in sorted(done) if not samples[c]]  # fmt: skip
    asked = {c: s for c, s in done.items() if samples[c]}
    verdicts = asyncio.run(_ask_all(store, spec, run_id, opts, asked, samples, progress, cancelled))
    judged = [v for v in verdicts if "error" not in v]
    result: dict[str, Any] = {
        "run_id": run_id,
        "summary_run_id": srid,
        "judge": spec.model,
        "clusters": len(verdicts) + len(empty),
        "judged": len(judged),
        "failed": len(verdicts) - len(judged),
        "skipped": len(empty),
    }
    verdicts = sorted(verdicts + empty, key=lambda v: v["cluster_id"])
    for key, test in (
        ("accurate_share", lambda v: v["title_fits"] and v["description_fits"]),
        ("title_share", lambda v: v["title_fits"]),
        ("description_share", lambda v: v["description_fits"]),
    ):
        result[key] = round(sum(bool(test(v)) for v in judged) / len(judged), 4) if judged else None
    return result | {"verdicts": verdicts}


def summary_line(data: dict[str, Any]) -> str:
    """The figure in one line (the TUI's job message, the table's footer)."""
    share = data["accurate_share"]
    shown = "-" if share is None else f"{share:.1%}"
    failed = f"; {data['failed']} failed" if data["failed"] else ""
    failed += f"; {data['skipped']} empty, not asked" if data.get("skipped") else ""
    return (
        f"accurate (title and description fit): {shown} of {data['judged']} clusters"
        f" judged by {data['judge']}{failed}"
    )


async def _ask_all(
    store: Store,
    spec: Any,
    run_id: str,
    opts: JudgeOptions,
    done: dict[int, dict[str, Any]],
    samples: dict[int, list[str]],
    progress: Progress,
    cancelled: CancelCheck,
) -> list[dict[str, Any]]:
    from lmsys_tui.core.llm.clients import CallFailed, LLMSession, run_tasks

    out: dict[int, dict[str, Any]] = {}
    answer_type = verdict_model()
    async with LLMSession.for_stage(store, spec, STAGE, run_id, opts) as session:

        async def one(cid: int) -> None:
            row = done[cid]
            verdict: dict[str, Any] = {"cluster_id": cid, "title": row["title"]}
            messages = build_messages(row["title"], row["description"] or "", samples[cid])
            try:
                answer = await session.ask(messages, answer_type)
            except CallFailed as exc:
                verdict["error"] = exc.message
            else:
                verdict |= {
                    "title_fits": bool(answer.title_fits),
                    "description_fits": bool(answer.description_fits),
                    "reason": " ".join(answer.reason.split())[:300],
                }
            out[cid] = verdict

        await run_tasks(
            [one(c) for c in sorted(done)], session, progress, cancelled, "judging cancelled"
        )
    return [out[c] for c in sorted(out)]
