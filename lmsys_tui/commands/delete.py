"""Headless `delete`: a clustering run, summary pass or hierarchy, and what depends on it."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DbPath, Json
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError, UsageError


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
