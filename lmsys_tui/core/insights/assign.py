"""`cluster assign RUN --dataset D`: new queries attached to an existing run, without a refit.

The new dataset's queries are embedded in the run's own space (what is stored is never
embedded again), then placed:

- k-means: the nearest centroid, with the margin confidence the fit itself stores
  (`kmeans.assign`);
- HDBSCAN: the fitted clusterer is not kept after a run, so `approximate_predict` cannot be
  called on it later; its stand-in asks the same question of the stored result: the labels of
  the `--neighbours` nearest members of the run (cosine, among at most `MEMBER_SAMPLE` of them)
  vote, the share of the winning vote is the confidence, and noise wins when noise is the
  majority, as density prediction puts a point far from every cluster into noise.

Memberships, cluster sizes and the query counts of every hierarchy node above a cluster are
updated in one transaction, with a `cluster_edits` row saying what was assigned; queries the
run already holds are skipped, so assigning again adds nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store

MEMBER_SAMPLE = 50_000  # members an HDBSCAN vote looks among (memory: sample x dim floats)


@dataclass
class AssignOptions(Options):
    dataset: str = option("", missing="choose the dataset to assign (--dataset)")
    neighbours: int = option(15, minimum=1)  # HDBSCAN runs: members that vote
    embed_backend: str = option("auto")
    new_run: bool = option(False)  # assign into a copy of the run (compare shows the change)
    seed: int = 42


@dataclass
class AssignResult:
    run_id: str  # the run that took the queries (a new copy with --new-run)
    dataset: str
    algorithm: str
    assigned: int = 0
    skipped: int = 0  # already in the run
    not_embeddable: int = 0
    noise: int = 0
    by_cluster: dict[int, int] = field(default_factory=dict)
    hierarchies: int = 0  # hierarchies whose counts were rolled up
    source_run_id: str | None = None  # with --new-run: the run that was copied
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nearest_centroid(
    conn: Any, run_id: str, X: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    from lmsys_tui.core.cluster.kmeans import assign

    found = sql.tuples(
        conn,
        "SELECT cluster_id, centroid FROM clusters WHERE run_id = ? AND cluster_id >= 0"
        " AND centroid IS NOT NULL ORDER BY cluster_id",
        (run_id,),
    )
    if not found:
        raise UsageError(f"run {run_id!r} stores no centroids to assign to")
    ids = np.array([r[0] for r in found])
    centers = np.vstack([np.frombuffer(r[1], dtype="<f4") for r in found])
    if centers.shape[1] != X.shape[1]:
        raise UsageError(f"run {run_id!r} has {centers.shape[1]}-d centroids, not {X.shape[1]}")
    got = assign(X, centers)
    return ids[got.labels], got.distances, got.confidence


def _member_vote(
    store: Store, space: Any, conn: Any, run_id: str, X: np.ndarray, seed: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    from lmsys_tui.core.embed import load_vectors

    members = sql.tuples(
        conn, "SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ?", (run_id,)
    )
    if len(members) > MEMBER_SAMPLE:
        pick = np.random.default_rng(seed).choice(len(members), MEMBER_SAMPLE, replace=False)
        members = [members[i] for i in sorted(pick)]
    label_of = dict(members)
    ids, M = load_vectors(store, space, [m[0] for m in members])
    member_labels = np.array([label_of[int(i)] for i in ids])
    k = min(k, len(ids))
    labels = np.empty(len(X), dtype=np.int64)
    conf = np.empty(len(X), dtype=np.float32)
    for s in range(0, len(X), 1024):
        sims = X[s : s + 1024] @ M.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for row, idx in enumerate(near):
            values, counts = np.unique(member_labels[idx], return_counts=True)
            best = counts.argmax()
            labels[s + row] = values[best]
            conf[s + row] = counts[best] / k
    centroids = {
        int(c): np.frombuffer(b, dtype="<f4")
        for c, b in sql.tuples(
            conn,
            "SELECT cluster_id, centroid FROM clusters WHERE run_id = ? AND centroid IS NOT NULL",
            (run_id,),
        )
    }
    dist = np.array(
        [np.linalg.norm(x - centroids[int(c)]) if int(c) in centroids else np.nan
         for x, c in zip(X, labels, strict=True)],
        dtype=np.float32,
    )  # fmt: skip
    return labels, dist, conf


def assign_dataset(
    store: Store,
    run_id: str,
    opts: AssignOptions,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> AssignResult:
    """Attach the dataset's queries that the run lacks to the run's clusters (see above)."""
    from lmsys_tui.core.cluster.runs import load_run
    from lmsys_tui.core.embed import embed_queries, load_vectors, resolve_space
    from lmsys_tui.core.store.queries import select_query_ids

    run = load_run(store, run_id)
    if run["status"] != "done":
        raise NotFoundError(f"run {run_id!r} is {run['status']}; it has no clusters yet")
    wanted = select_query_ids(store, opts.dataset) or []
    with sql.connection(store) as conn:
        have = {
            int(r[0])
            for r in sql.tuples(
                conn, "SELECT query_id FROM query_clusters WHERE run_id = ?", (run_id,)
            )
        }
    new = [q for q in wanted if q not in have]
    source = None
    if opts.new_run and new:  # a copy holds the same members: only made when it gains some
        source, run_id = run_id, copy_run(store, run_id, opts.dataset)
    result = AssignResult(run_id, opts.dataset, str(run["algorithm"]), source_run_id=source)
    result.skipped = len(wanted) - len(new)
    if not new:
        result.message = f"nothing to assign: the run holds all {len(wanted)} queries" + (
            "; no copy made" if opts.new_run else ""
        )
        return result
    with sql.connection(store) as conn:
        params = sql.loads(
            sql.scalar(conn, "SELECT parameters FROM clustering_runs WHERE run_id = ?", (run_id,)),
            {},
        )
    space = resolve_space(
        run["embedding_provider"], run["embedding_model"], params.get("dimensions")
    )
    progress(0, len(new), "embed")
    embed_queries(store, space, new, backend=opts.embed_backend, cancelled=cancelled)
    ids, X = load_vectors(store, space, new)
    result.not_embeddable = len(new) - len(ids)
    progress(0, len(ids), "assign")
    with sql.connection(store) as conn:
        if run["algorithm"] == "kmeans":
            labels, dist, conf = _nearest_centroid(conn, run_id, X)
        else:
            labels, dist, conf = _member_vote(
                store, space, conn, run_id, X, opts.seed, opts.neighbours
            )
    counts: dict[int, int] = {}
    for label in labels.tolist():
        counts[int(label)] = counts.get(int(label), 0) + 1
    result.hierarchies = _write(store, run_id, opts.dataset, (ids, labels, dist, conf), counts)
    result.assigned = len(ids)
    result.noise = counts.get(-1, 0)
    result.by_cluster = dict(sorted(counts.items()))
    progress(len(ids), len(ids), "assign")
    result.message = (
        f"assigned {result.assigned:,} queries of {opts.dataset} to run {run_id} "
        f"({len(counts)} clusters" + (f", {result.noise} noise" if result.noise else "") + ")"
    )
    return result


def copy_run(store: Store, run_id: str, dataset: str) -> str:
    """A new run holding the run's clusters and memberships (not its summary passes or
    hierarchies, whose ids are their own); returns its id."""
    with sql.transaction(store) as conn:
        algorithm, k = sql.tuples(
            conn, "SELECT algorithm, num_clusters FROM clustering_runs WHERE run_id = ?", (run_id,)
        )[0]
        new = sql.new_id(f"{algorithm}-{k or 'x'}-assign")
        now = sql.db_timestamp(sql.utcnow())
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, dataset_id,"
            " embedding_provider, embedding_model, embedding_dim, parameters, metrics,"
            " description, status, created_at, finished_at) SELECT ?, algorithm, num_clusters,"
            " dataset_id, embedding_provider, embedding_model, embedding_dim, parameters,"
            " metrics, ?, status, ?, ? FROM clustering_runs WHERE run_id = ?",
            (new, f"{run_id} + dataset {dataset} (cluster assign)", now, now, run_id),
        )
        cur.execute(
            "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
            " SELECT ?, cluster_id, size, centroid, keywords, metrics FROM clusters"
            " WHERE run_id = ?",
            (new, run_id),
        )
        cur.execute(
            "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
            " distance) SELECT ?, query_id, cluster_id, confidence_score, distance"
            " FROM query_clusters WHERE run_id = ?",
            (new, run_id),
        )
    return new


def _write(
    store: Store,
    run_id: str,
    dataset: str,
    placed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    counts: dict[int, int],
) -> int:
    """Memberships, sizes, hierarchy roll-ups and the audit row, in one transaction; returns
    how many hierarchies were rolled up."""
    import math

    from lmsys_tui.core.curate.frame import default_editor

    ids, labels, dist, conf = placed
    with sql.transaction(store) as conn:
        cur = conn.cursor()
        cur.executemany(
            "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
            " distance) VALUES (?, ?, ?, ?, ?)",
            [
                (run_id, int(q), int(c), float(p), None if math.isnan(d) else float(d))
                for q, c, d, p in zip(ids, labels, dist, conf, strict=True)
            ],
        )
        for cluster, n in counts.items():
            cur.execute(
                "UPDATE clusters SET size = size + ? WHERE run_id = ? AND cluster_id = ?",
                (n, run_id, cluster),
            )
            if cur.rowcount == 0:  # noise in a run that had none
                cur.execute(
                    "INSERT INTO clusters (run_id, cluster_id, size, keywords, metrics)"
                    " VALUES (?, ?, ?, '[]', '{}')",
                    (run_id, cluster, n),
                )
        hierarchies = [
            r[0]
            for r in sql.tuples(
                conn, "SELECT hierarchy_run_id FROM hierarchy_runs WHERE run_id = ?", (run_id,)
            )
        ]
        for hier in hierarchies:
            parent = dict(
                sql.tuples(
                    conn,
                    "SELECT cluster_id, parent_cluster_id FROM cluster_hierarchies"
                    " WHERE hierarchy_run_id = ?",
                    (hier,),
                )
            )
            added: dict[int, int] = {}
            for cluster, n in counts.items():
                node: int | None = cluster
                while node is not None and node in parent:
                    added[node] = added.get(node, 0) + n
                    node = parent[node]
            cur.executemany(
                "UPDATE cluster_hierarchies SET query_count = query_count + ?"
                " WHERE hierarchy_run_id = ? AND cluster_id = ?",
                [(n, hier, node) for node, n in added.items()],
            )
        cur.execute(
            "INSERT INTO cluster_edits (run_id, cluster_id, edit_type, editor, old_value,"
            " new_value, reason, timestamp) VALUES (?, NULL, 'assign', ?, NULL, ?, ?, ?)",
            (
                run_id,
                default_editor(),  # as every edit names its editor (not "cli" for everyone)
                json.dumps({"dataset": dataset, "assigned": len(ids),
                            "by_cluster": {str(k): v for k, v in counts.items()}}),
                f"cluster assign --dataset {dataset}",
                sql.db_timestamp(sql.utcnow()),
            ),
        )  # fmt: skip
    return len(hierarchies)
