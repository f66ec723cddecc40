"""A hierarchy's inputs: the leaves (the run's clusters named by one summary pass), the vectors
that place them, and the level sizes chosen from those vectors. The stage (`merge`) and its dry
run (`estimate`) both start here, so the dry run prices the levels the stage will build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy.nodes import Node, title_keywords
from lmsys_tui.core.hierarchy.plan import unit_rows
from lmsys_tui.core.hierarchy.shape import Shape, choose_shape
from lmsys_tui.errors import LmsysError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.hierarchy.options import MergeOptions
    from lmsys_tui.core.store.db import Store


def load_leaves(
    store: Store, run_id: str, summaries: dict[int, dict[str, Any]]
) -> tuple[list[Node], np.ndarray, int]:
    """Leaf nodes (clusters with their pass's titles) and their unit centroids."""
    import numpy as np

    from lmsys_tui.core.llm.offline import keyword_title
    from lmsys_tui.core.summarize import load_clusters

    clusters = [c for c in load_clusters(store, run_id) if c.cluster_id >= 0]
    if len(clusters) < 2:
        raise UsageError(f"run {run_id!r} has fewer than two clusters: nothing to merge")
    leaves, vecs, missing = [], [], 0
    for c in clusters:
        if not c.centroid:
            raise UsageError(f"cluster {c.cluster_id} of run {run_id!r} has no centroid")
        s = summaries.get(c.cluster_id)
        done = s is not None and s["status"] == "done" and s["title"]
        made = (s or {}).get("parameters", {})  # offline passes: phrases name parents best
        keywords = list(made.get("phrases") or made.get("keywords") or c.keywords)
        if done:
            title, description = s["title"], s["description"] or ""  # type: ignore[index]
        else:
            missing += 1
            title = keyword_title(keywords) or f"Cluster {c.cluster_id}"
            description = ""
        leaves.append(
            Node(
                c.cluster_id,
                0,
                title,
                description,
                c.size,
                keywords=keywords or title_keywords(title),
            )
        )
        vecs.append(np.frombuffer(c.centroid, dtype=np.float32))
    return leaves, unit_rows(np.vstack(vecs)), missing


def parent_vectors(parents: list[Node], children: list[Node], vectors: np.ndarray) -> np.ndarray:
    """Query-weighted mean of the children's vectors, unit length."""
    import numpy as np

    index = {n.id: i for i, n in enumerate(children)}
    out = []
    for p in parents:
        idx = [index[c] for c in p.children]
        w = np.array([max(children[i].count, 1) for i in idx], dtype=np.float32)
        out.append((vectors[idx] * w[:, None]).sum(0) / w.sum())
    return unit_rows(np.vstack(out))


def text_vectors(
    run: dict[str, Any], texts: list[str], model: str | None = None
) -> np.ndarray | None:
    """Titles + descriptions embedded in the run's space (Clio embeds them, not centroids),
    or with `model` (--embedding-model, a sentence-transformers model) when one is given.

    None when the run records no space or its encoder cannot be had (e.g. an OpenAI space
    without a key): the nodes' centroids stand in, and the result says so.
    """
    if not (run["embedding_provider"] and run["embedding_model"] and run["embedding_dim"]):
        return None
    from lmsys_tui.core.embed import Space, embed_few, resolve_space

    try:
        space = (
            resolve_space(model=model)
            if model is not None
            else Space(
                str(run["embedding_provider"]),
                str(run["embedding_model"]),
                int(run["embedding_dim"]),
            )
        )
        return unit_rows(embed_few(space, [t or "-" for t in texts]))
    except (LmsysError, OSError, ValueError):
        return None


def leaf_shape(leaves: list[Node], vectors: np.ndarray, opts: MergeOptions) -> Shape:
    """The level sizes for these leaves: chosen from the data unless the options fix them."""
    return choose_shape(
        vectors,
        [n.count for n in leaves],
        opts.target_levels,
        top_nodes=opts.top_nodes,
        merge_ratio=opts.merge_ratio,
    )
