"""Headless `facets RUN --by FACET [--level N]`: the lift pivot of a facet over a run's nodes.

Defaults come from `FacetOptions`, which the TUI's pivot builds too.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML, RunId
from lmsys_tui.commands.output import emit, emit_table, handled
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.insights.lift import FacetOptions as F


def _table(data: dict[str, Any]) -> None:
    level = f"level {data['level']}" if data["level"] else "clusters"
    rows = [
        (
            c["node_id"], c["title"], c["value"], c["count"], c["size"],
            f"{c['share']:.1%}", f"{c['overall_share']:.1%}", f"{c['lift']:.2f}",
            f"{c['ci_low']:.2f}-{c['ci_high']:.2f}", f"{c['q_value']:.2g}",
        )
        for c in data["significant"]
    ]  # fmt: skip
    emit_table(
        f"Significant lifts of {data['by']} over {level} of {data['run_id']}"
        f" ({len(rows)} of {data['tests']} cells, BH q <= {data['alpha']:g})",
        ["node", "title", data["by"], "count", "size", "share", "run", "lift", "95% CI", "q"],
        rows,
    )


@handled
@takes(DB_PATH, JSON_OR_XML)
def facets(
    run_id: RunId,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="model | language | dataset | redacted | flagged, or a label column of the "
            "queries.",
        ),
    ] = F.by,
    level: Annotated[
        int | None,
        typer.Option(help="Hierarchy level to pivot over (default: the run's clusters)."),
    ] = F.level,
    hierarchy_run_id: Annotated[
        str | None,
        typer.Option("--hierarchy", help="Hierarchy for --level (default: the run's newest)."),
    ] = F.hierarchy_run_id,
    alpha: Annotated[
        float, typer.Option(help="False discovery rate for flagging cells (Benjamini-Hochberg).")
    ] = F.alpha,
    significant_only: Annotated[
        bool, typer.Option("--significant-only", help="In --json, only the flagged cells.")
    ] = F.significant_only,
    *,
    params: Params,
) -> None:
    """Per cluster (or hierarchy node) the share of each facet value, its lift over the
    run-wide share with a 95% interval, and an exact test corrected for multiple testing."""
    from lmsys_tui.commands.progress import existing_store
    from lmsys_tui.core.insights.lift import pivot

    opts = F.from_params(params)
    data = pivot(existing_store(params.db_path).db, opts)
    emit(data, params, root="facets", table=lambda: _table(data))
