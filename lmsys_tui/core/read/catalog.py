"""What the store holds, store-wide: datasets, clustering runs, row counts.

The listing commands (`runs`, `datasets`, `status`) and the runs screen read through here; a
path without a store yet reads as empty (no error), so a new home lists nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.store.sql import maybe_reader, rows, scalar

TABLES = (
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
)


def list_datasets(path: Path) -> list[dict[str, Any]]:
    with maybe_reader(path) as conn:
        return rows(
            conn,
            "SELECT d.id, d.label, d.source, d.source_ref, d.status, d.error,"
            " (SELECT COUNT(*) FROM queries q WHERE q.dataset_id = d.id) AS query_count,"
            " d.created_at, d.updated_at FROM datasets d ORDER BY d.id",
        )


def list_runs(path: Path, latest: bool = False) -> list[dict[str, Any]]:
    """Clustering runs in any state, newest first."""
    sql = (
        "SELECT run_id, algorithm, num_clusters, dataset_id, embedding_provider, embedding_model,"
        " embedding_dim, description, status, error, created_at, finished_at"
        " FROM clustering_runs ORDER BY created_at DESC, rowid DESC"
    )
    if latest:
        sql += " LIMIT 1"
    with maybe_reader(path) as conn:
        return rows(conn, sql)


def table_counts(path: Path) -> dict[str, int]:
    """Row counts of the main tables (for `status`)."""
    with maybe_reader(path) as conn:
        if conn is None:
            return dict.fromkeys(TABLES, 0)
        return {t: int(scalar(conn, f"SELECT COUNT(*) FROM {t}", default=0)) for t in TABLES}


def runs_by_status(path: Path) -> dict[str, int]:
    with maybe_reader(path) as conn:
        found = rows(conn, "SELECT status, COUNT(*) AS n FROM clustering_runs GROUP BY status")
    return {r["status"]: r["n"] for r in found}
