"""`evaluate stability RUN --seeds N`: does the tree hold when only the seed changes?

The run's algorithm is fitted again on the same vectors with N seeds (the run's own first, so
fit 0 is the run itself), and each fit gets the offline levels of the stored hierarchy's sizes
(nested cuts of its leaves' agglomeration, as merge-clusters builds them). The figure per level
is the ARI between every pair of fits, over the queries both clustered: 1 means the seed
changes nothing, near 0 means the level is an accident of the seed. With labels, each fit's
V-measure per level is given too. Nothing is written.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store


def _params(run: dict[str, Any], seed: int) -> Any:
    """The run's algorithm options as stored, with another seed."""
    from lmsys_tui.core.cluster.density import HdbscanParams
    from lmsys_tui.core.cluster.kmeans import KMeansParams

    kinds = {"kmeans": KMeansParams, "hdbscan": HdbscanParams}
    kind = kinds.get(run["algorithm"])
    if kind is None:
        raise UsageError(f"run {run['run_id']!r}: cannot refit algorithm {run['algorithm']!r}")
    stored = sql.loads(run["parameters"], {})
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in stored.items() if k in names} | {"random_state": seed})


def level_labels(labels: np.ndarray, centroids: dict[int, np.ndarray], sizes: list[int]) -> Any:
    """Per query, its node at each level above the leaves (nested cuts of the leaves' Ward
    agglomeration, leaves weighted as merge-clusters weights them); -1 for noise."""
    import numpy as np

    from lmsys_tui.core.hierarchy.plan import unit_rows
    from lmsys_tui.core.hierarchy.shape import cuts, dendrogram

    leaf_ids = sorted(c for c in centroids if c >= 0)
    out = np.full((len(labels), len(sizes)), -1, dtype=np.int64)
    if len(leaf_ids) < 2 or not sizes:
        return out
    unit = unit_rows(np.vstack([centroids[c] for c in leaf_ids]))
    cut = cuts(dendrogram(unit), [min(k, len(leaf_ids)) for k in sizes])
    row_of = {c: i for i, c in enumerate(leaf_ids)}
    clustered = labels >= 0
    rows = np.array([row_of[int(c)] for c in labels[clustered]], dtype=np.int64)
    out[clustered] = cut[rows]
    return out


def _pairwise(parts: list[np.ndarray]) -> dict[str, Any]:
    """ARI of every pair of partitions over the queries both clustered (noise is -1)."""
    from sklearn.metrics import adjusted_rand_score

    scores = []
    for a, b in itertools.combinations(parts, 2):
        both = (a >= 0) & (b >= 0)
        if both.sum() >= 2:
            scores.append(float(adjusted_rand_score(a[both], b[both])))
    if not scores:
        return {"ari_mean": None, "ari_min": None, "ari_max": None, "pairs": 0}
    return {
        "ari_mean": round(sum(scores) / len(scores), 4),
        "ari_min": round(min(scores), 4),
        "ari_max": round(max(scores), 4),
        "pairs": len(scores),
    }


def _truth(store: Store, ids: np.ndarray) -> list[str | None]:
    """Each query's label (None: none loaded)."""
    with sql.connection(store) as conn:
        found = dict(
            sql.tuples(conn, f"SELECT id, label FROM queries WHERE id {sql.IN_IDS}",
                       (sql.id_list(ids),))
        )  # fmt: skip
    return [found.get(int(i)) for i in ids]


def stability(
    store: Store,
    run_id: str,
    seeds: int = 5,
    hierarchy: str | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> dict[str, Any]:
    """Refit the run `seeds` times and compare the fits level by level."""
    import numpy as np

    from lmsys_tui.core.embed import Space, load_vectors
    from lmsys_tui.core.evaluate.metrics import partition_scores
    from lmsys_tui.core.hierarchy.plan import unit_rows
    from lmsys_tui.core.hierarchy.shape import choose_shape

    if seeds < 2:
        raise UsageError("--seeds must be at least 2 (stability compares fits)")
    with sql.connection(store) as conn:
        run = sql.one(
            conn,
            "SELECT run_id, algorithm, parameters, embedding_provider, embedding_model,"
            " embedding_dim FROM clustering_runs WHERE run_id = ? AND status = 'done'",
            (run_id,),
        )
        if run is None:
            raise NotFoundError(f"no finished clustering run {run_id!r} (see `runs`)")
        found = sql.tuples(
            conn,
            "SELECT query_id FROM query_clusters WHERE run_id = ? ORDER BY query_id",
            (run_id,),
        )
    query_ids = [int(r[0]) for r in found]
    base = int(sql.loads(run["parameters"], {}).get("random_state", 42))
    space = Space(run["embedding_provider"], run["embedding_model"], int(run["embedding_dim"]))
    ids, X = load_vectors(store, space, query_ids)
    sizes = _tree_sizes(store, run_id, hierarchy)
    leaves, uppers, used = [], [], []
    for i in range(seeds):
        if cancelled():
            raise Cancelled(f"stability cancelled after {i} of {seeds} fits")
        seed = base + i
        progress(i, seeds, f"fit {i + 1} of {seeds} (seed {seed})")
        result = _params(run, seed).fit(ids, X, no_progress, cancelled)
        labels = np.asarray(result.labels, dtype=np.int64)
        kept = sorted(c for c in result.centroids if c >= 0)
        if i == 0 and not sizes and len(kept) >= 2:
            # no hierarchy: the sizes merge-clusters would choose for fit 0 (it merges two
            # clusters or more; with fewer, only the leaves are compared)
            unit = unit_rows(np.vstack([result.centroids[c] for c in kept]))
            counts = [int((labels == c).sum()) for c in kept]
            sizes = choose_shape(unit, counts, 3).sizes[1:]
        leaves.append(labels)
        uppers.append(level_labels(labels, result.centroids, sizes))
        used.append(seed)
    progress(seeds, seeds, "fits compared")
    truth = _truth(store, ids)
    known = np.array([t is not None for t in truth])
    parts_by_level = [leaves] + [[u[:, k] for u in uppers] for k in range(len(sizes))]
    levels = []
    for depth, parts in enumerate(parts_by_level):
        entry: dict[str, Any] = {
            "level": depth,
            "name": "leaves" if depth == 0 else f"level {depth}",
            "nodes": [len(set(p[p >= 0].tolist())) for p in parts],
            **_pairwise(parts),
        }
        if known.any():
            vs = []
            for p in parts:
                keep = known & (p >= 0)
                labs = [t for t, k in zip(truth, keep, strict=True) if k]
                vs.append(partition_scores(labs, p[keep].tolist())["v_measure"])
            entry["v_measure"] = vs
        levels.append(entry)
    return {
        "run_id": run_id,
        "algorithm": run["algorithm"],
        "seeds": used,
        "queries": len(ids),
        "sizes": sizes,
        "levels": levels,
    }


def _tree_sizes(store: Store, run_id: str, hierarchy: str | None) -> list[int]:
    """Nodes per level above the leaves of the given (or newest finished) hierarchy."""
    from lmsys_tui.core.evaluate.labels import pick_hierarchy

    with sql.connection(store) as conn:
        head = pick_hierarchy(conn, run_id, hierarchy)
        if head is None:
            return []
        found = sql.tuples(
            conn,
            "SELECT level, COUNT(*) FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
            " GROUP BY level ORDER BY level",
            (head["hierarchy_run_id"],),
        )
    return [int(n) for lvl, n in found if lvl > 0]
