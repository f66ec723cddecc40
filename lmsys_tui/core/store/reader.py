"""Fast read-only queries over the store with the stdlib `sqlite3`.

The listing commands (`runs`, `datasets`, `status`) and the TUI's first paint must not pay for
importing SQLAlchemy (~0.4 s here): they read through this module. Table and column names are
those of `models.py`; the tests run these queries against a store that SQLModel created.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmsys_tui.core.store import schema


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when no store exists at `path` yet."""
    if schema.ensure_current(path) is None:
        yield None
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection | None, sql: str, args: tuple[Any, ...] = ()) -> list[dict]:
    if conn is None:
        return []
    return [dict(r) for r in conn.execute(sql, args)]


def list_datasets(path: Path) -> list[dict[str, Any]]:
    with connect(path) as conn:
        return _rows(
            conn,
            "SELECT d.id, d.label, d.source, d.source_ref, d.status, d.error,"
            " (SELECT COUNT(*) FROM queries q WHERE q.dataset_id = d.id) AS query_count,"
            " d.created_at, d.updated_at FROM datasets d ORDER BY d.id",
        )


def list_runs(path: Path, latest: bool = False) -> list[dict[str, Any]]:
    sql = (
        "SELECT run_id, algorithm, num_clusters, dataset_id, embedding_provider, embedding_model,"
        " embedding_dim, description, status, error, created_at, finished_at"
        " FROM clustering_runs ORDER BY created_at DESC, rowid DESC"
    )
    if latest:
        sql += " LIMIT 1"
    with connect(path) as conn:
        return _rows(conn, sql)


def table_counts(path: Path) -> dict[str, int]:
    """Row counts of the main tables (for `status`)."""
    tables = [
        "datasets",
        "queries",
        "clustering_runs",
        "clusters",
        "query_clusters",
        "summary_runs",
        "cluster_summaries",
        "hierarchy_runs",
        "cluster_hierarchies",
        "cluster_edits",
        "llm_calls",
    ]
    with connect(path) as conn:
        if conn is None:
            return dict.fromkeys(tables, 0)
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def runs_by_status(path: Path) -> dict[str, int]:
    with connect(path) as conn:
        rows = _rows(conn, "SELECT status, COUNT(*) AS n FROM clustering_runs GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
