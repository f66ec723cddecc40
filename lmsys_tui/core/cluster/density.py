"""HDBSCAN after dimension reduction, with noise kept and a fit-on-a-sample path for scale.

The reference ran HDBSCAN on raw 384-d vectors (quadratic-ish, ~12 GB at 1M), crashed on
`--metric cosine` and dropped noise. Here vectors are reduced first (PCA fitted on a sample,
applied in chunks; UMAP when it is installed and asked for), HDBSCAN fits on at most
`fit_sample` rows with prediction data, and the other rows get `approximate_predict` labels
and membership strengths. Noise stays as cluster -1.

Cosine: the stored vectors are L2-normalised, and for unit vectors euclidean distance is
sqrt(2 - 2 cos), a monotone function of cosine distance, so density clustering under either is
the same. After reduction the rows are no longer unit length, so `cosine` re-normalises the
reduced rows and then runs HDBSCAN's fast euclidean tree algorithms on them (hdbscan's own
cosine metric needs its slow generic all-pairs algorithm).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lmsys_tui.core.options import Options, option
from lmsys_tui.errors import Cancelled, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.cluster.runs import ClusterResult, RunSummary
    from lmsys_tui.core.store.db import Store

METRICS = ("euclidean", "cosine", "manhattan", "chebyshev")
REDUCERS = ("auto", "pca", "umap", "none")
SELECTION = ("eom", "leaf")


@dataclass(frozen=True)
class HdbscanParams(Options):
    algorithm: ClassVar[str] = "hdbscan"

    min_cluster_size: int = option(25, minimum=2)
    min_samples: int | None = option(2, minimum=1, none=0)  # None (0): --min-cluster-size
    epsilon: float = option(0.0, minimum=0)
    metric: str = option("cosine", choices=METRICS, lower=True)
    # eom over 5 PCA dims (was leaf over 50): noise 81% -> 51% of 3,000 ShareGPT queries, and
    # V-measure (noise counted) 0.54 -> 0.60 on chat turns, 0.33 -> 0.59 on BBC news (README)
    selection: str = option("eom", choices=SELECTION, lower=True)
    # kept at 100k after measuring (tests/bench/test_hdbscan_sample_bench.py, README): on 22k
    # real chat vectors a sample agrees with the full fit less than refits of 90% of the rows
    # do, and over 5 dims it saves no time up to 50k rows (prediction costs what the smaller
    # fit saves) while it finds coarser clusters
    fit_sample: int = option(100_000, minimum=1)
    # eom may select one cluster holding nearly every row (2 clusters, 98% in one, on 22k real
    # chat turns refitted on 90% of them); no cluster above this share of the fitted rows
    # (0 = no cap)
    max_cluster_fraction: float = option(0.3, minimum=0)  # below 1: check()
    reduce_dims: int = option(5, minimum=0)
    reducer: str = option("auto", choices=REDUCERS, lower=True)
    random_state: int = option(42)
    chunk_size: int = option(5000, minimum=1)
    # noise -> nearest cluster when close enough (outliers.py), on by default: noise 51% -> 10%
    # of the demo's ShareGPT queries, and V-measure up on both labelled corpora (README)
    assign_noise: bool = option(True)
    assign_distance: float = option(0.0, minimum=0)  # 0: each cluster's own member distances

    def check(self) -> None:
        if self.fit_sample < self.min_cluster_size * 2:
            raise UsageError("--fit-sample must be at least twice --min-cluster-size")
        if self.max_cluster_fraction >= 1:
            raise UsageError("--max-cluster-fraction must be below 1 (0 = no cap)")

    @property
    def size(self) -> int:
        return self.min_cluster_size

    def fit(
        self, ids: np.ndarray, X: np.ndarray, progress: Progress, cancelled: CancelCheck
    ) -> ClusterResult:
        return hdbscan_result(ids, X, self, progress, cancelled)


def _umap_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def reduce(
    X: np.ndarray,
    params: HdbscanParams,
    *,
    cancelled: CancelCheck = never_cancelled,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows in `reduce_dims` dimensions (float32), fitted on at most `fit_sample` rows."""
    import numpy as np

    n, dim = X.shape
    method = params.reducer
    if method == "auto":
        method = "umap" if _umap_available() else "pca"
    if method == "none" or params.reduce_dims == 0 or params.reduce_dims >= dim:
        return X, {"method": "none", "dims": int(dim)}
    rng = np.random.default_rng(params.random_state)
    fit_rows = np.sort(rng.choice(n, size=min(n, params.fit_sample), replace=False))
    dims = min(params.reduce_dims, len(fit_rows) - 1)
    if method == "umap":
        if not _umap_available():
            raise UsageError("--reducer umap needs umap-learn, which is not installed")
        import umap  # type: ignore[import-not-found]

        model: Any = umap.UMAP(n_components=dims, random_state=params.random_state)
        model.fit(X[fit_rows])
        info: dict[str, Any] = {"method": "umap", "dims": int(dims)}
    else:
        from sklearn.decomposition import PCA

        model = PCA(n_components=dims, svd_solver="covariance_eigh", random_state=0)
        model.fit(X[fit_rows])
        explained = float(model.explained_variance_ratio_.sum())
        info = {"method": "pca", "dims": int(dims), "explained_variance": round(explained, 4)}
    out = np.empty((n, dims), dtype=np.float32)
    for s in range(0, n, params.chunk_size * 10):
        if cancelled():
            raise Cancelled("cancelled")
        out[s : s + params.chunk_size * 10] = model.transform(X[s : s + params.chunk_size * 10])
    info["fit_rows"] = len(fit_rows)
    return out, info


ALGORITHM = "prims_kdtree"
"""hdbscan's "best" picks Boruvka on a KD-tree; on reduced sentence embeddings Prim's on the
same tree builds the same minimum spanning tree (so the same clusters) 1.2-3x faster: 10k rows
at PCA-50 5.9 s vs 12.2 s, 20k rows 20.8 s vs 60.5 s, 20k at PCA-10 6.8 s vs 8.3 s."""


class BruteNeighbours:
    """Exact euclidean k-nearest fitted rows by matrix products, in the shape of the KD-tree
    query `hdbscan.approximate_predict` makes (`query(X, k)` -> distances, indices, nearest
    first). In 50 reduced dimensions a KD-tree prunes almost nothing: predicting 40k rows took
    25 s through the tree and takes ~1 s through BLAS, with the same neighbours."""

    BLOCK = 8_000_000  # distance entries per block: 32 MB of float32, 64 MB of argpartition

    def __init__(self, data: np.ndarray, metric: str = "euclidean", **_: Any) -> None:
        import numpy as np

        if metric != "euclidean":
            raise ValueError(f"BruteNeighbours is euclidean only, not {metric}")
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.norms = np.einsum("ij,ij->i", self.data, self.data)

    def query(self, X: np.ndarray, k: int = 1, **_: Any) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        X = np.ascontiguousarray(X, dtype=np.float32)
        k = min(k, len(self.data))
        dist = np.empty((len(X), k), dtype=np.float64)
        idx = np.empty((len(X), k), dtype=np.int64)
        step = max(1, self.BLOCK // max(1, len(self.data)))
        for s in range(0, len(X), step):
            block = X[s : s + step]
            # |y|^2 - 2 x.y ranks the rows as |x - y|^2 does (|x|^2 is the same along a row)
            d2 = block @ self.data.T
            d2 *= -2.0
            d2 += self.norms[None, :]
            if k < d2.shape[1]:
                near = np.argpartition(d2, k - 1, axis=1)[:, :k]
            else:
                near = np.broadcast_to(np.arange(d2.shape[1]), d2.shape).copy()
            # the candidates' distances again, exactly (float32 expansion loses small ones)
            diff = block[:, None, :].astype(np.float64) - self.data[near].astype(np.float64)
            near_d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
            order = np.lexsort((near, near_d), axis=1)
            idx[s : s + len(block)] = np.take_along_axis(near, order, axis=1)
            dist[s : s + len(block)] = np.take_along_axis(near_d, order, axis=1)
        return dist, idx


def _add_prediction_data(clusterer: Any, fitted: np.ndarray, metric: str) -> None:
    """What `approximate_predict` needs, with exact neighbours from BruteNeighbours for
    euclidean rows (hdbscan builds it on a KD-tree: 5.7 s for 10k rows at PCA-50, and every
    later prediction queries that tree); other metrics keep hdbscan's own."""
    from hdbscan.prediction import PredictionData

    if metric != "euclidean":
        clusterer.generate_prediction_data()
        return

    class BrutePredictionData(PredictionData):  # type: ignore[misc]
        _tree_type_map: ClassVar[dict[str, Any]] = {
            "kdtree": BruteNeighbours,
            "balltree": BruteNeighbours,
        }

    clusterer._prediction_data = BrutePredictionData(
        fitted,
        clusterer.condensed_tree_,
        clusterer.min_samples or clusterer.min_cluster_size,
        tree_type="kdtree",
        metric="euclidean",
    )


@dataclass
class DensityFit:
    labels: np.ndarray  # int32, -1 = noise, others relabelled largest first
    probabilities: np.ndarray  # float32 membership strength (0 for noise)
    metrics: dict[str, Any]
    persistence: dict[int, float]


def fit_hdbscan(
    Z: np.ndarray,
    params: HdbscanParams,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> DensityFit:
    """HDBSCAN on reduced rows Z; above `fit_sample` rows, fit a sample and predict the rest."""
    import hdbscan
    import numpy as np

    n = len(Z)
    if n < params.min_cluster_size * 2:
        raise UsageError(
            f"{n} embedded queries are too few for --min-cluster-size {params.min_cluster_size}"
        )
    if params.metric == "cosine":
        Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    metric = "euclidean" if params.metric == "cosine" else params.metric
    rng = np.random.default_rng(params.random_state)
    sampled = n > params.fit_sample
    fit_rows = np.sort(rng.choice(n, size=params.fit_sample, replace=False)) if sampled else None
    if cancelled():
        raise Cancelled("cancelled")
    progress(0, n, f"hdbscan fit on {params.fit_sample if sampled else n:,} rows")
    started = time.perf_counter()
    fitted_rows = params.fit_sample if sampled else n
    cap = int(params.max_cluster_fraction * fitted_rows)
    clusterer = hdbscan.HDBSCAN(
        max_cluster_size=cap if cap >= params.min_cluster_size else 0,
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        cluster_selection_epsilon=params.epsilon,
        cluster_selection_method=params.selection,
        metric=metric,
        algorithm=ALGORITHM,
        core_dist_n_jobs=1,
    )
    clusterer.fit(Z[fit_rows] if sampled else Z)
    if sampled:
        _add_prediction_data(clusterer, Z[fit_rows], metric)
    fit_seconds = time.perf_counter() - started
    labels = np.empty(n, dtype=np.int32)
    probs = np.empty(n, dtype=np.float32)
    predict_seconds = 0.0
    if sampled:
        assert fit_rows is not None
        labels[fit_rows] = clusterer.labels_
        probs[fit_rows] = clusterer.probabilities_
        rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
        started = time.perf_counter()
        step = params.chunk_size * 4
        for s in range(0, len(rest), step):
            if cancelled():
                raise Cancelled("cancelled")
            rows = rest[s : s + step]
            lab, strength = hdbscan.approximate_predict(clusterer, Z[rows])
            labels[rows] = lab
            probs[rows] = strength
            progress(params.fit_sample + s + len(rows), n, "hdbscan approximate predict")
        predict_seconds = time.perf_counter() - started
    else:
        labels[:] = clusterer.labels_
        probs[:] = clusterer.probabilities_
    probs[labels == -1] = 0.0
    fit_noise = float(np.mean(clusterer.labels_ == -1))
    persistence_raw = dict(enumerate(getattr(clusterer, "cluster_persistence_", []).tolist()))
    labels, mapping = _relabel(labels)
    persistence = {
        int(new): round(float(persistence_raw.get(int(old), 0.0)), 6)
        for old, new in mapping.items()
    }
    noise = int((labels == -1).sum())
    metrics = {
        "n_clusters": int(labels.max() + 1) if n else 0,
        "noise_count": noise,
        "noise_fraction": round(noise / n, 6) if n else 0.0,
        "fit_rows": int(params.fit_sample if sampled else n),
        "predicted_rows": int(n - params.fit_sample) if sampled else 0,
        "fit_noise_fraction": round(fit_noise, 6),
        "fit_seconds": round(fit_seconds, 3),
        "predict_seconds": round(predict_seconds, 3),
        "metric_used": "euclidean on re-normalised rows" if params.metric == "cosine" else metric,
    }
    return DensityFit(labels=labels, probabilities=probs, metrics=metrics, persistence=persistence)


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Clusters renumbered largest first (ties by old id); noise stays -1."""
    import numpy as np

    from lmsys_tui.core.cluster.metrics import largest_first

    kept = labels[labels >= 0]
    if len(kept) == 0:
        return labels, {}
    counts = np.bincount(kept)
    order = largest_first(counts).tolist()
    lut = np.full(len(counts) + 1, -1, dtype=np.int32)  # last slot maps -1 -> -1
    for new, old in enumerate(order):
        lut[old] = new
    return lut[labels], {old: new for new, old in enumerate(order)}


def hdbscan_result(
    ids: np.ndarray,
    X: np.ndarray,
    params: HdbscanParams,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> ClusterResult:
    """Reduce, fit (or fit a sample and predict), and measure each cluster in the full space.

    Centroids and distances are in the embedding space (so they compare with k-means runs and
    serve summaries and search); noise gets no centroid and no distance.
    """
    import numpy as np

    from lmsys_tui.core.cluster.metrics import centroids_by_label, distances_to
    from lmsys_tui.core.cluster.runs import ClusterResult

    started = time.perf_counter()
    Z, reduce_info = reduce(X, params, cancelled=cancelled)
    reduce_seconds = time.perf_counter() - started
    fitted = fit_hdbscan(Z, params, progress=progress, cancelled=cancelled)
    del Z
    labels = fitted.labels
    classes, centers = centroids_by_label(X, labels, chunk_size=params.chunk_size * 10)
    distances = distances_to(X, labels, classes, centers, params.chunk_size * 10)
    centroids = {int(c): centers[i] for i, c in enumerate(classes.tolist()) if c != -1}
    assigned = None
    if params.assign_noise:
        from lmsys_tui.core.cluster.outliers import assign_noise

        # centroids stay those of the dense members: the assigned rows do not move them
        assigned = assign_noise(X, labels, distances, centroids, params.assign_distance)
        labels = labels.copy()
        labels[assigned.rows] = assigned.labels
        distances[assigned.rows] = assigned.distances
        classes = np.unique(labels)
    distances[labels == -1] = np.nan
    index = np.searchsorted(classes, labels)
    counts = np.bincount(index, minlength=len(classes))
    extra = np.zeros(len(classes), dtype=np.int64)
    if assigned is not None:
        extra = np.bincount(np.searchsorted(classes, assigned.labels), minlength=len(classes))
    prob_sum = np.bincount(index, weights=fitted.probabilities, minlength=len(classes))
    dist_sum = np.bincount(index, weights=np.nan_to_num(distances), minlength=len(classes))
    cluster_metrics: dict[int, dict[str, Any]] = {}
    for i, c in enumerate(classes.tolist()):
        entry: dict[str, Any] = {"mean_probability": round(float(prob_sum[i] / counts[i]), 6)}
        if c == -1:
            entry["noise"] = True
        else:
            entry["mean_distance"] = round(float(dist_sum[i] / counts[i]), 6)
            entry["persistence"] = fitted.persistence.get(int(c))
            if assigned is not None:
                entry["assigned_noise"] = int(extra[i])
                entry["assign_limit"] = assigned.limits.get(int(c))
        cluster_metrics[int(c)] = entry
    metrics = fitted.metrics | {
        "reduction": reduce_info,
        "reduce_seconds": round(reduce_seconds, 3),
    }
    if assigned is not None:
        left = int((labels == -1).sum())
        metrics |= {
            "noise_fraction_before_assign": metrics["noise_fraction"],
            "assigned_noise": len(assigned.rows),
            "noise_count": left,
            "noise_fraction": round(left / len(labels), 6) if len(labels) else 0.0,
        }
    return ClusterResult(
        ids=ids,
        labels=labels,
        distances=distances,
        confidence=fitted.probabilities,
        centroids=centroids,
        cluster_metrics=cluster_metrics,
        metrics=metrics,
    )


def run_hdbscan(store: Store, params: HdbscanParams, **how: Any) -> RunSummary:
    """`cluster hdbscan`: embed what is missing, reduce, cluster, keep noise as -1.
    `how`: the keywords of `run_clustering` (selection, embed_opts, description, progress...)."""
    from lmsys_tui.core.cluster.stage import run_clustering

    return run_clustering(store, params, **how)
