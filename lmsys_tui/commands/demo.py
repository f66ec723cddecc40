"""Headless `demo`: load, embed, k-means, summarize and merge the packaged ShareGPT data."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DbPath, Json
from lmsys_tui.commands.output import emit, handled, note
from lmsys_tui.config import load_settings


@handled
def demo(
    limit: Annotated[int, typer.Option(help="Conversations to load and cluster.")] = 3000,
    n_clusters: Annotated[
        int | None, typer.Option(help="Clusters (default about sqrt(limit / 2)).")
    ] = None,
    model: Annotated[
        str, typer.Option(help="Model for summaries and the hierarchy (default offline).")
    ] = "offline",
    target_levels: Annotated[int, typer.Option(help="Hierarchy levels, leaves included.")] = 3,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Redo every stage even if the store has it.")
    ] = False,
    db_path: DbPath = None,
    json_out: Json = False,
) -> None:
    """Build the demo: load ShareGPT, embed, k-means, summarize and merge (offline by default).

    Stages the store already has are reused, so a second run only reports where things are.
    """
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.demo import DemoOptions, run_demo
    from lmsys_tui.core.store.db import open_store

    opts = DemoOptions(
        limit=limit,
        n_clusters=n_clusters,
        model=model,
        target_levels=target_levels,
        reuse=not fresh,
    )
    opts.check()
    store = open_store(load_settings(db_path).db)
    try:
        with stderr_progress("demo") as progress:
            result = run_demo(store, opts, progress=progress)
    finally:
        store.close()
    if not json_out:
        note(result.message)
    emit(result.to_dict(), as_json=json_out, table=lambda: None)
