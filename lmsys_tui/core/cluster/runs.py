"""Clustering runs: ids that never collide, the status row, and publishing a finished run.

A run row is written first with status `running`, so `runs` shows work in progress. Its
results (one `query_clusters` row per query, one `clusters` row per cluster) and the flip to
`done` are written in ONE transaction at the end: a run that is cancelled, fails or is killed
never shows half of its assignments as if it were done. Embeddings, the expensive part, are
committed by the embedding stage batch by batch and survive any of that.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store.models import db_timestamp, utcnow
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError
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


def new_run_id(algorithm: str, size: int, now: datetime | None = None) -> str:
    """`kmeans-200-20261127-031500-a3f2`: readable, sortable, and random in its last part."""
    now = now or utcnow()
    return f"{algorithm}-{size}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _raw(store: Store) -> Any:
    return store.engine.raw_connection()


def dataset_id_for(store: Store, label: str) -> int:
    raw = _raw(store)
    try:
        row = raw.cursor().execute("SELECT id FROM datasets WHERE label = ?", (label,)).fetchone()
    finally:
        raw.close()
    if row is None:
        raise NotFoundError(f"no dataset labelled {label!r} in the store")
    return int(row[0])


def select_query_ids(store: Store, dataset_id: int | None, limit: int | None) -> list[int] | None:
    """The queries a run covers: None means every query; else the first `limit` by id."""
    if dataset_id is None and limit is None:
        return None
    sql = "SELECT id FROM queries"
    args: list[Any] = []
    if dataset_id is not None:
        sql += " WHERE dataset_id = ?"
        args.append(dataset_id)
    sql += " ORDER BY id"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    raw = _raw(store)
    try:
        return [int(r[0]) for r in raw.cursor().execute(sql, args)]
    finally:
        raw.close()


def count_queries(store: Store) -> int:
    raw = _raw(store)
    try:
        return int(raw.cursor().execute("SELECT COUNT(*) FROM queries").fetchone()[0])
    finally:
        raw.close()


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
    raw = _raw(store)
    try:
        for _ in range(20):
            run_id = new_run_id(algorithm, size)
            try:
                raw.cursor().execute(
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
                raw.commit()
                return run_id
            except sqlite3.IntegrityError:
                raw.rollback()
        raise RuntimeError("could not draw a free run id")  # pragma: no cover
    finally:
        raw.close()


def mark_run(
    store: Store,
    run_id: str,
    status: str,
    *,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
    embedding_dim: int | None = None,
) -> None:
    raw = _raw(store)
    try:
        raw.cursor().execute(
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
        raw.commit()
    finally:
        raw.close()


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
    raw = _raw(store)
    cur = raw.cursor()
    try:
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
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        cur.close()
        raw.close()


def require_positive(**values: int | float | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number")
