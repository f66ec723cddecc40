"""Quality figures recorded on every run: sampled silhouette, cluster size spread, centroids.

Silhouette is quadratic in the rows it looks at, so it is computed on a random sample (its size
is recorded next to the score). Noise (-1) is left out: it is not a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SILHOUETTE_SAMPLE = 5000


def sampled_silhouette(
    X: np.ndarray, labels: np.ndarray, sample_size: int = SILHOUETTE_SAMPLE, random_state: int = 0
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import silhouette_score

    rows = np.flatnonzero(labels != -1)
    if len(rows) > sample_size:
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(rows, size=sample_size, replace=False))
    sample_labels = labels[rows]
    n_labels = len(np.unique(sample_labels))
    if n_labels < 2 or n_labels >= len(rows):
        return {"silhouette": None, "silhouette_sample": len(rows)}
    score = silhouette_score(np.asarray(X[rows], dtype=np.float32), sample_labels)
    return {"silhouette": round(float(score), 6), "silhouette_sample": len(rows)}


def size_stats(labels: np.ndarray) -> dict[str, Any]:
    import numpy as np

    kept = labels[labels != -1]
    if len(kept) == 0:
        return {"size_min": 0, "size_median": 0, "size_max": 0}
    counts = np.bincount(kept)
    counts = counts[counts > 0]
    return {
        "size_min": int(counts.min()),
        "size_median": float(np.median(counts)),
        "size_max": int(counts.max()),
    }


def centroids_by_label(
    X: np.ndarray, labels: np.ndarray, chunk_size: int = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector per label (labels sorted ascending), accumulated chunk by chunk."""
    import numpy as np
    from scipy import sparse

    classes, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(classes), X.shape[1]), dtype=np.float64)
    for s in range(0, len(X), chunk_size):
        inv = inverse[s : s + chunk_size]
        ind = sparse.csr_matrix(
            (np.ones(len(inv), dtype=np.float32), (inv, np.arange(len(inv)))),
            shape=(len(classes), len(inv)),
        )
        sums += ind @ X[s : s + chunk_size]
    counts = np.bincount(inverse, minlength=len(classes)).astype(np.float64)
    return classes, (sums / counts[:, None]).astype(np.float32)


def distances_to(
    X: np.ndarray, labels: np.ndarray, classes: np.ndarray, centroids: np.ndarray, chunk: int
) -> np.ndarray:
    """Euclidean distance of each row to its own label's centroid."""
    import numpy as np

    index = np.searchsorted(classes, labels)
    out = np.empty(len(X), dtype=np.float32)
    for s in range(0, len(X), chunk):
        diff = X[s : s + chunk] - centroids[index[s : s + chunk]]
        out[s : s + chunk] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def largest_first(counts: np.ndarray) -> np.ndarray:
    """The labels that have rows, largest first (ties: lower label first): the order both
    algorithms renumber their clusters in, so cluster 0 is always the largest."""
    import numpy as np

    order = np.lexsort((np.arange(len(counts)), -counts))
    return order[counts[order] > 0]
