"""Headless `demo`: load, embed, k-means, summarize and merge the packaged ShareGPT data."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_ONLY
from lmsys_tui.commands.output import handled, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.demo import DemoOptions as D


@handled
@takes(DB_PATH, JSON_ONLY)
def demo(
    limit: Annotated[int, typer.Option(help="Conversations to load and cluster.")] = D.limit,
    n_clusters: Annotated[
        int | None, typer.Option(help="Clusters (default about sqrt(limit / 2)).")
    ] = None,
    model: Annotated[
        str, typer.Option(help="Model for summaries and the hierarchy (default offline).")
    ] = D.model,
    target_levels: Annotated[int, typer.Option(help="Hierarchy levels, leaves included.")] = (
        D.target_levels
    ),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Redo every stage even if the store has it.")
    ] = D.fresh,
    *,
    params: Params,
) -> None:
    """Build the demo: load ShareGPT, embed, k-means, summarize and merge (offline by default).

    Stages the store already has are reused, so a second run only reports where things are.
    """
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.demo import run_demo

    opts = D.from_params(params)
    result = run_on_store(
        load_settings(params.db_path).db,
        "demo",
        lambda store, progress: run_demo(store, opts, progress=progress),
    )
    report(result, params, root="demo")
