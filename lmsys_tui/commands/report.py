"""`report RUN --format md|html --output PATH`: a run's findings as one file to hand on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_ONLY, RunId
from lmsys_tui.commands.output import emit, handled, note
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.insights.map_options import ReportOptions as R
from lmsys_tui.core.options import RunArg


@handled
@takes(DB_PATH, JSON_ONLY)
def report(
    run_id: RunId,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.md or .html).")
    ] = R.output,
    format: Annotated[
        str | None, typer.Option("--format", help="md | html (default: by the suffix, else html).")
    ] = R.format,
    min_cluster_size: Annotated[
        int,
        typer.Option(
            help="Privacy threshold: smaller groups are rolled into their parent, no examples."
        ),
    ] = R.min_cluster_size,
    examples: Annotated[int, typer.Option(help="Representative queries per cluster.")] = (
        R.examples
    ),
    method: Annotated[str, typer.Option(help="Map layout: pca | umap.")] = R.method,
    summary_run_id: Annotated[
        str | None, typer.Option(help="Summary pass for titles (default: as the tree).")
    ] = R.summary_run_id,
    hierarchy_run_id: Annotated[
        str | None, typer.Option(help="Hierarchy to show (default: the newest finished).")
    ] = R.hierarchy_run_id,
    *,
    params: Params,
) -> None:
    """Write the run's hierarchy, descriptions, examples, map, provenance and notes."""
    from lmsys_tui.commands.progress import existing_store
    from lmsys_tui.core.insights.report import write_report

    run, opts = RunArg.from_params(params), R.from_params(params)
    summary = write_report(existing_store(params.db_path).db, run.run_id, opts)
    if not params.json_out:
        note(f"wrote {summary['output']} ({summary['format']}, {summary['bytes']:,} bytes)")
    emit(summary, params, root="report")
