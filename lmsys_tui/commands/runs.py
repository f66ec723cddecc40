"""Headless commands that describe what the store holds: runs, status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML
from lmsys_tui.commands.output import emit, emit_table, handled
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.commands.progress import existing_store


def _db(params: Params) -> Path:
    """The store path: a --db-path that does not exist is an error, the default is not."""
    return existing_store(params.db_path, default_may_be_missing=True).db


@handled
@takes(DB_PATH, JSON_OR_XML)
def runs(
    latest: Annotated[bool, typer.Option("--latest", help="Only the newest run.")] = False,
    *,
    params: Params,
) -> None:
    """List clustering runs, newest first."""
    from lmsys_tui.core.read import catalog

    rows = catalog.list_runs(_db(params), latest=latest)
    emit(
        {"runs": rows},
        params,
        root="runs",
        table=lambda: emit_table(
            "Clustering runs",
            ["run_id", "algorithm", "clusters", "embedding", "status", "created", "description"],
            [
                (
                    r["run_id"],
                    r["algorithm"],
                    r["num_clusters"],
                    f"{r['embedding_provider'] or ''}/{r['embedding_model'] or ''}",
                    r["status"],
                    r["created_at"],
                    r["description"],
                )
                for r in rows
            ],
        ),
    )


@handled
@takes(DB_PATH, JSON_OR_XML)
def status(*, params: Params) -> None:
    """Where the store is, its schema version, and how many rows each table holds."""
    from lmsys_tui.core.read import catalog
    from lmsys_tui.core.store import schema

    db = _db(params)
    counts = catalog.table_counts(db)
    data = {
        "db_path": str(db),
        "exists": db.exists(),
        "schema_version": schema.read_version(db),
        "code_schema_version": schema.SCHEMA_VERSION,
        "counts": counts,
        "datasets": catalog.list_datasets(db),
        "runs_by_status": catalog.runs_by_status(db),
    }
    emit(
        data,
        params,
        root="status",
        table=lambda: emit_table(
            f"Store {db} (schema v{data['schema_version'] or '-'})",
            ["table", "rows"],
            list(counts.items()),
        ),
    )
