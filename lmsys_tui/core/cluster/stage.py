"""What every clustering run shares, around the algorithm-specific fit (the run template).

select queries -> `running` run row -> embed what is missing (the embedding stage; nothing is
embedded twice) -> read vectors from the embedding store -> fit + assign (algorithm) ->
c-TF-IDF keywords -> sampled silhouette -> publish everything and `done` in one transaction.
Vectors always come from the embedding store, never from the model again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.cluster import runs
from lmsys_tui.core.cluster.runs import ClusterResult, RunSummary
from lmsys_tui.errors import NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store

Fit = Callable[["np.ndarray", "np.ndarray", Progress, CancelCheck], ClusterResult]


@dataclass(frozen=True)
class EmbedOptions:
    """Which embedding space to cluster in, and how to fill it (reference option names)."""

    provider: str = "sentence-transformers"
    model: str | None = None  # None: the provider's default
    dimensions: int | None = None
    batch_size: int = 64
    backend: str = "auto"
    use_chroma: bool = False
    chroma_path: str | None = None
    chroma_host: str | None = None
    chroma_port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedding_provider": self.provider,
            "embedding_model": self.model,
            "dimensions": self.dimensions,
            "embed_batch_size": self.batch_size,
            "embed_backend": self.backend,
            "use_chroma": self.use_chroma,
        }


@dataclass(frozen=True)
class Selection:
    dataset: str | None = None
    limit: int | None = None


def _phase(progress: Progress, name: str) -> Progress:
    def report(done: int, total: int | None, note: str = "") -> None:
        progress(done, total, f"{name}: {note}" if note else name)

    return report


def _sync_chroma(store: Store, space: Any, query_ids: list[int] | None, opts: EmbedOptions) -> Any:
    """Put the run's queries into the space's Chroma collection from the embedding store."""
    from lmsys_tui.core import chroma

    return chroma.backfill(
        store,
        space,
        query_ids=query_ids,
        path=opts.chroma_path,
        host=opts.chroma_host,
        port=opts.chroma_port,
    )


def run_clustering(
    store: Store,
    *,
    algorithm: str,
    size: int,
    parameters: dict[str, Any],
    fit: Fit,
    selection: Selection = Selection(),
    embed_opts: EmbedOptions = EmbedOptions(),
    description: str | None = None,
    random_state: int = 42,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> RunSummary:
    """Run one clustering end to end; the run row records how it ended."""
    from lmsys_tui.core.cluster.keywords import cluster_keywords
    from lmsys_tui.core.cluster.metrics import sampled_silhouette, size_stats
    from lmsys_tui.core.embed import embed_queries, load_vectors, resolve_space

    started = time.perf_counter()
    space = resolve_space(embed_opts.provider, embed_opts.model, embed_opts.dimensions)
    dataset_id = runs.dataset_id_for(store, selection.dataset) if selection.dataset else None
    query_ids = runs.select_query_ids(store, dataset_id, selection.limit)
    available = len(query_ids) if query_ids is not None else runs.count_queries(store)
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
        algorithm=algorithm,
        size=size,
        num_clusters=parameters.get("n_clusters"),
        dataset_id=dataset_id,
        space=space.to_dict(),
        parameters=all_parameters,
        description=description,
    )
    with runs.guarded_run(store, run_id):
        embedded = embed_queries(
            store,
            space,
            query_ids,
            batch_size=embed_opts.batch_size,
            backend=embed_opts.backend,
            progress=_phase(progress, "embed"),
            cancelled=cancelled,
        )
        ids, X = load_vectors(store, space, query_ids)
        if len(ids) == 0:
            raise UsageError("none of the selected queries has an embeddable text")
        chroma_info = None
        if embed_opts.use_chroma:
            chroma_info = _sync_chroma(store, space, query_ids, embed_opts)
        result = fit(ids, X, _phase(progress, "fit"), cancelled)
        progress(0, None, "keywords: c-TF-IDF")
        result.keywords, kw_info = cluster_keywords(
            store, result.ids, result.labels, random_state=random_state
        )
        result.metrics |= sampled_silhouette(X, result.labels, random_state=random_state)
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
            chunk_size=int(parameters.get("chunk_size") or 5000),
            progress=_phase(progress, "write"),
            cancelled=cancelled,
        )
    found = len(set(result.labels.tolist()) - {-1})
    seconds = round(time.perf_counter() - started, 3)
    return RunSummary(
        run_id=run_id,
        algorithm=algorithm,
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
