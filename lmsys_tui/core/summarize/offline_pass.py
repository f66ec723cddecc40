"""The pass with no model: c-TF-IDF keywords and the most central queries, deterministic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmsys_tui.errors import Cancelled

if TYPE_CHECKING:
    from lmsys_tui.core.summarize.options import SummarizeResult
    from lmsys_tui.core.summarize.passes import SummaryPass
    from lmsys_tui.core.summarize.sampling import Job
    from lmsys_tui.stage import CancelCheck, Progress

BATCH = 200  # clusters between two cancel checks and progress reports


def offline_pass(
    summary_pass: SummaryPass,
    jobs: list[Job],
    result: SummarizeResult,
    progress: Progress,
    cancelled: CancelCheck,
    done: set[int] | None = None,
) -> None:
    """Summaries made without a model, each committed as it is made: phrase titles
    (`cluster.phrases`), with the c-TF-IDF keywords kept for coherence and search.

    A title depends on the other clusters (phrases scored across them, no title given twice),
    so `jobs` holds every cluster of the pass; those `done` before a kill are titled again, to
    the same result, and not saved twice."""
    from lmsys_tui.core.cluster.phrases import cluster_phrases, title_from
    from lmsys_tui.core.llm import offline

    done = done or set()
    needs = {j.cluster_id: j.sample for j in jobs if not j.keywords}
    computed = offline.ctfidf_keywords(needs) if needs else {}
    texts = {j.cluster_id: j.sample for j in jobs}
    phrases = cluster_phrases(summary_pass.store, summary_pass.run_id, texts) if jobs else {}
    used: set[str] = set()  # titles given in this pass, lower case
    for start in range(0, len(jobs), BATCH):
        if cancelled():
            raise Cancelled(
                f"summarize cancelled after {result.done} clusters;"
                f" --resume {summary_pass.summary_run_id}"
            )
        for job in jobs[start : start + BATCH]:
            keywords = job.keywords or computed.get(job.cluster_id, [])
            found = phrases.get(job.cluster_id, [])
            title = title_from(found, job.sample)
            if title.lower() in used:  # two "Python code" clusters: the next phrase tells apart
                other = [p for p in found if not set(p.split()) & set(title.lower().split())]
                title = f"{title}: {other[0]}" if other else title
            used.add(title.lower())
            if job.cluster_id in done:
                continue
            s = offline.phrase_summary(
                found, title, keywords, job.sample[0::2][:3], job.size, job.sample
            )
            summary_pass.save(
                job,
                title=s.title,
                description=s.description,
                coherence=s.coherence,
                params={
                    "sample": len(job.sample),
                    "keywords": keywords[:10],
                    "phrases": found[:10],
                    "contrast": [c[0] for c in job.contrast],
                },
            )
            result.done += 1
        progress(result.done, len(jobs) - len(done), "offline")
