"""Headless `delete`: a clustering run, summary pass or hierarchy, and what depends on it."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_ONLY
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.delete import DeleteOptions as D
from lmsys_tui.errors import UsageError

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@handled
@takes(DB_PATH, JSON_ONLY)
def delete(
    ident: Annotated[str, typer.Argument(help="A run id, summary pass id or hierarchy id.")],
    kind: Annotated[
        str | None, typer.Option(help="run | summary | hierarchy (when the id is ambiguous).")
    ] = None,
    yes: Yes = D.yes,
    force: Annotated[
        bool, typer.Option("--force", help="Also delete something marked running.")
    ] = D.force,
    *,
    params: Params,
) -> None:
    """Delete a clustering run, summary pass or hierarchy, and what depends on it."""
    from lmsys_tui.core.delete import delete as delete_item
    from lmsys_tui.core.delete import plan_delete

    opts = D.from_params(params)
    db = load_settings(params.db_path).db
    plan = plan_delete(db, opts.ident, opts.kind)
    if not opts.yes:
        if params.json_out:
            raise UsageError("delete --json needs --yes (no prompt when output is for a program)")
        typer.confirm(plan.describe() + " Continue?", abort=True, err=True)
    done = delete_item(db, opts.ident, plan.kind, force=opts.force)
    if not params.json_out:
        note(done.describe().replace("Delete ", "Deleted ", 1))
    emit(
        done.to_dict(),
        params,
        table=lambda: emit_table("Deleted rows", ["table", "rows"], list(done.rows.items())),
    )
