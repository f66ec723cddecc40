"""Mini-batch k-means that converges: k-means++ seeding, shuffled epochs, a stopping rule.

The reference ran one `partial_fit` per chunk for a single pass, seeded from its first chunk,
so batch size, n_init and max_iter did nothing. Here every epoch visits all rows in a new random
order in mini-batches of `batch_size`; seeding is k-means++ on a random sample (best of `n_init`
by inertia on it); training stops when an epoch improves the inertia of a fixed validation
sample by less than `tol` (relative) or after `max_iter` epochs. Every `chunk_size` rows the
loop reports progress and honours cancellation; assignment runs in chunks of the same size.

We seed with `sklearn.cluster.kmeans_plusplus` on a float64 copy of the sample because
MiniBatchKMeans' own seeding of float32 data takes an upcasting path that is ~10x slower.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lmsys_tui.core.options import Options, option
from lmsys_tui.errors import Cancelled, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.cluster.runs import ClusterResult, RunSummary
    from lmsys_tui.core.store.db import Store


VALIDATION_ROWS = 10_000


@dataclass(frozen=True)
class KMeansParams(Options):
    algorithm: ClassVar[str] = "kmeans"

    n_clusters: int = option(200, minimum=1)
    mb_batch_size: int = option(4096, minimum=1)
    chunk_size: int = option(5000, minimum=1)
    max_iter: int = option(30, minimum=1)  # epochs at most
    n_init: int = option(1, minimum=1)  # k-means++ seedings tried (sklearn also uses 1)
    random_state: int = option(42)
    tol: float = option(1e-3, minimum=0)  # relative validation-inertia gain that still counts
    init_size: int | None = None  # rows for seeding; default 3 x max(batch size, n_clusters)

    def check(self) -> None:
        if self.init_size is not None and self.init_size < self.n_clusters:
            raise UsageError("--init-size must be at least --n-clusters")

    @property
    def size(self) -> int:
        return self.n_clusters

    def fit(
        self, ids: np.ndarray, X: np.ndarray, progress: Progress, cancelled: CancelCheck
    ) -> ClusterResult:
        return kmeans_result(ids, X, self, progress, cancelled)


@dataclass
class KMeansFit:
    centers: np.ndarray  # float32, k x dim
    epochs: int
    converged: bool
    steps: int
    init_inertia: float
    validation_inertia: list[float] = field(default_factory=list)
    validation_size: int = 0
    seconds: float = 0.0


def _sq_dist(X: np.ndarray, centers: np.ndarray, c_sq: np.ndarray) -> np.ndarray:
    """Squared euclidean distances, rows x centers (clamped: rounding can go below 0)."""
    import numpy as np

    x_sq = np.einsum("ij,ij->i", X, X)
    d = X @ centers.T
    d *= -2.0
    d += x_sq[:, None]
    d += c_sq[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def _inertia(X: np.ndarray, centers: np.ndarray, chunk: int = 8192) -> float:
    import numpy as np

    c_sq = np.einsum("ij,ij->i", centers, centers)
    return float(
        sum(
            _sq_dist(X[s : s + chunk], centers, c_sq).min(axis=1).sum(dtype=np.float64)
            for s in range(0, len(X), chunk)
        )
    )


def fit_kmeans(
    X: np.ndarray,
    params: KMeansParams,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> KMeansFit:
    """Fit centers on the float32 matrix X (rows L2-normalised embeddings)."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus

    n = len(X)
    k = params.n_clusters
    if n < k:
        raise UsageError(f"--n-clusters {k} is more than the {n} embedded queries to cluster")
    started = time.perf_counter()
    rng = np.random.default_rng(params.random_state)
    init_size = min(n, params.init_size or 3 * max(params.mb_batch_size, k))
    sample_rows = np.sort(rng.choice(n, size=init_size, replace=False))
    sample = np.asarray(X[sample_rows], dtype=np.float32)
    sample64 = sample.astype(np.float64)
    best: tuple[float, np.ndarray] | None = None
    for attempt in range(params.n_init):
        if cancelled():
            raise Cancelled("cancelled")
        seed = int(rng.integers(0, 2**31 - 1))
        centers, _ = kmeans_plusplus(sample64, k, random_state=seed)
        inertia = _inertia(sample64, centers)
        if best is None or inertia < best[0]:
            best = (inertia, centers)
        progress(attempt + 1, params.n_init, "k-means++ seeding")
    assert best is not None
    init_inertia, init_centers = best
    model = MiniBatchKMeans(
        n_clusters=k,
        init=init_centers.astype(X.dtype),
        n_init=1,
        batch_size=params.mb_batch_size,
        random_state=int(rng.integers(0, 2**31 - 1)),
        compute_labels=False,
    )
    batch = params.mb_batch_size
    batches_per_check = max(1, params.chunk_size // batch)
    n_batches = -(-n // batch)
    valid_rows = (
        sample_rows
        if n <= VALIDATION_ROWS
        else np.sort(rng.choice(n, size=VALIDATION_ROWS, replace=False))
    )
    valid = np.asarray(X[valid_rows], dtype=np.float32)
    history: list[float] = []
    previous = _inertia(valid, init_centers.astype(np.float32))
    converged = False
    steps = 0
    epoch = 0
    for epoch in range(1, params.max_iter + 1):
        order = rng.permutation(n)
        for b in range(n_batches):
            if b % batches_per_check == 0:
                if cancelled():
                    raise Cancelled("cancelled")
                progress(b * batch, n, f"k-means epoch {epoch}/{params.max_iter}")
            rows = np.sort(order[b * batch : (b + 1) * batch])
            model.partial_fit(X[rows])
            steps += 1
        current = _inertia(valid, model.cluster_centers_)
        history.append(round(current, 6))
        gain = (previous - current) / previous if previous > 0 else 0.0
        previous = current
        if epoch >= 2 and gain < params.tol:
            converged = True
            break
    progress(n, n, f"k-means fitted in {epoch} epochs")
    return KMeansFit(
        centers=np.ascontiguousarray(model.cluster_centers_, dtype=np.float32),
        epochs=epoch,
        converged=converged,
        steps=steps,
        init_inertia=round(float(init_inertia), 6),
        validation_inertia=history,
        validation_size=len(valid),
        seconds=round(time.perf_counter() - started, 3),
    )


@dataclass
class Assignment:
    labels: np.ndarray  # int32
    distances: np.ndarray  # float32 euclidean distance to the assigned center
    confidence: np.ndarray  # float32: 1 - d_nearest / d_second_nearest
    inertia: float


def _two_nearest(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the one or two smallest squared distances per row, ascending; the nearest's index)."""
    import numpy as np

    if d.shape[1] == 1:
        return d, np.zeros(len(d), dtype=np.int64)
    two = np.argpartition(d, 1, axis=1)[:, :2]
    pair = np.take_along_axis(d, two, axis=1)
    first = pair.argmin(axis=1)
    return np.sort(pair, axis=1), np.take_along_axis(two, first[:, None], axis=1)[:, 0]


def _two_nearest_torch(device: str, centers: np.ndarray) -> Any:
    """The chunk -> (k=1: n x 1, else n x 2) squared distances of the nearest centers, by
    torch on `device` (on a GPU, the n x k distance matrix never reaches the CPU)."""
    import numpy as np
    import torch

    c = torch.from_numpy(centers).to(device)
    c_sq = (c * c).sum(1)
    width = min(2, len(centers))

    def pairs(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
        d = ((x * x).sum(1)[:, None] - 2.0 * (x @ c.T) + c_sq[None, :]).clamp_min_(0.0)
        vals, idx = d.topk(width, dim=1, largest=False)
        return vals.cpu().numpy(), idx.cpu().numpy()

    return pairs


def assign(
    X: np.ndarray,
    centers: np.ndarray,
    *,
    chunk_size: int = 5000,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
    device: str | None = None,
) -> Assignment:
    """Nearest center per row, in chunks (memory: chunk x k), with a margin-based confidence.

    Confidence is the relative margin to the second-nearest center: 0 on the border between
    two clusters, near 1 close to its own center. `device` ("cuda", or "cpu" to test the same
    path) computes the distances with torch there; None: numpy.
    """
    import numpy as np

    n, k = len(X), len(centers)
    centers = np.ascontiguousarray(centers, dtype=np.float32)
    c_sq = np.einsum("ij,ij->i", centers, centers)
    nearest_two = _two_nearest_torch(device, centers) if device else None
    labels = np.empty(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    inertia = 0.0
    for s in range(0, n, chunk_size):
        if cancelled():
            raise Cancelled("cancelled")
        if nearest_two is not None:
            pair, two = nearest_two(X[s : s + chunk_size])  # ascending
            nearest = two[:, 0]
        else:
            pair, nearest = _two_nearest(_sq_dist(X[s : s + chunk_size], centers, c_sq))
        d1 = pair[:, 0]
        c = np.ones(len(pair), dtype=np.float32)
        if k > 1:
            d2 = np.sqrt(pair[:, 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                c = np.where(d2 > 0, 1.0 - np.sqrt(d1) / d2, 0.0)
        labels[s : s + len(pair)] = nearest
        dist[s : s + len(pair)] = np.sqrt(d1)
        conf[s : s + len(pair)] = c
        inertia += float(d1.sum(dtype=np.float64))
        progress(min(n, s + chunk_size), n, "assigning")
    return Assignment(labels=labels, distances=dist, confidence=conf, inertia=inertia)


def relabel_by_size(labels: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster 0 is the largest; empty clusters are dropped, so ids run 0..found-1."""
    import numpy as np

    from lmsys_tui.core.cluster.metrics import largest_first

    order = largest_first(np.bincount(labels, minlength=len(centers)))
    mapping = np.full(len(centers), -1, dtype=np.int32)
    mapping[order] = np.arange(len(order), dtype=np.int32)
    return mapping[labels], centers[order]


def _cuda() -> str | None:
    """ "cuda" when torch sees a CUDA device (checked without importing torch on plain CPUs)."""
    from lmsys_tui.core.embed.model import gpu_device

    return "cuda" if gpu_device() == "cuda" else None


def kmeans_result(
    ids: np.ndarray,
    X: np.ndarray,
    params: KMeansParams,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> ClusterResult:
    """Fit, assign every row, and package labels, distances and centroids for publishing."""
    import numpy as np

    from lmsys_tui.core.cluster.runs import ClusterResult

    fitted = fit_kmeans(X, params, progress=progress, cancelled=cancelled)
    started = time.perf_counter()
    a = assign(X, fitted.centers, chunk_size=params.chunk_size, progress=progress,
               cancelled=cancelled, device=_cuda())  # fmt: skip
    labels, centers = relabel_by_size(a.labels, fitted.centers)
    sums = np.bincount(labels, weights=a.distances, minlength=len(centers))
    counts = np.bincount(labels, minlength=len(centers))
    conf = np.bincount(labels, weights=a.confidence, minlength=len(centers))
    return ClusterResult(
        ids=ids,
        labels=labels,
        distances=a.distances,
        confidence=a.confidence,
        centroids={i: centers[i] for i in range(len(centers))},
        cluster_metrics={
            i: {
                "mean_distance": round(float(sums[i] / counts[i]), 6),
                "mean_confidence": round(float(conf[i] / counts[i]), 6),
            }
            for i in range(len(centers))
        },
        metrics={
            "inertia": round(a.inertia, 6),
            "mean_sq_distance": round(a.inertia / len(X), 6),
            "epochs": fitted.epochs,
            "converged": fitted.converged,
            "steps": fitted.steps,
            "init_inertia_sample": fitted.init_inertia,
            "validation_inertia": fitted.validation_inertia,
            "validation_rows": fitted.validation_size,
            "empty_clusters": int(params.n_clusters - len(centers)),
            "fit_seconds": fitted.seconds,
            "assign_seconds": round(time.perf_counter() - started, 3),
        },
    )


def run_kmeans(store: Store, params: KMeansParams, **how: Any) -> RunSummary:
    """`cluster kmeans`: embed what is missing, fit on the stored vectors, publish the run.
    `how`: the keywords of `run_clustering` (selection, embed_opts, description, progress...)."""
    from lmsys_tui.core.cluster.stage import run_clustering

    limit = how["selection"].limit if how.get("selection") else None
    if limit is not None and limit < params.n_clusters:
        raise UsageError(f"--limit {limit} is below --n-clusters {params.n_clusters}")
    return run_clustering(store, params, **how)
