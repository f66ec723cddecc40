"""`map RUN [--output x.png|x.svg]`: the run's 2-D cluster map (stored once, reused)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_ONLY, RunId
from lmsys_tui.commands.output import emit, handled, safe_text, stdout_console
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.insights.map_options import MapOptions as O
from lmsys_tui.core.options import RunArg


def _print(data: dict[str, Any]) -> None:
    how = "computed" if data["computed"] else "stored"
    console = stdout_console()
    console.print(
        f"{data['run_id']}: {data['points']:,} of {data['members']:,} queries placed"
        f" ({data['method']}, {how} {data['created_at']})",
        markup=False,
        highlight=False,
    )
    biggest = sorted(data["clusters"], key=lambda c: -c["size"])[:10]
    for c in biggest:
        title = safe_text(c["title"] or f"cluster {c['cluster_id']}", 60)
        console.print(
            f"  {c['cluster_id']:>5}  {c['size']:>7,}  ({c['x']:.2f}, {c['y']:.2f})  {title}",
            markup=False,
            highlight=False,
        )
    if data.get("output"):
        console.print(f"wrote {data['output']} ({data['format']})", markup=False)


@handled
@takes(DB_PATH, JSON_ONLY)
def map_run(
    run_id: RunId,
    method: Annotated[
        str, typer.Option(help="pca (default, exact) | umap (needs the umap extra).")
    ] = O.method,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Draw the map to this .svg (labelled) or .png."),
    ] = O.output,
    node: Annotated[
        int | None,
        typer.Option(help="Light only the clusters under this hierarchy node (newest hierarchy)."),
    ] = O.node,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Compute the layout again even if stored.")
    ] = O.recompute,
    *,
    params: Params,
) -> None:
    """A run's queries placed in 2-D by their embeddings, computed once and stored."""
    from lmsys_tui.commands.progress import existing_store, stderr_progress
    from lmsys_tui.core.insights.map_stage import draw_map

    run, opts = RunArg.from_params(params), O.from_params(params)
    db = existing_store(params.db_path).db
    with stderr_progress(f"map {run.run_id}") as progress:
        data = draw_map(db, run.run_id, opts, progress=progress)
    emit(data, params, root="map", table=lambda: _print(data))
