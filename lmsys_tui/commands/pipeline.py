"""Headless `demo` (the whole pipeline on the packaged ShareGPT data) and `delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DbPath, Json
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError, UsageError


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
    from lmsys_tui.core.pipeline import PipelineOptions, run_pipeline
    from lmsys_tui.core.store.db import open_store

    opts = PipelineOptions(
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
            result = run_pipeline(store, opts, progress=progress)
    finally:
        store.close()
    if not json_out:
        note(result.message)
    emit(result.to_dict(), as_json=json_out, table=lambda: None)


@handled
def delete(
    ident: Annotated[str, typer.Argument(help="A run id, summary pass id or hierarchy id.")],
    kind: Annotated[
        str | None, typer.Option(help="run | summary | hierarchy (when the id is ambiguous).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also delete something marked running.")
    ] = False,
    db_path: DbPath = None,
    json_out: Json = False,
) -> None:
    """Delete a clustering run, summary pass or hierarchy, and what depends on it."""
    from lmsys_tui.core.delete import delete as delete_item
    from lmsys_tui.core.delete import plan_delete

    db = load_settings(db_path).db
    if not db.exists():
        raise NotFoundError(f"no lmsys-tui store at {db}")
    plan = plan_delete(db, ident, kind)
    if not yes:
        if json_out:
            raise UsageError("delete --json needs --yes (no prompt when output is for a program)")
        typer.confirm(plan.describe() + " Continue?", abort=True, err=True)
    done = delete_item(db, ident, plan.kind, force=force)
    if not json_out:
        note(done.describe().replace("Delete ", "Deleted ", 1))
    emit(
        done.to_dict(),
        as_json=json_out,
        table=lambda: emit_table("Deleted rows", ["table", "rows"], list(done.rows.items())),
    )
