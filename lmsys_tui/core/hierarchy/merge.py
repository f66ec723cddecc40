"""The merge-clusters stage: levels chained into a tree, checkpointed, resumable.

Leaves are the run's clusters (noise left out) named by one summary pass. Level sizes come from
the data (`shape.choose_shape`: the best-scoring cuts of the leaves' agglomeration), unless
--top-nodes or --merge-ratio is given; each level is built by Clio with an LLM, or offline from
the cuts of that agglomeration when no key is set. An LLM level that does not shrink toward its
size (e.g. every child left its own parent) is rebuilt offline, and the result says which level
and why: a copy of the level below is never stored as a hierarchy.

Query counts roll up from the clusters to every node. A killed
or cancelled run is continued with `--resume HIER_ID`: finished levels are read back from the
checkpoint, the unfinished level resumes at its last step, and answers already paid for come
from the ledger. The inputs are read in `leaves`, the level loops and their checkpoint live in
`levels`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy import nodes as rows
from lmsys_tui.core.hierarchy.leaves import leaf_shape, load_leaves
from lmsys_tui.core.hierarchy.levels import llm_levels, offline_levels
from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.errors import Cancelled, LmsysError, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store


@dataclass
class MergeResult:
    hierarchy_run_id: str
    run_id: str
    summary_run_id: str | None
    model: str
    status: str
    schedule: list[int]
    levels: list[int] = field(default_factory=list)  # nodes per level actually built
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    unsummarised: int = 0
    vectors: str = "centroids"
    shape: dict[str, Any] = field(default_factory=dict)  # how the level sizes were chosen
    fallbacks: list[dict[str, Any]] = field(default_factory=list)  # LLM levels built offline
    llm: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""
    edits: dict[str, Any] | None = None  # curation replayed on the hierarchy (core/curate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _start(store: Store, run_id: str, opts: MergeOptions) -> tuple[str, dict[str, Any]]:
    """(hierarchy id, its row) for a resumed run; validates --resume."""
    row = rows.load_run(store, opts.resume or "")
    if row is None:
        raise NotFoundError(f"no hierarchy run {opts.resume!r} to resume")
    if row["run_id"] != run_id:
        raise UsageError(f"hierarchy run {opts.resume!r} belongs to run {row['run_id']!r}")
    return row["hierarchy_run_id"], row


def run_merge(
    store: Store,
    run_id: str,
    opts: MergeOptions | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> MergeResult:
    """Build (or resume) a hierarchy over the run's clusters."""
    from lmsys_tui.core.llm.probe import probe
    from lmsys_tui.core.llm.providers import resolve_model, resumed_url
    from lmsys_tui.core.summarize import load_run, summaries_for_pass

    opts = opts or MergeOptions()
    started = time.perf_counter()
    run = load_run(store, run_id)
    existing: dict[str, Any] | None = None
    if opts.resume:
        hier_id, existing = _start(store, run_id, opts)
        given_url = opts.base_url
        for key, value in (existing["parameters"] or {}).items():
            if key in opts.content_params():
                setattr(opts, key, value)
        opts.base_url = resumed_url(opts.base_url, given_url)
        opts.model = existing["model"]
        srid = existing["summary_run_id"]
    else:
        srid = None
    srid, summaries = summaries_for_pass(
        store, run_id, None if srid else opts.alias, srid or opts.summary_run_id
    )
    if srid is None:
        raise UsageError(f"run {run_id!r} has no summaries: run `summarize {run_id}` first")
    spec = resolve_model(opts.model, opts.base_url)
    probe(spec)  # a dead or refusing endpoint is one line, exit 4, before any pass row
    leaves, vectors, missing = load_leaves(store, run_id, summaries)
    shape = leaf_shape(leaves, vectors, opts)
    schedule = shape.sizes
    if existing is None:
        hier_id = rows.new_hierarchy_id(store, run_id)
        rows.create_run(
            store,
            hier_id,
            run_id,
            srid,
            spec.model,
            opts.content_params() | {"schedule": schedule, "shape": shape.to_dict()},
            leaves,
        )
    else:
        rows.finish_run(store, hier_id, "running", None, None)
    result = MergeResult(
        hier_id,
        run_id,
        srid,
        spec.model,
        "running",
        schedule,
        levels=[len(leaves)],
        unsummarised=missing,
        shape=shape.to_dict(),
    )
    checkpoint = dict((existing or {}).get("checkpoint") or {"levels_done": 0, "step": {}})
    try:
        if spec.offline:
            offline_levels(
                store,
                hier_id,
                run_id,
                leaves,
                vectors,
                schedule,
                checkpoint,
                result,
                progress,
                cancelled,
            )
        else:
            asyncio.run(
                llm_levels(
                    store,
                    run,
                    hier_id,
                    leaves,
                    vectors,
                    schedule,
                    checkpoint,
                    opts,
                    spec,
                    result,
                    progress,
                    cancelled,
                )
            )
    except (Cancelled, KeyboardInterrupt) as exc:
        result.status = "cancelled"
        msg = exc.message if isinstance(exc, Cancelled) else "interrupted"
        rows.finish_run(store, hier_id, "cancelled", f"{msg}; --resume {hier_id}", result.to_dict())
        raise
    except Exception as exc:
        message = exc.message if isinstance(exc, LmsysError) else f"{type(exc).__name__}: {exc}"
        result.status = "failed"
        rows.finish_run(
            store, hier_id, "failed", f"{message}; --resume {hier_id}", result.to_dict()
        )
        raise
    from lmsys_tui.core.curate.replay import replay_on_hierarchy

    result.edits = replay_on_hierarchy(store.path, run_id, hier_id)  # curation survives it
    result.status = "done"
    result.seconds = round(time.perf_counter() - started, 3)
    shape = " → ".join(str(n) for n in result.levels)
    result.message = f"hierarchy {hier_id}: {shape} nodes per level"
    if result.shape.get("score") is not None:
        result.message += f" (top chosen by {result.shape['method']}, {result.shape['score']:.2f})"
    for fb in result.fallbacks:
        result.message += f"; level {fb['level']} built offline: {fb['reason']}"
    if result.unplaced:
        result.message += f"; {len(result.unplaced)} children could not be placed (recorded)"
    rows.finish_run(store, hier_id, "done", None, result.to_dict())
    return result
