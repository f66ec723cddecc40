"""The offline level: agglomerative clustering of centroids, parents named from keywords.

With no key the tree is still built, deterministically and in seconds: each level groups the
nodes below by Ward linkage on their unit-length centroids (a parent's centroid is the
query-weighted mean of its children's), and a parent's title is the keywords its children
share most, weighted by query count and keyword rank.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from lmsys_tui.core.hierarchy.nodes import Node
from lmsys_tui.core.hierarchy.plan import order_parents, parent_id, unit_rows
from lmsys_tui.core.hierarchy.titles import parent_title
from lmsys_tui.core.llm.offline import keyword_title

if TYPE_CHECKING:
    import numpy as np


def name_parent(children: list[Node]) -> tuple[str, str, list[str]]:
    """Title, description and keywords of a parent from its children's keywords."""
    score: dict[str, float] = defaultdict(float)
    first_seen: dict[str, int] = {}
    for child in children:
        for rank, kw in enumerate(child.keywords[:10]):
            score[kw] += child.count / (rank + 1)
            first_seen.setdefault(kw, len(first_seen))
    keywords = sorted(score, key=lambda k: (-score[k], first_seen[k]))[:10]
    largest = max(children, key=lambda c: (c.count, -c.id))
    total = sum(c.count for c in children)
    title = parent_title(children) or keyword_title(keywords) or largest.title
    about = ", ".join(keywords[:6]) or "various topics"
    description = (
        f"{len(children)} clusters with {total} queries about {about}. Largest: “{largest.title}”."
    )
    return title, description, keywords


def merge_level(
    nodes: list[Node],
    vectors: np.ndarray,
    n_parents: int,
    level: int,
    labels: np.ndarray | None = None,
) -> tuple[list[Node], np.ndarray]:
    """One level up: parents (with ids, names, counts) and their centroids.

    `labels` (a parent label per node) come from a cut of the leaves' dendrogram when the whole
    tree is built offline; without them the nodes are agglomerated here (Ward)."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering

    unit = unit_rows(vectors)
    if labels is None and n_parents >= len(nodes):
        labels = np.arange(len(nodes))
    elif labels is None:
        labels = AgglomerativeClustering(n_clusters=n_parents, linkage="ward").fit_predict(unit)
    by_label: dict[int, list[int]] = defaultdict(list)
    for idx, lab in enumerate(labels):
        by_label[int(lab)].append(idx)
    index_of = {n.id: i for i, n in enumerate(nodes)}
    groups = order_parents([[nodes[i].id for i in members] for members in by_label.values()])
    parents, centroids = [], []
    for rank, child_ids in enumerate(groups):
        children = [nodes[index_of[c]] for c in child_ids]
        weights = np.array([max(c.count, 1) for c in children], dtype=np.float32)
        rows = unit[[index_of[c] for c in child_ids]]
        centroids.append((rows * weights[:, None]).sum(0) / weights.sum())
        title, description, keywords = name_parent(children)
        parents.append(
            Node(
                id=parent_id(level, rank),
                level=level,
                title=title,
                description=description,
                count=sum(c.count for c in children),
                children=child_ids,
                keywords=keywords,
            )
        )
    return parents, unit_rows(np.vstack(centroids))
