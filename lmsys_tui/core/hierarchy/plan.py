"""Level sizes, deterministic node ids, and balanced neighbourhoods.

Node ids must not depend on the order in which LLM answers complete (the reference numbered
parents by completion): a parent's id is its level times LEVEL_STRIDE plus its rank when the
level's parents are sorted by their (sorted) child ids. Leaf ids are the run's cluster ids.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

LEVEL_STRIDE = 1_000_000


def level_sizes(n_leaves: int, target_levels: int, merge_ratio: float) -> list[int]:
    """Geometric schedule [n0, n0*r, n0*r^2, …] of `target_levels` levels, leaves included.

    Each level is strictly smaller than the one below it and has at least two nodes while the
    level below has more than two; the schedule stops early when nothing is left to merge.
    """
    if target_levels < 2:
        raise UsageError("--target-levels must be at least 2 (leaves plus one merged level)")
    if not 0 < merge_ratio < 1:
        raise UsageError("--merge-ratio must be between 0 and 1")
    sizes = [n_leaves]
    for _ in range(target_levels - 1):
        prev = sizes[-1]
        if prev <= 2:
            break
        nxt = max(2, round(prev * merge_ratio))
        if nxt >= prev:
            break
        sizes.append(nxt)
    return sizes


def parent_id(level: int, rank: int) -> int:
    return level * LEVEL_STRIDE + rank


def order_parents(groups: list[list[int]]) -> list[list[int]]:
    """Child-id groups in a completion-order-free order: by their sorted child ids."""
    return sorted((sorted(g) for g in groups if g), key=lambda g: (g[0], len(g), g))


def balanced_neighbourhoods(vectors: np.ndarray, size: int, seed: int) -> list[list[int]]:
    """Row indices grouped into ceil(n / size) neighbourhoods of at most ceil(n / k) rows.

    k-means finds the centres; rows are then handed out by ascending distance to any centre
    with full centres skipped, so no neighbourhood outgrows the LLM's context budget.
    """
    import numpy as np

    n = len(vectors)
    k = max(1, math.ceil(n / max(1, size)))
    if k == 1:
        return [list(range(n))]
    from sklearn.cluster import KMeans

    centres = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(vectors).cluster_centers_
    dist = (vectors**2).sum(1)[:, None] - 2 * vectors @ centres.T + (centres**2).sum(1)[None, :]
    cap = math.ceil(n / k)
    load = [0] * k
    owner = [-1] * n
    for flat in np.argsort(dist, axis=None, kind="stable"):
        row, col = divmod(int(flat), k)
        if owner[row] == -1 and load[col] < cap:
            owner[row] = col
            load[col] += 1
    groups = [[i for i in range(n) if owner[i] == c] for c in range(k)]
    return [g for g in groups if g]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
