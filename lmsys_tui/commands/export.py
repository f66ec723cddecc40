"""`export RUN --format csv|json|jsonl|parquet --output PATH`: one row per query, streamed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import DbPath, Json
from lmsys_tui.commands.output import emit, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError


@handled
def export(
    run_id: Annotated[str, typer.Argument(help="Clustering run id (see `runs`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path(
        "export.csv"
    ),
    fmt: Annotated[str, typer.Option("--format", help="csv | json | jsonl | parquet.")] = "csv",
    batch_size: Annotated[int, typer.Option(help="Rows read and written per batch.")] = 10_000,
    db_path: DbPath = None,
    json_out: Json = False,
) -> None:
    """Export a run's queries with their clusters (run_id, cluster_id, distance, query...)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.export import export_run

    settings = load_settings(db_path)
    if not settings.db.exists():
        raise NotFoundError(f"no lmsys-tui store at {settings.db}")
    with stderr_progress(f"export {run_id}") as progress:
        summary = export_run(
            settings.db, run_id, fmt.lower(), output, batch_size=batch_size, progress=progress
        )
    if not json_out:
        note(f"exported {summary.rows:,} rows to {summary.output} in {summary.seconds:.1f}s")
    emit(summary.to_dict(), as_json=json_out, table=lambda: None)
