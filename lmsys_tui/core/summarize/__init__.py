"""The summarize stage: a title, a two-sentence description and a coherence score per cluster.

What it fixes in the reference: summaries are saved one by one as they arrive (a failure loses
nothing, and a cluster that still fails after retries is recorded as failed while the pass goes
on); `--rpm` and `--concurrency` are enforced by the LLM layer; contrastive examples come from
the clusters *nearest* by centroid, and the prompt says what they are; `--resume` continues a
pass, and identical prompts are answered from the ledger, so nothing is paid twice. With no key
the offline summariser (c-TF-IDF) does the same job.

Modules: `options` (what a pass is asked, what it reports), `sampling` (the queries sent per
cluster and its nearest neighbours' examples), `prompts` (the messages and the answer's model),
`passes` (pass rows: open, save, finish, which pass a reader means), `llm_pass` and
`offline_pass` (the two ways to summarise), `index` (summaries into Chroma), `stage`
(`run_summarize`, the whole pass). SDKs, numpy and Chroma are imported only when used, and
the package loads each name's module when it is first used: importing `options` (the CLI
does at start) loads nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsys_tui.core.cluster.runs import ClusterRow, load_clusters, load_run
    from lmsys_tui.core.summarize.index import index_summaries
    from lmsys_tui.core.summarize.options import SummarizeOptions, SummarizeResult
    from lmsys_tui.core.summarize.passes import resolve_pass, summaries_for_pass
    from lmsys_tui.core.summarize.prompts import (
        SYSTEM_PROMPT,
        ClusterSummaryAnswer,
        build_messages,
        clean_answer,
    )
    from lmsys_tui.core.summarize.sampling import (
        Job,
        budgeted,
        build_jobs,
        nearest_neighbours,
        sample_ids,
    )
    from lmsys_tui.core.summarize.stage import run_summarize

_HOMES = {
    "ClusterRow": "lmsys_tui.core.cluster.runs",
    "ClusterSummaryAnswer": "lmsys_tui.core.summarize.prompts",
    "Job": "lmsys_tui.core.summarize.sampling",
    "SYSTEM_PROMPT": "lmsys_tui.core.summarize.prompts",
    "SummarizeOptions": "lmsys_tui.core.summarize.options",
    "SummarizeResult": "lmsys_tui.core.summarize.options",
    "budgeted": "lmsys_tui.core.summarize.sampling",
    "build_jobs": "lmsys_tui.core.summarize.sampling",
    "build_messages": "lmsys_tui.core.summarize.prompts",
    "clean_answer": "lmsys_tui.core.summarize.prompts",
    "index_summaries": "lmsys_tui.core.summarize.index",
    "load_clusters": "lmsys_tui.core.cluster.runs",
    "load_run": "lmsys_tui.core.cluster.runs",
    "nearest_neighbours": "lmsys_tui.core.summarize.sampling",
    "resolve_pass": "lmsys_tui.core.summarize.passes",
    "run_summarize": "lmsys_tui.core.summarize.stage",
    "sample_ids": "lmsys_tui.core.summarize.sampling",
    "summaries_for_pass": "lmsys_tui.core.summarize.passes",
}

__all__ = [
    "SYSTEM_PROMPT",
    "ClusterRow",
    "ClusterSummaryAnswer",
    "Job",
    "SummarizeOptions",
    "SummarizeResult",
    "budgeted",
    "build_jobs",
    "build_messages",
    "clean_answer",
    "index_summaries",
    "load_clusters",
    "load_run",
    "nearest_neighbours",
    "resolve_pass",
    "run_summarize",
    "sample_ids",
    "summaries_for_pass",
]


def __getattr__(name: str) -> Any:
    """Load a public name's module when it is first used (see the module docstring)."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
