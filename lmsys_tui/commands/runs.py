"""Headless commands that describe what the store holds: runs, status."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DbPath, Json, Xml
from lmsys_tui.commands.output import emit, emit_table, handled
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError


def _db(db_path):  # type: ignore[no-untyped-def]
    """The store path; an explicit --db-path that does not exist is an error, the default is not."""
    settings = load_settings(db_path)
    if db_path is not None and not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db}")
    return settings.db


@handled
def runs(
    latest: Annotated[bool, typer.Option("--latest", help="Only the newest run.")] = False,
    db_path: DbPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """List clustering runs, newest first."""
    from lmsys_tui.core.read import catalog

    rows = catalog.list_runs(_db(db_path), latest=latest)
    emit(
        {"runs": rows},
        as_json=json_out,
        as_xml=xml_out,
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
def status(db_path: DbPath = None, json_out: Json = False, xml_out: Xml = False) -> None:
    """Where the store is, its schema version, and how many rows each table holds."""
    from lmsys_tui.core.read import catalog
    from lmsys_tui.core.store import schema

    db = _db(db_path)
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
        as_json=json_out,
        as_xml=xml_out,
        root="status",
        table=lambda: emit_table(
            f"Store {db} (schema v{data['schema_version'] or '-'})",
            ["table", "rows"],
            list(counts.items()),
        ),
    )
