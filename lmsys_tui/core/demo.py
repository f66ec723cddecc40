"""The demo in one call: load → embed + cluster → summarize → merge, reusing what exists.

`lmsys-tui demo` (the TUI, on its pipeline screen) and `lmsys-tui --headless demo` both call
`run_demo`, so the demo is the same code either way. Each stage is the real one (the same
functions the single-stage commands call), and a stage whose result is already in the store is
reused instead of redone: running the demo again opens what the first run built, and a demo
that was cancelled half-way continues from the last finished stage (the embedding stage itself
also keeps every vector it computed).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.core.options import Options, option
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

STAGES = ("load", "cluster", "summarize", "merge")
OFFLINE = "offline"


def default_clusters(n_queries: int) -> int:
    """About sqrt(n/2) clusters (3,000 queries → 39), between 4 and 200."""
    return max(4, min(200, round(math.sqrt(max(n_queries, 1) / 2))))


@dataclass
class DemoOptions(Options):
    source: str = "sharegpt"
    limit: int | None = option(3000, minimum=1)
    label: str | None = None  # dataset label (default: the source's)
    n_clusters: int | None = option(minimum=2)  # default: default_clusters(limit)
    model: str = option(OFFLINE)  # summaries and hierarchy; offline needs no key, no network
    target_levels: int = option(MergeOptions.target_levels, minimum=2)
    embed_backend: str = "auto"
    fresh: bool = option(False)  # redo every stage instead of reusing what the store has


@dataclass
class DemoResult:
    dataset: str
    run_id: str | None = None
    summary_run_id: str | None = None
    hierarchy_run_id: str | None = None
    queries: int = 0
    clusters: int = 0
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # where the time went
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stage(progress: Progress, index: int, name: str) -> Progress:
    prefix = f"{index}/{len(STAGES)} {name}"

    def report(done: int, total: int | None, note: str = "") -> None:
        progress(done, total, f"{prefix}: {note}" if note else prefix)

    return report


def _loaded(store: Store, label: str) -> int | None:
    """Queries of a finished dataset `label`, None when there is none."""
    from lmsys_tui.core.store import sql

    with sql.connection(store) as conn:
        row = sql.one(
            conn,
            "SELECT (SELECT COUNT(*) FROM queries q WHERE q.dataset_id = d.id) AS n"
            " FROM datasets d WHERE d.label = ? AND d.status = 'done'",
            (label,),
        )
    return int(row["n"]) if row else None


def _finished_run(store: Store, label: str, limit: int | None, k: int) -> tuple[str, int] | None:
    """The newest finished k-means run over the same selection with the same k."""
    from lmsys_tui.core.store import sql

    with sql.connection(store) as conn:
        found = sql.tuples(
            conn,
            "SELECT run_id, parameters, num_clusters FROM clustering_runs"
            " WHERE algorithm = 'kmeans' AND status = 'done' ORDER BY created_at DESC, rowid DESC",
        )
    for run_id, params, n in found:
        p = sql.loads(params, {})
        if p.get("dataset") == label and p.get("limit") == limit and p.get("n_clusters") == k:
            return str(run_id), int(n or 0)
    return None


def _finished_pass(store: Store, run_id: str, model: str) -> str | None:
    from lmsys_tui.core.store import sql

    with sql.connection(store) as conn:
        passes = sql.tuples(
            conn,
            "SELECT summary_run_id, model FROM summary_runs WHERE run_id = ? AND status = 'done'"
            " AND error IS NULL ORDER BY created_at DESC, rowid DESC",
            (run_id,),
        )
    for srid, used in passes:
        if used == model or (model == OFFLINE and str(used).startswith(OFFLINE)):
            return str(srid)
    return None


def _finished_hierarchy(store: Store, run_id: str, summary_run_id: str) -> str | None:
    from lmsys_tui.core.store import sql

    with sql.connection(store) as conn:
        return sql.scalar(
            conn,
            "SELECT hierarchy_run_id FROM hierarchy_runs WHERE run_id = ? AND summary_run_id = ?"
            " AND status = 'done' ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (run_id, summary_run_id),
        )


def run_demo(
    store: Store,
    opts: DemoOptions | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> DemoResult:
    """Load, cluster, summarize and merge; each stage reused when the store already has it."""
    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.cluster.options import EmbedOptions, Selection
    from lmsys_tui.core.hierarchy.merge import run_merge
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.registry import open_source
    from lmsys_tui.core.sources.spec import SourceSpec
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    opts = opts or DemoOptions()
    reuse = not opts.fresh
    started = time.perf_counter()
    info, items = open_source(SourceSpec(source=opts.source))
    label = opts.label or info.default_label
    result = DemoResult(dataset=label)

    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        result.stage_seconds[name] = round(now - clock[0], 3)
        clock[0] = now

    have = _loaded(store, label) if reuse else None
    if have is not None and (opts.limit is None or have >= opts.limit):
        result.reused.append("load")
        _stage(progress, 1, "load")(have, have, f"{have:,} queries already loaded")
    else:
        run_load(
            store,
            items,
            info,
            label=label,
            limit=opts.limit,
            progress=_stage(progress, 1, "load"),
            cancelled=cancelled,
        )
    lap("load")
    n = _loaded(store, label) or 0
    result.queries = min(n, opts.limit) if opts.limit else n
    k = opts.n_clusters or default_clusters(result.queries)

    found = _finished_run(store, label, opts.limit, k) if reuse else None
    if found is not None:
        result.run_id, result.clusters = found
        result.reused.append("cluster")
    else:
        summary = run_kmeans(
            store,
            KMeansParams(n_clusters=min(k, max(2, result.queries))),
            selection=Selection(dataset=label, limit=opts.limit),
            embed_opts=EmbedOptions(embed_backend=opts.embed_backend),
            description="demo" if opts.source == "sharegpt" else None,
            progress=_stage(progress, 2, "cluster"),
            cancelled=cancelled,
        )
        result.run_id, result.clusters = summary.run_id, summary.num_clusters
    assert result.run_id is not None
    lap("cluster")

    srid = _finished_pass(store, result.run_id, opts.model) if reuse else None
    if srid is not None:
        result.reused.append("summarize")
    else:
        srid = run_summarize(
            store,
            result.run_id,
            SummarizeOptions(model=opts.model),
            progress=_stage(progress, 3, "summarize"),
            cancelled=cancelled,
        ).summary_run_id
    result.summary_run_id = srid
    lap("summarize")

    hier = _finished_hierarchy(store, result.run_id, srid) if reuse else None
    if hier is not None:
        result.reused.append("merge")
    elif result.clusters >= 2:
        hier = run_merge(
            store,
            result.run_id,
            MergeOptions(summary_run_id=srid, model=opts.model, target_levels=opts.target_levels),
            progress=_stage(progress, 4, "merge"),
            cancelled=cancelled,
        ).hierarchy_run_id
    result.hierarchy_run_id = hier
    lap("merge")
    result.seconds = round(time.perf_counter() - started, 3)
    reused = f" (reused: {', '.join(result.reused)})" if result.reused else ""
    result.message = (
        f"{result.queries:,} queries of {label!r} in {result.clusters} clusters, run"
        f" {result.run_id}, hierarchy {hier or 'none'}{reused}"
    )
    return result
