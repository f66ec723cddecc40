"""`cluster kmeans` and `cluster hdbscan`: option names and defaults as in the reference CLI.

Both embed whatever the selected queries still lack (nothing twice), then cluster the stored
vectors. Extra options (`--random-state`, `--max-iter`, `--n-init`, `--fit-sample`,
`--reduce-dims`, ...) expose what the reference fixed or silently ignored. Defaults come from
`KMeansParams`, `HdbscanParams`, `Selection` and `EmbedOptions`, which both doors build.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    CHROMA_SERVER,
    EMBEDDING_SPACE,
    EMBEDDING_WORK,
    JSON_OR_XML,
    QUERIES,
    STORE_PATHS,
    embedding_inputs,
)
from lmsys_tui.commands.output import emit_table, handled, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.cluster.density import HdbscanParams as H
from lmsys_tui.core.cluster.density import run_hdbscan
from lmsys_tui.core.cluster.kmeans import KMeansParams as K
from lmsys_tui.core.cluster.kmeans import run_kmeans

Description = Annotated[str, typer.Option(help="Description of this clustering run.")]
ChunkSize = Annotated[
    int, typer.Option(help="Rows per unit of work: progress/cancel checks, assignment, writes.")
]
RandomState = Annotated[int, typer.Option(help="Seed: same seed + same data = same run.")]


def _cluster(run: Any, algorithm: Any, label: str, params: Params) -> None:
    """Run one clustering stage over the selected queries (embedding what they lack) with
    progress on stderr, and print the run."""
    from lmsys_tui.commands.progress import run_on_store

    settings, selection, embed_opts = embedding_inputs(params)
    summary = run_on_store(
        settings.db,
        label,
        lambda store, progress: run(
            store,
            algorithm,
            selection=selection,
            embed_opts=embed_opts,
            description=params.description,
            progress=progress,
        ),
    )
    data = summary.to_dict()
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
    report(
        summary,
        params,
        root="run",
        data=data,
        table=lambda: emit_table("Clustering run", ["field", "value"], rows),
    )


@handled
@takes(QUERIES, EMBEDDING_SPACE, EMBEDDING_WORK, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def kmeans(
    n_clusters: Annotated[int, typer.Option(help="Number of clusters.")] = K.n_clusters,
    description: Description = "",
    mb_batch_size: Annotated[
        int, typer.Option(help="MiniBatchKMeans mini-batch size.")
    ] = K.mb_batch_size,
    chunk_size: ChunkSize = K.chunk_size,
    max_iter: Annotated[
        int, typer.Option(help="Most epochs (full shuffled passes); stops earlier on convergence.")
    ] = K.max_iter,
    n_init: Annotated[int, typer.Option(help="k-means++ seedings tried; the best is kept.")] = (
        K.n_init
    ),
    tol: Annotated[
        float, typer.Option(help="Stop when an epoch improves inertia by less than this share.")
    ] = K.tol,
    random_state: RandomState = K.random_state,
    *,
    params: Params,
) -> None:
    """Run MiniBatchKMeans clustering (shuffled epochs until it converges)."""
    _cluster(run_kmeans, K.from_params(params), f"cluster kmeans k={n_clusters}", params)


@handled
@takes(QUERIES, EMBEDDING_SPACE, EMBEDDING_WORK, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def hdbscan(
    min_cluster_size: Annotated[
        int, typer.Option(help="HDBSCAN minimum cluster size.")
    ] = H.min_cluster_size,
    min_samples: Annotated[
        int | None,
        typer.Option(
            help="HDBSCAN min_samples: lower = less noise (0 = same as --min-cluster-size)."
        ),
    ] = H.min_samples,
    epsilon: Annotated[float, typer.Option(help="HDBSCAN cluster_selection_epsilon.")] = (
        H.epsilon
    ),
    metric: Annotated[
        str,
        typer.Option(help="cosine (default) | euclidean | manhattan | chebyshev."),
    ] = H.metric,
    selection: Annotated[
        str,
        typer.Option(
            help="Cluster selection: eom (default: larger clusters, far less noise) or leaf"
            " (finer, most queries left as noise)."
        ),
    ] = H.selection,
    fit_sample: Annotated[
        int,
        typer.Option(
            help="Fit on at most this many random rows and predict the rest. Over 5 dims a"
            " sample saves no time up to ~50k rows (50k: fit all 34 s, fit 20k + predict 33 s"
            " here) and finds coarser clusters (53 instead of 151 there; the smallest is about"
            " --min-cluster-size x rows / --fit-sample); above 100k it bounds the fit. On 22k"
            " real chat turns a sample agreed with the full fit less (ARI 0.12-0.31, more with"
            " a larger sample) than refits of 90% of the rows did (0.16-0.46)."
        ),
    ] = H.fit_sample,
    max_cluster_fraction: Annotated[
        float,
        typer.Option(
            help="No cluster above this share of the fitted rows (eom; 0 = no cap): without it"
            " eom often put 93-98% of 22k real chat turns in one cluster when refitted on 90% of"
            " them; with 0.3 the refits find 56-68 clusters like the full fit's 53."
        ),
    ] = H.max_cluster_fraction,
    reduce_dims: Annotated[
        int,
        typer.Option(
            help="Reduce to this many dimensions first (0 = raw vectors): density needs few"
            " dimensions; 50 left 75-81% of chat queries as noise, 5 about half."
        ),
    ] = H.reduce_dims,
    reducer: Annotated[
        str, typer.Option(help="auto (UMAP if installed, else PCA) | pca | umap | none.")
    ] = H.reducer,
    assign_noise: Annotated[
        bool,
        typer.Option(
            "--assign-noise/--no-assign-noise",
            help="Give each noise query to the nearest cluster centroid when it lies no farther"
            " than that cluster's members (95th percentile; on by default: ShareGPT noise 51% ->"
            " 10%). Assigned rows keep probability 0 and are counted apart"
            " (noise_fraction_before_assign); --no-assign-noise keeps HDBSCAN's own noise.",
        ),
    ] = H.assign_noise,
    assign_distance: Annotated[
        float,
        typer.Option(
            help="With --assign-noise: one fixed centroid distance limit (0 = per cluster)."
        ),
    ] = H.assign_distance,
    description: Description = "",
    chunk_size: ChunkSize = H.chunk_size,
    random_state: RandomState = H.random_state,
    *,
    params: Params,
) -> None:
    """Run HDBSCAN clustering after dimension reduction (noise kept as cluster -1).

    Noise is the price of density clustering: by default the noise queries close enough to a
    cluster are given to it (reported apart, reversible); --no-assign-noise keeps them -1."""
    label = f"cluster hdbscan min_cluster_size={min_cluster_size}"
    _cluster(run_hdbscan, H.from_params(params), label, params)
