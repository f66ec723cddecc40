"""Hybrid ranking: reciprocal rank fusion of the semantic and the keyword rankings.

RRF needs no score calibration (cosine distances and bm25 live on different scales): each list
contributes 1 / (k + rank) per item, so an item ranked well by either list rises, and one
ranked well by both rises most. k = 60 is the constant from Cormack et al. (2009).
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fused (id, score) best first; ties go to the better single rank, then the lower id."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))
