"""`export RUN --format csv|json|jsonl|parquet --output PATH`: one row per query, streamed.

Defaults come from `ExportOptions`, which the TUI's export form builds too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_ONLY, RunId
from lmsys_tui.commands.output import emit, handled, note
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.export import STDOUT
from lmsys_tui.core.export import ExportOptions as X
from lmsys_tui.core.options import RunArg
from lmsys_tui.errors import UsageError


@handled
@takes(DB_PATH, JSON_ONLY)
def export(
    run_id: RunId,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; - for stdout.")
    ] = X.output,
    format: Annotated[str, typer.Option("--format", help="csv | json | jsonl | parquet.")] = (
        X.format
    ),
    batch_size: Annotated[int, typer.Option(help="Rows read and written per batch.")] = (
        X.batch_size
    ),
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Keep CSV cells as stored; by default a cell starting with = + - @ tab or CR "
            "gets a ' in front, so a spreadsheet shows it as text instead of running it.",
        ),
    ] = X.raw_csv,
    *,
    params: Params,
) -> None:
    """Export a run's queries with their clusters (run_id, cluster_id, distance, query...)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.export import export_run

    run, opts = RunArg.from_params(params), X.from_params(params)
    to_stdout = opts.output == STDOUT
    if to_stdout and params.json_out:
        raise UsageError("--json and --output - both want stdout; give --output a file")
    db = load_settings(params.db_path).db
    with stderr_progress(f"export {run_id}") as progress:
        summary = export_run(
            db, run.run_id, opts, stdout=sys.stdout.buffer if to_stdout else None,
            progress=progress,
        )  # fmt: skip
    if not params.json_out:
        where = "stdout" if to_stdout else summary.output
        note(f"exported {summary.rows:,} rows to {where} in {summary.seconds:.1f}s")
    emit(summary.to_dict(), params)
