"""Clustering runs: ids that never collide, the status row, publishing a finished run, and
reading a run and its clusters back (the later stages start from them).

A run row is written first with status `running`, so `runs` shows work in progress. Its
results (one `query_clusters` row per query, one `clusters` row per cluster) and the flip to
`done` are written in ONE transaction at the end: a run that is cancelled, fails or is killed
never shows half of its assignments as if it were done. Embeddings, the expensive part, are
committed by the embedding stage batch by batch and survive any of that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import queries, sql
from lmsys_tui.core.store.sql import db_timestamp, new_id, utcnow
from lmsys_tui.errors import Cancelled, NotFoundError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store


@dataclass
class ClusterResult:
    """What an algorithm produced, aligned row by row with `ids`."""

    ids: np.ndarray  # int64 query ids
    labels: np.ndarray  # int32 cluster per query (-1 = noise)
    distances: np.ndarray  # float32 distance to the cluster centroid (NaN = none)
    confidence: np.ndarray  # float32 in [0, 1]
    centroids: dict[int, np.ndarray]  # cluster id -> float32 centroid in the embedding space
    keywords: dict[int, list[str]] = field(default_factory=dict)
    cluster_metrics: dict[int, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSummary:
    run_id: str
    algorithm: str
    status: str
    num_clusters: int
    n_queries: int
    embedding: dict[str, Any]
    embedded: dict[str, Any]
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    seconds: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_id_for(store: Store, label: str) -> int:
    """The id a run records for its `--dataset` label."""
    with sql.connection(store) as conn:
        return queries.dataset_id(conn, label)


def start_run(
    store: Store,
    *,
    algorithm: str,
    size: int,
    num_clusters: int | None,
    dataset_id: int | None,
    space: dict[str, Any],
    parameters: dict[str, Any],
    description: str | None,
) -> str:
    """Insert the `running` row under a fresh id (a clash, however unlikely, draws again)."""
    with sql.connection(store) as conn:
        for _ in range(20):
            run_id = new_id(f"{algorithm}-{size}")
            try:
                conn.cursor().execute(
                    "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, dataset_id,"
                    " embedding_provider, embedding_model, embedding_dim, parameters, metrics,"
                    " description, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,'running',?)",
                    (
                        run_id,
                        algorithm,
                        num_clusters,
                        dataset_id,
                        space.get("provider"),
                        space.get("model"),
                        space.get("dim"),
                        json.dumps(parameters, default=str),
                        json.dumps({}),
                        description or None,
                        db_timestamp(utcnow()),
                    ),
                )
                conn.commit()
                return run_id
            except sql.IntegrityError:
                conn.rollback()
        raise RuntimeError("could not draw a free run id")  # pragma: no cover


def mark_run(
    store: Store,
    run_id: str,
    status: str,
    *,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
    embedding_dim: int | None = None,
) -> None:
    with sql.transaction(store) as conn:
        conn.cursor().execute(
            "UPDATE clustering_runs SET status = ?, error = ?, finished_at = ?,"
            " metrics = COALESCE(?, metrics), embedding_dim = COALESCE(?, embedding_dim)"
            " WHERE run_id = ?",
            (
                status,
                error,
                db_timestamp(utcnow()),
                json.dumps(metrics, default=str) if metrics is not None else None,
                embedding_dim,
                run_id,
            ),
        )


@contextmanager
def guarded_run(store: Store, run_id: str) -> Iterator[None]:
    """Record how a run ended: cancelled (Ctrl-C or the cancel callable) or failed (+ error)."""
    try:
        yield
    except (Cancelled, KeyboardInterrupt):
        mark_run(store, run_id, "cancelled", error="cancelled")
        raise Cancelled(
            f"run {run_id} cancelled; it has no results (embeddings computed so far are kept)"
        ) from None
    except Exception as exc:
        mark_run(store, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _f(value: float) -> float | None:
    return None if value != value else float(value)  # NaN -> NULL


def publish(
    store: Store,
    run_id: str,
    result: ClusterResult,
    *,
    embedding_dim: int,
    chunk_size: int = 5000,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> None:
    """Write assignments, clusters and `done` in one transaction (rolled back on cancel)."""
    import numpy as np

    n = len(result.ids)
    labels, counts = np.unique(result.labels, return_counts=True)
    with sql.transaction(store) as conn:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        for start in range(0, n, chunk_size):
            if cancelled():
                raise Cancelled("cancelled")
            stop = min(n, start + chunk_size)
            rows = zip(
                [run_id] * (stop - start),
                result.ids[start:stop].tolist(),
                result.labels[start:stop].tolist(),
                [_f(x) for x in result.confidence[start:stop].tolist()],
                [_f(x) for x in result.distances[start:stop].tolist()],
                strict=True,
            )
            cur.executemany(
                "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
                " distance) VALUES (?,?,?,?,?)",
                rows,
            )
            progress(stop, n, "writing assignments")
        cur.executemany(
            "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
            " VALUES (?,?,?,?,?,?)",
            [
                (
                    run_id,
                    int(label),
                    int(count),
                    (
                        np.asarray(result.centroids[int(label)], dtype="<f4").tobytes()
                        if int(label) in result.centroids
                        else None
                    ),
                    json.dumps(result.keywords.get(int(label), []), ensure_ascii=False),
                    json.dumps(result.cluster_metrics.get(int(label), {}), default=str),
                )
                for label, count in zip(labels.tolist(), counts.tolist(), strict=True)
            ],
        )
        found = sum(1 for label in labels.tolist() if label != -1)
        cur.execute(
            "UPDATE clustering_runs SET status = 'done', error = NULL, num_clusters = ?,"
            " metrics = ?, embedding_dim = ?, finished_at = ? WHERE run_id = ?",
            (
                found,
                json.dumps(result.metrics, default=str),
                embedding_dim,
                db_timestamp(utcnow()),
                run_id,
            ),
        )


# -- reading a run back ------------------------------------------------------------------------

RUN_COLUMNS = (
    "run_id, algorithm, num_clusters, embedding_provider, embedding_model, embedding_dim, status"
)


def load_run(store: Store, run_id: str) -> dict[str, Any]:
    """The run row (its embedding space above all); NotFoundError if there is none."""
    with sql.connection(store) as conn:
        row = sql.one(
            conn, f"SELECT {RUN_COLUMNS} FROM clustering_runs WHERE run_id = ?", (run_id,)
        )
    if row is None:
        raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")
    return row


@dataclass
class ClusterRow:
    cluster_id: int
    size: int
    centroid: bytes | None
    keywords: list[str]


def load_clusters(store: Store, run_id: str) -> list[ClusterRow]:
    """The run's clusters (noise included) in id order."""
    with sql.connection(store) as conn:
        found = sql.tuples(
            conn,
            "SELECT cluster_id, size, centroid, keywords FROM clusters WHERE run_id = ?"
            " ORDER BY cluster_id",
            (run_id,),
        )
    return [
        ClusterRow(int(cid), int(size or 0), centroid, [str(k) for k in sql.loads(keywords, [])])
        for cid, size, centroid, keywords in found
    ]
