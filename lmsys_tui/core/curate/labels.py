"""Edits that change what a cluster is called or marked as: rename, tag, flag.

A rename is the analyst's name for the cluster, whatever pass wrote the first one: it is set in
every summary pass of the run that has a row for the cluster (the tree, listings and search
read whichever pass is chosen) and in the leaves of every hierarchy; with a hierarchy id it
renames that hierarchy's node instead (a parent topic). Tags and flags are per run
(`cluster_metadata`), so a new summary pass or hierarchy keeps them as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmsys_tui.core.curate.frame import (
    Change,
    Chroma,
    EditResult,
    check_text,
    require_cluster,
    run_edit,
)
from lmsys_tui.core.curate.snapshot import Scope
from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError

QUALITIES = ("high", "medium", "low")


def titles(conn: Any, run_id: str, cluster_ids: list[int]) -> dict[str, Any]:
    """The clusters' titles per pass (for the audit row's old values)."""
    out: dict[str, Any] = {}
    for cid, srid, title, desc in sql.tuples(
        conn,
        "SELECT cluster_id, summary_run_id, title, description FROM cluster_summaries"
        f" WHERE run_id = ? AND cluster_id {sql.IN_IDS} ORDER BY summary_run_id",
        (run_id, sql.id_list(cluster_ids)),
    ):
        out.setdefault(str(cid), {})[srid] = {"title": title, "description": desc}
    return out


def set_titles(
    conn: Any, run_id: str, cluster_id: int, title: str | None, description: str | None
) -> int:
    """Title and/or description of the cluster in every pass and hierarchy leaf; rows set."""
    sets = [f"{c} = ?" for c, v in (("title", title), ("description", description)) if v]
    args = [v for v in (title, description) if v]
    n = conn.execute(
        f"UPDATE cluster_summaries SET {', '.join(sets)} WHERE run_id = ? AND cluster_id = ?",
        (*args, run_id, cluster_id),
    ).rowcount
    conn.execute(
        f"UPDATE cluster_hierarchies SET {', '.join(sets)}"
        " WHERE run_id = ? AND cluster_id = ? AND level = 0",
        (*args, run_id, cluster_id),
    )
    return int(n)


def add_summaries_like(
    conn: Any, run_id: str, like: int, new_id: int, title: str | None,
    description: str | None, size: int,
) -> None:  # fmt: skip
    """A split's new cluster gets a summary row in every pass its original has one in."""
    now = sql.db_timestamp(sql.utcnow())
    for srid, alias in sql.tuples(
        conn,
        "SELECT summary_run_id, alias FROM cluster_summaries WHERE run_id = ? AND cluster_id = ?",
        (run_id, like),
    ):
        conn.execute(
            "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, alias, title,"
            " description, num_queries, representative_queries, model, parameters, status,"
            " generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', 'edit', '{}', 'done', ?)",
            (run_id, new_id, srid, alias, title, description, size, now),
        )


def rename_cluster(
    db: Path,
    run_id: str,
    cluster_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    hierarchy_run_id: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """New title and/or description for a cluster, or for a node of one hierarchy."""
    title, description = check_text("title", title), check_text("description", description)
    if title is None and description is None:
        raise UsageError("rename-cluster needs --title and/or --description")

    def scope_of(conn: Any) -> Scope:
        if hierarchy_run_id is None:
            require_cluster(conn, run_id, cluster_id)
            if not sql.scalar(
                conn,
                "SELECT COUNT(*) FROM cluster_summaries WHERE run_id = ? AND cluster_id = ?",
                (run_id, cluster_id),
                0,
            ):
                raise UsageError(
                    f"cluster {cluster_id} has no summary to rename yet (run summarize first)"
                )
            return Scope(run_id, {cluster_id})
        from lmsys_tui.core.read.tree import leaves_under

        level = sql.scalar(
            conn,
            "SELECT level FROM cluster_hierarchies WHERE hierarchy_run_id = ? AND run_id = ?"
            " AND cluster_id = ?",
            (hierarchy_run_id, run_id, cluster_id),
        )
        if level is None:
            raise NotFoundError(f"hierarchy {hierarchy_run_id!r} has no node {cluster_id}")
        leaves = [cluster_id] if level == 0 else leaves_under(conn, hierarchy_run_id, cluster_id)
        return Scope(run_id, set(leaves))

    def apply(conn: Any, scope: Scope) -> Change:
        if hierarchy_run_id is None:
            old = titles(conn, run_id, [cluster_id])
            set_titles(conn, run_id, cluster_id, title, description)
        else:
            row = sql.one(
                conn,
                "SELECT title, description FROM cluster_hierarchies"
                " WHERE hierarchy_run_id = ? AND cluster_id = ?",
                (hierarchy_run_id, cluster_id),
            )
            old = {"hierarchy_run_id": hierarchy_run_id, **(row or {})}
            sets = [f"{c} = ?" for c, v in (("title", title), ("description", description)) if v]
            conn.execute(
                f"UPDATE cluster_hierarchies SET {', '.join(sets)}"
                " WHERE hierarchy_run_id = ? AND cluster_id = ?",
                (*[v for v in (title, description) if v], hierarchy_run_id, cluster_id),
            )
        new = {"title": title, "description": description, "hierarchy_run_id": hierarchy_run_id}
        what = (
            f"node {cluster_id} of {hierarchy_run_id}"
            if hierarchy_run_id
            else f"cluster {cluster_id}"
        )
        return Change(cluster_id, old, new, f"renamed {what}" + (f" to {title!r}" if title else ""))

    return run_edit(
        db, run_id, "rename", scope_of, apply, editor=editor, reason=reason, chroma=chroma
    )


def _metadata(conn: Any, run_id: str, cluster_id: int) -> dict[str, Any]:
    row = sql.one(
        conn,
        "SELECT coherence_score, quality, flags, notes FROM cluster_metadata"
        " WHERE run_id = ? AND cluster_id = ?",
        (run_id, cluster_id),
    )
    if row is None:
        return {"coherence_score": None, "quality": None, "flags": [], "notes": None}
    return {**row, "flags": sql.loads(row["flags"], [])}


def _save_metadata(conn: Any, run_id: str, cluster_id: int, meta: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO cluster_metadata (run_id, cluster_id, coherence_score, quality, flags, notes,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, cluster_id) DO UPDATE SET"
        " coherence_score = excluded.coherence_score, quality = excluded.quality,"
        " flags = excluded.flags, notes = excluded.notes, updated_at = excluded.updated_at",
        (run_id, cluster_id, meta["coherence_score"], meta["quality"],
         json.dumps(meta["flags"]), meta["notes"], sql.db_timestamp(sql.utcnow())),
    )  # fmt: skip


def tag_cluster(
    db: Path,
    run_id: str,
    cluster_id: int,
    *,
    coherence: int | None = None,
    quality: str | None = None,
    notes: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Coherence (1-5), quality (high/medium/low) and notes of a cluster."""
    if coherence is None and quality is None and notes is None:
        raise UsageError("tag-cluster needs --coherence, --quality and/or --notes")
    if coherence is not None and not 1 <= coherence <= 5:
        raise UsageError("--coherence must be between 1 and 5")
    if quality is not None and quality.lower() not in QUALITIES:
        raise UsageError("--quality must be one of high, medium, low")

    def apply(conn: Any, scope: Scope) -> Change:
        old = _metadata(conn, run_id, cluster_id)
        new = dict(old)
        for key, value in (("coherence_score", coherence), ("quality", quality), ("notes", notes)):
            if value is not None:
                new[key] = value.lower() if key == "quality" else value
        _save_metadata(conn, run_id, cluster_id, new)
        return Change(cluster_id, old, new, f"tagged cluster {cluster_id}")

    def scope_of(conn: Any) -> Scope:
        require_cluster(conn, run_id, cluster_id)
        return Scope(run_id, {cluster_id})

    return run_edit(db, run_id, "tag", scope_of, apply, editor=editor, reason=reason, chroma=chroma)


def flag_cluster(
    db: Path,
    run_id: str,
    cluster_id: int,
    flag: str,
    *,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Add a review flag (e.g. language_mixing) to a cluster."""
    flag = (flag or "").strip()
    if not flag:
        raise UsageError("--flag must not be empty")

    def scope_of(conn: Any) -> Scope:
        require_cluster(conn, run_id, cluster_id)
        if flag in _metadata(conn, run_id, cluster_id)["flags"]:
            raise UsageError(f"cluster {cluster_id} is already flagged {flag!r}")
        return Scope(run_id, {cluster_id})

    def apply(conn: Any, scope: Scope) -> Change:
        old = _metadata(conn, run_id, cluster_id)
        new = {**old, "flags": [*old["flags"], flag]}
        _save_metadata(conn, run_id, cluster_id, new)
        return Change(cluster_id, old, new, f"flagged cluster {cluster_id} {flag!r}")

    return run_edit(
        db, run_id, "flag", scope_of, apply, editor=editor, reason=reason, chroma=chroma
    )
