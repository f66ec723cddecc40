"""`edit undo [EDIT_ID]`: the rows an edit changed, put back exactly as they were before it.

The edit's snapshot (`snapshot.capture`) is restored in one transaction, the edit is marked
`undone_by`, and the undo is itself an audit row (type "undo"). Only an edit whose later edits
of the same run are all undone may be undone: restoring rows under a later edit would silently
throw that one away. An undo is not undone (make the edit again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.curate import chroma_sync, snapshot
from lmsys_tui.core.curate.frame import Change, Chroma, EditResult, default_editor, write_audit
from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError


def undo(
    db: Path,
    edit_id: int | None = None,
    *,
    run_id: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Undo `edit_id`, or the newest live edit (of `run_id`, if given)."""
    editor = (editor or "").strip() or default_editor()
    with sql.file_transaction(db) as conn:
        edit = _target(conn, edit_id, run_id)
        later = sql.one(
            conn,
            "SELECT id, edit_type, snapshot FROM cluster_edits WHERE run_id = ? AND id > ?"
            " AND edit_type != 'undo' AND undone_by IS NULL ORDER BY id",
            (edit["run_id"], edit["edit_id"]),
        )
        if later is not None and later["snapshot"] is None:  # e.g. `cluster assign`
            raise UsageError(
                f"edit {later['id']} ({later['edit_type']}) came after edit {edit['edit_id']}"
                " and cannot be undone, so edits before it stay"
            )
        if later is not None:
            raise UsageError(f"edit {later['id']} came after edit {edit['edit_id']}; undo it first")
        snap = sql.loads(edit["snapshot"], None)
        if not snap:
            raise UsageError(
                f"edit {edit['edit_id']} ({edit['edit_type']}) kept no rows to restore:"
                " it cannot be undone"
            )
        snapshot.restore(conn, snap)
        change = Change(
            edit["cluster_id"],
            sql.loads(edit["new_value"], {}) or {},
            {"undid": edit["edit_id"], "edit_type": edit["edit_type"]},
            f"undid edit {edit['edit_id']} ({edit['edit_type']})",
        )
        new_id = write_audit(conn, edit["run_id"], "undo", change, editor, reason, None)
        conn.execute(
            "UPDATE cluster_edits SET undone_by = ? WHERE id = ?", (new_id, edit["edit_id"])
        )
        clusters = set(snap.get("scope", {}).get("clusters", []))
        if chroma is not None:
            chroma_sync.mark_pending(conn, edit["run_id"], clusters)
    result = EditResult(
        new_id, edit["run_id"], "undo", change.cluster_id, editor, reason, change.old,
        change.new, change.message,
    )  # fmt: skip
    if chroma is not None:
        result.chroma = chroma_sync.finish_edit(db, edit["run_id"], chroma)
    return result


def _target(conn: Any, edit_id: int | None, run_id: str | None) -> dict[str, Any]:
    cols = "id AS edit_id, run_id, cluster_id, edit_type, new_value, snapshot, undone_by"
    if edit_id is None:
        where, args = "edit_type != 'undo' AND undone_by IS NULL", ()
        if run_id is not None:
            where, args = where + " AND run_id = ?", (run_id,)
        found = sql.one(
            conn, f"SELECT {cols} FROM cluster_edits WHERE {where} ORDER BY id DESC", args
        )
        if found is None:
            raise NotFoundError(
                "there is no edit to undo" + (f" in run {run_id!r}" if run_id else "")
            )
        return found
    found = sql.one(conn, f"SELECT {cols} FROM cluster_edits WHERE id = ?", (edit_id,))
    if found is None:
        raise NotFoundError(f"no edit {edit_id} (see `edit audit RUN`)")
    if run_id is not None and found["run_id"] != run_id:
        raise UsageError(f"edit {edit_id} belongs to run {found['run_id']!r}, not {run_id!r}")
    if found["edit_type"] == "undo":
        raise UsageError(f"edit {edit_id} is an undo; make the edit again instead")
    if found["undone_by"] is not None:
        raise UsageError(f"edit {edit_id} was already undone by edit {found['undone_by']}")
    return found
