"""The hierarchy's shape from the data: how many nodes each level has.

A fixed ratio (the old default: 0.35 a level) folded 20 leaves of 5 known topics into 2 top
nodes. Here the leaves' unit centroids are agglomerated once (Ward), and every cut of that tree
with a readable number of nodes (TOP_RANGE) is scored by its silhouette, each leaf weighted by
its query count (a big cluster placed badly costs more than a small one). The best cut is the
top level; the levels between follow a geometric schedule from the leaves to the top, each then
moved to the best-scoring cut within a window around its geometric size. `--top-nodes N` fixes
the top instead, `--merge-ratio R` brings back the plain geometric schedule. The choice, its
score and every scored candidate are stored with the hierarchy, and both the offline and the
LLM (Clio) path aim for these sizes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy.plan import level_sizes

if TYPE_CHECKING:
    import numpy as np

TOP_RANGE = (4, 30)  # nodes an analyst can read at the top
WINDOW = 1.5  # an intermediate level may move this factor around its geometric size


@dataclass
class Shape:
    """Nodes per level (leaves first), how they were chosen, and the top cut's score."""

    sizes: list[int]
    method: str  # silhouette | top-nodes | merge-ratio
    score: float | None = None  # weighted silhouette of the top level's cut
    level_scores: list[float | None] = field(default_factory=list)  # per level above the leaves
    candidates: dict[str, float] = field(default_factory=dict)  # top size -> score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dendrogram(unit: np.ndarray) -> np.ndarray:
    """Ward linkage of the unit centroids (the same agglomeration the offline levels use)."""
    from scipy.cluster.hierarchy import linkage

    return linkage(unit.astype("float64"), method="ward")


def cuts(tree: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Leaf labels of the tree cut at each size (columns in the order of `sizes`); the cuts of
    one tree nest, so a coarser cut never splits a group of a finer one."""
    from scipy.cluster.hierarchy import cut_tree

    return cut_tree(tree, n_clusters=sizes)


def _scores(
    unit: np.ndarray, weights: np.ndarray, tree: np.ndarray, ks: list[int]
) -> dict[int, float]:
    """Query-weighted silhouette of each cut (cosine distance between unit centroids)."""
    import numpy as np
    from sklearn.metrics import silhouette_samples

    if not ks:
        return {}
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0).astype("float64")
    np.fill_diagonal(dist, 0.0)
    labels = cuts(tree, ks)
    out = {}
    for col, k in enumerate(ks):
        lab = labels[:, col]
        if len(set(lab.tolist())) < 2 or k >= len(unit):
            continue
        s = silhouette_samples(dist, lab, metric="precomputed")
        out[k] = round(float((s * weights).sum() / weights.sum()), 4)
    return out


def _best(scores: dict[int, float]) -> int:
    """The highest score; ties go to the smaller level (fewer nodes read faster)."""
    return min(scores, key=lambda k: (-scores[k], k))


def choose_shape(
    unit: np.ndarray,
    counts: list[int],
    target_levels: int,
    *,
    top_nodes: int | None = None,
    merge_ratio: float | None = None,
    top_range: tuple[int, int] = TOP_RANGE,
) -> Shape:
    """Level sizes for leaves with these unit centroids and query counts."""
    import numpy as np

    n = len(unit)
    if merge_ratio is not None:
        return Shape(level_sizes(n, target_levels, merge_ratio), "merge-ratio")
    level_sizes(n, target_levels, 0.5)  # the same checks of --target-levels
    weights = np.maximum(np.asarray(counts, dtype="float64"), 1.0)
    tree = dendrogram(unit)
    if top_nodes is not None:
        top, method, candidates = min(top_nodes, max(1, n - 1)), "top-nodes", {}
    else:
        lo, hi = min(top_range[0], n - 1), min(top_range[1], n - 1)
        candidates = _scores(unit, weights, tree, list(range(max(2, lo), hi + 1)))
        top = _best(candidates) if candidates else max(1, min(lo, n - 1))
        method = "silhouette"
    sizes = [n]
    steps = target_levels - 1
    for i in range(1, steps):
        geometric = round(n * (top / n) ** (i / steps))
        window = range(
            max(top + 1, math.floor(geometric / WINDOW)),
            min(sizes[-1] - 1, math.ceil(geometric * WINDOW)) + 1,
        )
        if not window:
            continue
        if method == "silhouette":
            scored = _scores(unit, weights, tree, list(window))
            sizes.append(_best(scored) if scored else min(window[-1], max(window[0], geometric)))
        else:
            sizes.append(min(window[-1], max(window[0], geometric)))
    if top < sizes[-1]:
        sizes.append(top)
    level_scores = _scores(unit, weights, tree, [k for k in sizes[1:] if 2 <= k < n])
    return Shape(
        sizes,
        method,
        score=level_scores.get(sizes[-1]),
        level_scores=[level_scores.get(k) for k in sizes[1:]],
        candidates={str(k): v for k, v in sorted(candidates.items())},
    )


def merge_failure(n_children: int, n_parents: int, target: int) -> str | None:
    """Why a built level is not a merge toward its target (None when it is one).

    A level as large as the one below is a copy of it, not a hierarchy; one far off its target
    (more than half again, or under a third) did not follow the plan it was given."""
    if n_children > 1 and n_parents >= n_children:
        return f"{n_parents} parents for {n_children} children: nothing was merged"
    upper = max(target + 2, math.ceil(target * WINDOW))
    lower = min(max(2, math.ceil(target / 3)), target) if n_children > 2 else 1
    if n_parents > upper:
        return f"{n_parents} parents where {target} were aimed for (at most {upper})"
    if n_parents < lower:
        return f"{n_parents} parents where {target} were aimed for (at least {lower})"
    return None
