"""The summarize stage: one pass over a run's clusters, new or resumed, from start to end.

Sampling first (nothing is asked yet), then the LLM or the offline pass, then optionally the
Chroma index; the pass row records how it ended whatever happens, and the result says how to
continue a pass that did not finish.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lmsys_tui.core.cluster.runs import load_clusters, load_run
from lmsys_tui.core.summarize.options import SummarizeOptions, SummarizeResult
from lmsys_tui.core.summarize.passes import open_pass, resumed_model
from lmsys_tui.core.summarize.sampling import build_jobs
from lmsys_tui.errors import Cancelled, LmsysError, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store


def run_summarize(
    store: Store,
    run_id: str,
    opts: SummarizeOptions | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> SummarizeResult:
    """Summarise the run's clusters into one summary pass (new, or resumed)."""
    from lmsys_tui.core.curate.replay import replay_on_pass
    from lmsys_tui.core.llm.probe import probe
    from lmsys_tui.core.llm.providers import resolve_model
    from lmsys_tui.core.summarize.index import index_summaries
    from lmsys_tui.core.summarize.llm_pass import llm_pass
    from lmsys_tui.core.summarize.offline_pass import offline_pass

    opts = opts or SummarizeOptions()
    opts.check()
    started = time.perf_counter()
    run = load_run(store, run_id)
    if opts.use_chroma:
        # fail before paying for anything: the run must record a space, Chroma must open
        from lmsys_tui.core.store.vectors import open_chroma

        if not run["embedding_dim"]:
            raise UsageError(f"run {run_id!r} records no embedding space: --use-chroma needs it")
        open_chroma(opts.chroma_path, opts.chroma_host, opts.chroma_port)
    if opts.resume:
        opts.model = resumed_model(store, opts.resume)
    spec = resolve_model(opts.model, opts.base_url)
    probe(spec)  # a dead or refusing endpoint is one line, exit 4, before any pass row
    clusters = load_clusters(store, run_id)
    if not clusters:
        raise UsageError(f"run {run_id!r} has no clusters")
    summary_pass, done_before = open_pass(store, run_id, opts, spec)
    srid = summary_pass.summary_run_id
    known = {c.cluster_id for c in clusters}
    wanted = opts.cluster_ids or [c.cluster_id for c in clusters if c.cluster_id >= 0]
    missing = [c for c in wanted if c not in known]
    if missing:
        summary_pass.finish("failed", f"no cluster {missing[0]} in run", {})
        raise NotFoundError(f"run {run_id!r} has no cluster {missing[0]}")
    todo = [c for c in wanted if c not in done_before]
    result = SummarizeResult(
        srid, run_id, summary_pass.alias, spec.model, "running", len(todo), 0, 0,
        len(wanted) - len(todo),
    )  # fmt: skip
    try:
        progress(0, len(todo), "sampling")
        phase = time.perf_counter()
        # offline titles are judged against every cluster of the pass (c-TF-IDF phrases, no
        # title twice): a resumed pass samples them all again so it titles as one run would
        sampled = wanted if spec.offline else todo
        jobs = build_jobs(store, run_id, clusters, sampled, opts, cancelled)
        result.timings["sampling"] = round(time.perf_counter() - phase, 3)
        phase = time.perf_counter()
        if spec.offline:
            offline_pass(summary_pass, jobs, result, progress, cancelled, done_before)
        else:
            asyncio.run(llm_pass(summary_pass, spec, jobs, opts, result, progress, cancelled))
        result.timings["offline" if spec.offline else "llm"] = round(time.perf_counter() - phase, 3)
    except Cancelled as exc:
        result.status = "cancelled"
        result.seconds = round(time.perf_counter() - started, 3)
        summary_pass.finish("cancelled", exc.message, result.to_dict())
        raise
    except KeyboardInterrupt:
        result.status = "cancelled"
        summary_pass.finish("cancelled", "interrupted", result.to_dict())
        raise
    except Exception as exc:
        message = exc.message if isinstance(exc, LmsysError) else f"{type(exc).__name__}: {exc}"
        result.status = "failed"
        summary_pass.finish("failed", message, result.to_dict())
        raise
    result.edits = replay_on_pass(store.path, run_id, srid)  # curation survives a new pass
    if opts.use_chroma:
        result.chroma = index_summaries(
            store,
            run_id,
            srid,
            chroma_path=opts.chroma_path,
            chroma_host=opts.chroma_host,
            chroma_port=opts.chroma_port,
            backend=opts.embed_backend,
        )
    result.seconds = round(time.perf_counter() - started, 3)
    result.status = "done"
    error = None
    if result.failed:
        error = f"{result.failed} of {len(wanted)} clusters failed; retry them with --resume {srid}"
    result.message = error or (
        f"summarised {result.done} clusters into pass {srid}"
        + (f" ({result.skipped} were already done)" if result.skipped else "")
    )
    summary_pass.finish("done", error, result.to_dict())
    return result
