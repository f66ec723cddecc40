"""`--assign-noise` (the default; `--no-assign-noise` turns it off): HDBSCAN's noise points
given to the nearest cluster, when close enough.

HDBSCAN calls a point noise when no dense region holds it, which on chat data is most points
(81.6% of 5,000 ShareGPT rows with the old defaults). An analyst still wants those queries
counted somewhere: each noise point goes to the cluster whose centroid (the mean of its dense
members, computed before any assignment, so the cluster keeps its meaning) is nearest, if it
lies no farther than that cluster's own members do (their 95th-percentile distance, or a
fixed `--assign-distance`). Assigned points keep membership probability 0 and their distance,
so they are told apart from dense members (`cluster_id >= 0 AND confidence_score = 0`), are
counted separately in the run's metrics, and can be turned back into noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MEMBER_QUANTILE = 0.95


@dataclass
class Assignment:
    rows: np.ndarray  # indices of the noise rows that were assigned
    labels: np.ndarray  # their new clusters
    distances: np.ndarray  # their euclidean distance to that centroid
    limits: dict[int, float]  # the distance each cluster accepted


def assign_noise(
    X: np.ndarray,
    labels: np.ndarray,
    distances: np.ndarray,
    centroids: dict[int, np.ndarray],
    max_distance: float = 0.0,
    chunk: int = 50_000,
) -> Assignment:
    """Nearest-centroid assignment of the rows labelled -1 (euclidean in the embedding space,
    the distance the run stores); `max_distance` 0 means each cluster's own limit."""
    import numpy as np

    ids = np.array(sorted(centroids), dtype=np.int32)
    noise = np.flatnonzero(labels == -1)
    empty = Assignment(noise[:0], ids[:0], np.zeros(0, np.float32), {})
    if not len(ids) or not len(noise):
        return empty
    C = np.vstack([centroids[int(c)] for c in ids]).astype(np.float32)
    if max_distance > 0:
        limit = np.full(len(ids), max_distance, dtype=np.float32)
    else:
        limit = np.array(
            [np.quantile(distances[labels == c], MEMBER_QUANTILE) for c in ids], dtype=np.float32
        )
    c_norms = np.einsum("ij,ij->i", C, C)
    best = np.empty(len(noise), dtype=np.int64)
    best_d = np.empty(len(noise), dtype=np.float32)
    for s in range(0, len(noise), chunk):
        block = X[noise[s : s + chunk]]
        d2 = c_norms[None, :] - 2.0 * (block @ C.T) + np.einsum("ij,ij->i", block, block)[:, None]
        near = np.argmin(d2, axis=1)
        best[s : s + chunk] = near
        best_d[s : s + chunk] = np.sqrt(np.maximum(d2[np.arange(len(block)), near], 0.0))
    keep = best_d <= limit[best]
    return Assignment(
        rows=noise[keep],
        labels=ids[best[keep]],
        distances=best_d[keep],
        limits={int(c): round(float(v), 6) for c, v in zip(ids, limit, strict=True)},
    )
