"""What every clustering run shares, around the algorithm-specific fit (the run template).

select queries -> `running` run row -> embed what is missing (the embedding stage; nothing is
embedded twice) -> read vectors from the embedding store -> fit + assign (algorithm) ->
c-TF-IDF keywords -> sampled silhouette -> publish everything and `done` in one transaction.
Vectors always come from the embedding store, never from the model again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from lmsys_tui.core.cluster import runs
from lmsys_tui.core.cluster.options import EmbedOptions, Selection
from lmsys_tui.core.cluster.runs import ClusterResult, RunSummary
from lmsys_tui.core.store.queries import count_queries, select_query_ids
from lmsys_tui.errors import NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from lmsys_tui.core.chroma import BackfillSummary
    from lmsys_tui.core.embed import EmbedSummary
    from lmsys_tui.core.store.db import Store


class Algorithm(Protocol):
    """What a run needs from an algorithm's options (`KMeansParams`, `HdbscanParams`)."""

    algorithm: ClassVar[str]
    random_state: int
    chunk_size: int

    @property
    def size(self) -> int:
        """The number that names the run: k, or the minimum cluster size."""
        ...

    def to_dict(self) -> dict[str, Any]: ...

    def fit(
        self, ids: np.ndarray, X: np.ndarray, progress: Progress, cancelled: CancelCheck
    ) -> ClusterResult:
        """Cluster the rows of X (ids in the same order); labels, distances and centroids."""
        ...


def _phase(progress: Progress, name: str) -> Progress:
    def report(done: int, total: int | None, note: str = "") -> None:
        progress(done, total, f"{name}: {note}" if note else name)

    return report


def selected_ids(store: Store, selection: Selection) -> list[int] | None:
    """The selected queries' ids (None: every query); NotFoundError when there are none."""
    from lmsys_tui.core.embed import select_query_ids

    ids = select_query_ids(store, selection.dataset, selection.limit)
    if ids is not None and not ids:
        where = f"dataset {selection.dataset!r}" if selection.dataset else "the store"
        raise NotFoundError(f"no queries in {where}; run load first")
    return ids


def embed_selection(
    store: Store,
    space: Any,
    query_ids: list[int] | None,
    opts: EmbedOptions,
    *,
    cache_dir: Path | None = None,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> tuple[EmbedSummary, BackfillSummary | None]:
    """Embed what the selected queries lack in `space` (nothing twice); with `use_chroma`,
    also put them in the space's Chroma collection from the stored vectors. `embed`, the TUI's
    embed job and every clustering run call this."""
    from lmsys_tui.core import chroma
    from lmsys_tui.core.embed import embed_queries

    embedded = embed_queries(
        store,
        space,
        query_ids,
        batch_size=opts.embed_batch_size,
        backend=opts.embed_backend,
        progress=progress,
        cancelled=cancelled,
        cache_dir=cache_dir,
        device=opts.embed_device,
    )
    if not opts.use_chroma:
        return embedded, None
    synced = chroma.backfill(
        store,
        space,
        query_ids=query_ids,
        path=opts.chroma_path,
        host=opts.chroma_host,
        port=opts.chroma_port,
    )
    return embedded, synced


def run_clustering(
    store: Store,
    params: Algorithm,
    *,
    selection: Selection | None = None,
    embed_opts: EmbedOptions | None = None,
    description: str | None = None,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> RunSummary:
    """Run one clustering end to end; the run row records how it ended."""
    from lmsys_tui.core.cluster.keywords import cluster_keywords
    from lmsys_tui.core.cluster.metrics import sampled_silhouette, size_stats
    from lmsys_tui.core.embed import load_vectors

    selection = selection or Selection()
    embed_opts = embed_opts or EmbedOptions()
    parameters = params.to_dict()
    started = time.perf_counter()
    space = embed_opts.space()
    dataset_id = runs.dataset_id_for(store, selection.dataset) if selection.dataset else None
    query_ids = select_query_ids(store, selection.dataset, selection.limit)
    available = len(query_ids) if query_ids is not None else count_queries(store)
    if available == 0:
        where = f"dataset {selection.dataset!r}" if selection.dataset else "the store"
        raise NotFoundError(f"no queries to cluster in {where}; run load first")
    all_parameters = (
        parameters
        | embed_opts.to_dict()
        | {
            "dataset": selection.dataset,
            "limit": selection.limit,
        }
    )
    run_id = runs.start_run(
        store,
        algorithm=params.algorithm,
        size=params.size,
        num_clusters=parameters.get("n_clusters"),
        dataset_id=dataset_id,
        space=space.to_dict(),
        parameters=all_parameters,
        description=description,
    )
    with runs.guarded_run(store, run_id):
        embedded, chroma_info = embed_selection(
            store,
            space,
            query_ids,
            embed_opts,
            progress=_phase(progress, "embed"),
            cancelled=cancelled,
        )
        ids, X = load_vectors(store, space, query_ids)
        if len(ids) == 0:
            raise UsageError("none of the selected queries has an embeddable text")
        result = params.fit(ids, X, _phase(progress, "fit"), cancelled)
        progress(0, None, "keywords: c-TF-IDF")
        result.keywords, kw_info = cluster_keywords(
            store, result.ids, result.labels, random_state=params.random_state
        )
        result.metrics |= sampled_silhouette(X, result.labels, random_state=params.random_state)
        result.metrics |= size_stats(result.labels)
        result.metrics |= {
            "n_queries": len(ids),
            "not_embeddable": available - len(ids),
            "keywords": kw_info,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if chroma_info is not None:
            result.metrics["chroma"] = _jsonable(chroma_info)
        runs.publish(
            store,
            run_id,
            result,
            embedding_dim=int(X.shape[1]),
            chunk_size=params.chunk_size,
            progress=_phase(progress, "write"),
            cancelled=cancelled,
        )
    found = len(set(result.labels.tolist()) - {-1})
    seconds = round(time.perf_counter() - started, 3)
    return RunSummary(
        run_id=run_id,
        algorithm=params.algorithm,
        status="done",
        num_clusters=found,
        n_queries=len(ids),
        embedding=space.to_dict() | {"dim": int(X.shape[1])},
        embedded=_jsonable(embedded),
        parameters=all_parameters,
        metrics=result.metrics,
        seconds=seconds,
        message=f"{run_id}: {len(ids):,} queries in {found} clusters in {seconds:.1f}s",
    )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return value
