"""Edits survive re-runs: a new summary pass or hierarchy over the run gets the edit log again.

Membership edits (moves, merges, splits, deletes) and tags change the run itself
(`query_clusters`, `clusters`, `cluster_metadata`), so a new pass summarises the edited
clusters and a new hierarchy is built from them: they are kept by construction and listed as
kept. What a new pass or hierarchy would overwrite is the names: renames (and the titles a
merge or split set) are applied again, oldest first, to the new pass's rows and the new
hierarchy's leaves. An edit that no longer applies (its cluster has no row in the new pass, or
it renamed a node of another hierarchy) is listed under `not_applied` with its id and why;
nothing is dropped silently. Undone edits are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.store import sql


def _live_edits(conn: Any, run_id: str) -> list[dict[str, Any]]:
    found = sql.rows(
        conn,
        "SELECT id, edit_type, cluster_id, new_value FROM cluster_edits WHERE run_id = ?"
        " AND edit_type != 'undo' AND undone_by IS NULL ORDER BY id",
        (run_id,),
    )
    for e in found:
        e["new_value"] = sql.loads(e["new_value"], {}) or {}
    return found


def _naming(edit: dict[str, Any]) -> tuple[int, str | None, str | None] | None:
    """(cluster, title, description) an edit names, or None when it names nothing."""
    new = edit["new_value"]
    if edit["edit_type"] == "rename" and not new.get("hierarchy_run_id"):
        return int(edit["cluster_id"]), new.get("title"), new.get("description")
    if edit["edit_type"] == "merge" and (new.get("new_title") or new.get("new_description")):
        return int(new["target"]), new.get("new_title"), new.get("new_description")
    if edit["edit_type"] == "split":
        return int(new["new_cluster_id"]), new.get("new_title"), new.get("new_description")
    return None


def _replay(db: Path, run_id: str, table: str, key: str, key_value: str) -> dict[str, Any]:
    applied: list[int] = []
    kept: list[int] = []
    not_applied: list[dict[str, Any]] = []
    level = " AND level = 0" if table == "cluster_hierarchies" else ""
    with sql.file_transaction(db) as conn:
        for edit in _live_edits(conn, run_id):
            if edit["edit_type"] == "rename" and edit["new_value"].get("hierarchy_run_id"):
                if table == "cluster_summaries":  # a topic's name: no pass overwrites it
                    kept.append(int(edit["id"]))
                elif edit["new_value"]["hierarchy_run_id"] != key_value:
                    other = edit["new_value"]["hierarchy_run_id"]
                    why = f"renamed a node of hierarchy {other}"
                    not_applied.append({"edit_id": edit["id"], "why": why})
                else:  # a node of this very hierarchy (renamed before a resume finished it)
                    kept.append(int(edit["id"]))
                continue
            naming = _naming(edit)
            if naming is None:
                kept.append(int(edit["id"]))
                continue
            cid, title, desc = naming
            sets = [f"{c} = ?" for c, v in (("title", title), ("description", desc)) if v]
            if not sets:
                kept.append(int(edit["id"]))
                continue
            n = conn.execute(
                f"UPDATE {table} SET {', '.join(sets)} WHERE {key} = ? AND cluster_id = ?{level}",
                (*[v for v in (title, desc) if v], key_value, cid),
            ).rowcount
            if n:
                applied.append(int(edit["id"]))
            else:
                not_applied.append(
                    {"edit_id": edit["id"], "why": f"cluster {cid} has no row in {key_value}"}
                )
    return {"applied": applied, "kept": kept, "not_applied": not_applied}


def replay_on_pass(db: Path, run_id: str, summary_run_id: str) -> dict[str, Any]:
    """Apply the run's names again to a summary pass (called when the pass ends)."""
    return _replay(db, run_id, "cluster_summaries", "summary_run_id", summary_run_id)


def replay_on_hierarchy(db: Path, run_id: str, hierarchy_run_id: str) -> dict[str, Any]:
    """Apply the run's names again to a hierarchy's leaves (called when it is built)."""
    return _replay(db, run_id, "cluster_hierarchies", "hierarchy_run_id", hierarchy_run_id)
