"""`cluster kmeans` and `cluster hdbscan`: option names and defaults as in the reference CLI.

Both embed whatever the selected queries still lack (nothing twice), then cluster the stored
vectors. Extra options (`--random-state`, `--max-iter`, `--n-init`, `--fit-sample`,
`--reduce-dims`, ...) expose what the reference fixed or silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    Backend,
    ChromaHost,
    ChromaPath,
    ChromaPort,
    DbPath,
    Dimensions,
    EmbedBatch,
    Json,
    Model,
    Provider,
    UseChroma,
    Xml,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings

Description = Annotated[str, typer.Option(help="Description of this clustering run.")]
Dataset = Annotated[
    str | None, typer.Option("--dataset", help="Only queries of this dataset label.")
]
Limit = Annotated[
    int | None, typer.Option(help="Cluster only the first N queries (by id) of the selection.")
]
ChunkSize = Annotated[
    int, typer.Option(help="Rows per unit of work: progress/cancel checks, assignment, writes.")
]
RandomState = Annotated[int, typer.Option(help="Seed: same seed + same data = same run.")]


def _embed_opts(
    provider: str,
    model: str | None,
    batch: int,
    dimensions: int | None,
    backend: str,
    use_chroma: bool,
    chroma_path: Path | None,
    chroma_host: str | None,
    chroma_port: int | None,
) -> Any:
    from lmsys_tui.core.cluster.runs import require_positive
    from lmsys_tui.core.cluster.stage import EmbedOptions

    require_positive(embed_batch_size=batch, dimensions=dimensions)
    return EmbedOptions(
        provider=provider,
        model=model or None,
        dimensions=dimensions,
        batch_size=batch,
        backend=backend,
        use_chroma=use_chroma,
        chroma_path=str(chroma_path) if chroma_path else None,
        chroma_host=chroma_host,
        chroma_port=chroma_port,
    )


def _cluster(
    run: Any,
    params: Any,
    label: str,
    selection: Any,
    opts: Any,
    description: str,
    db_path: Path | None,
) -> Any:
    """Open the store, run one clustering stage with progress on stderr, close the store."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.store.db import open_store

    store = open_store(load_settings(db_path, opts.chroma_path).db)
    try:
        with stderr_progress(label) as progress:
            return run(
                store,
                params,
                selection=selection,
                embed_opts=opts,
                description=description,
                progress=progress,
            )
    finally:
        store.close()


def _report(summary: Any, json_out: bool, xml_out: bool) -> None:
    data = summary.to_dict()
    if not json_out and not xml_out:
        note(summary.message)
    m = data["metrics"]
    rows = [
        ("run_id", data["run_id"]),
        ("algorithm", data["algorithm"]),
        ("clusters", data["num_clusters"]),
        ("queries", data["n_queries"]),
        ("embedded now", (data["embedded"] or {}).get("embedded")),
        ("embedding", data["embedding"].get("key")),
    ]
    for key in ("inertia", "epochs", "converged", "noise_fraction", "silhouette", "seconds"):
        if key in m:
            rows.append((key, m[key]))
    emit(
        data,
        as_json=json_out,
        as_xml=xml_out,
        root="run",
        table=lambda: emit_table("Clustering run", ["field", "value"], rows),
    )


@handled
def kmeans(
    n_clusters: Annotated[int, typer.Option(help="Number of clusters.")] = 200,
    description: Description = "",
    dataset: Dataset = None,
    limit: Limit = None,
    mb_batch_size: Annotated[int, typer.Option(help="MiniBatchKMeans mini-batch size.")] = 4096,
    chunk_size: ChunkSize = 5000,
    max_iter: Annotated[
        int, typer.Option(help="Most epochs (full shuffled passes); stops earlier on convergence.")
    ] = 30,
    n_init: Annotated[int, typer.Option(help="k-means++ seedings tried; the best is kept.")] = 1,
    tol: Annotated[
        float, typer.Option(help="Stop when an epoch improves inertia by less than this share.")
    ] = 1e-3,
    random_state: RandomState = 42,
    use_chroma: UseChroma = False,
    embedding_provider: Provider = "sentence-transformers",
    embedding_model: Model = None,
    embed_batch_size: EmbedBatch = 64,
    dimensions: Dimensions = None,
    embed_backend: Backend = "auto",
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Run MiniBatchKMeans clustering (shuffled epochs until it converges)."""
    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.cluster.runs import require_positive
    from lmsys_tui.core.cluster.stage import Selection

    require_positive(limit=limit)
    params = KMeansParams(
        n_clusters=n_clusters,
        mb_batch_size=mb_batch_size,
        chunk_size=chunk_size,
        max_iter=max_iter,
        n_init=n_init,
        random_state=random_state,
        tol=tol,
    )
    params.check()
    opts = _embed_opts(
        embedding_provider,
        embedding_model,
        embed_batch_size,
        dimensions,
        embed_backend,
        use_chroma,
        chroma_path,
        chroma_host,
        chroma_port,
    )
    summary = _cluster(
        run_kmeans,
        params,
        f"cluster kmeans k={n_clusters}",
        Selection(dataset, limit),
        opts,
        description,
        db_path,
    )
    _report(summary, json_out, xml_out)


@handled
def hdbscan(
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN minimum cluster size.")] = 25,
    min_samples: Annotated[
        int | None,
        typer.Option(
            help="HDBSCAN min_samples: lower = less noise (0 = same as --min-cluster-size)."
        ),
    ] = 2,
    epsilon: Annotated[float, typer.Option(help="HDBSCAN cluster_selection_epsilon.")] = 0.0,
    metric: Annotated[
        str,
        typer.Option(help="cosine (default) | euclidean | manhattan | chebyshev."),
    ] = "cosine",
    selection: Annotated[
        str, typer.Option(help="Cluster selection: leaf (finer, default) or eom.")
    ] = "leaf",
    fit_sample: Annotated[
        int,
        typer.Option(help="Fit on at most this many random rows; predict the rest."),
    ] = 100_000,
    reduce_dims: Annotated[
        int, typer.Option(help="Reduce to this many dimensions first (0 = raw vectors).")
    ] = 50,
    reducer: Annotated[
        str, typer.Option(help="auto (UMAP if installed, else PCA) | pca | umap | none.")
    ] = "auto",
    description: Description = "",
    dataset: Dataset = None,
    limit: Limit = None,
    chunk_size: ChunkSize = 5000,
    random_state: RandomState = 42,
    use_chroma: UseChroma = False,
    embedding_provider: Provider = "sentence-transformers",
    embedding_model: Model = None,
    embed_batch_size: EmbedBatch = 64,
    dimensions: Dimensions = None,
    embed_backend: Backend = "auto",
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Run HDBSCAN clustering after dimension reduction (noise kept as cluster -1)."""
    from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan
    from lmsys_tui.core.cluster.runs import require_positive
    from lmsys_tui.core.cluster.stage import Selection

    require_positive(limit=limit)
    params = HdbscanParams(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples or None,
        epsilon=epsilon,
        metric=metric.lower(),
        selection=selection.lower(),
        fit_sample=fit_sample,
        reduce_dims=reduce_dims,
        reducer=reducer.lower(),
        random_state=random_state,
        chunk_size=chunk_size,
    )
    params.check()
    opts = _embed_opts(
        embedding_provider,
        embedding_model,
        embed_batch_size,
        dimensions,
        embed_backend,
        use_chroma,
        chroma_path,
        chroma_host,
        chroma_port,
    )
    summary = _cluster(
        run_hdbscan,
        params,
        f"cluster hdbscan min_cluster_size={min_cluster_size}",
        Selection(dataset, limit),
        opts,
        description,
        db_path,
    )
    _report(summary, json_out, xml_out)
