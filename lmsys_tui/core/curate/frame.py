"""One edit = one transaction: check, capture the scope, change, roll up, audit; then Chroma.

`run_edit` is the frame every operation runs in (`membership`, `labels`). Inside ONE write
transaction (BEGIN IMMEDIATE on the store file, so what the checks read cannot change before
the write): the run must exist, the operation checks its ids (NotFoundError, exit 3, or
UsageError, exit 2, before anything is written), the rows in its scope are copied for undo,
the change is made, hierarchy nodes are rolled up, and the audit row is written. A failure
anywhere rolls everything back. Chroma is not transactional: its summary documents follow
after the commit (`chroma_sync`), owed by a marker written in the edit's transaction; a Chroma
failure is reported in the result (the edit stands) and, like a kill before Chroma is done,
finished by the next edit or `verify sync` (or `verify sync --fix`).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmsys_tui.core.curate import chroma_sync, rollup, snapshot
from lmsys_tui.core.curate.snapshot import Scope
from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError


def default_editor() -> str:
    """Who edits when nobody says: the OS user (the reference wrote "cli" for everyone)."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user database entry (some containers)
        return "unknown"


@dataclass(frozen=True)
class Chroma:
    """Where the run's summary documents live (both doors pass the settings' values)."""

    path: Path | None = None
    host: str | None = None
    port: int | None = None
    backend: str = "auto"


@dataclass
class Change:
    """What an operation did: the audit row's cluster, old and new values, a sentence."""

    cluster_id: int | None
    old: dict[str, Any]
    new: dict[str, Any]
    message: str


@dataclass
class EditResult:
    edit_id: int
    run_id: str
    edit_type: str
    cluster_id: int | None
    editor: str
    reason: str | None
    old_value: dict[str, Any]
    new_value: dict[str, Any]
    message: str
    chroma: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_run(conn: Any, run_id: str) -> None:
    if sql.scalar(conn, "SELECT 1 FROM clustering_runs WHERE run_id = ?", (run_id,)) is None:
        raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")


def require_cluster(conn: Any, run_id: str, cluster_id: int) -> int:
    """The cluster's size; NotFoundError when the run has no such cluster."""
    size = sql.scalar(
        conn, "SELECT size FROM clusters WHERE run_id = ? AND cluster_id = ?", (run_id, cluster_id)
    )
    if size is None:
        raise NotFoundError(f"run {run_id!r} has no cluster {cluster_id}")
    return int(size)


def members(conn: Any, run_id: str, cluster_ids: list[int]) -> list[int]:
    return [
        int(r[0])
        for r in sql.tuples(
            conn,
            f"SELECT query_id FROM query_clusters WHERE run_id = ? AND cluster_id {sql.IN_IDS}",
            (run_id, sql.id_list(cluster_ids)),
        )
    ]


def recount(conn: Any, run_id: str, clusters: set[int]) -> None:
    """Cluster sizes counted again from `query_clusters` (exact, from the composite index)."""
    conn.execute(
        "UPDATE clusters SET size = (SELECT COUNT(*) FROM query_clusters qc WHERE qc.run_id ="
        " clusters.run_id AND qc.cluster_id = clusters.cluster_id)"
        f" WHERE run_id = ? AND cluster_id {sql.IN_IDS}",
        (run_id, sql.id_list(clusters)),
    )


def write_audit(
    conn: Any,
    run_id: str,
    edit_type: str,
    change: Change,
    editor: str,
    reason: str | None,
    snap: dict[str, Any] | None,
) -> int:
    cur = conn.execute(
        "INSERT INTO cluster_edits (run_id, cluster_id, edit_type, editor, old_value, new_value,"
        " reason, timestamp, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            change.cluster_id,
            edit_type,
            editor,
            json.dumps(change.old, ensure_ascii=False),
            json.dumps(change.new, ensure_ascii=False),
            reason,
            sql.db_timestamp(sql.utcnow()),
            None if snap is None else json.dumps(snap, ensure_ascii=False),
        ),
    )
    return int(cur.lastrowid)


def run_edit(
    db: Path,
    run_id: str,
    edit_type: str,
    scope_of: Callable[[Any], Scope],
    apply: Callable[[Any, Scope], Change],
    *,
    editor: str | None,
    reason: str | None,
    chroma: Chroma | None,
) -> EditResult:
    """Run one edit in one transaction (see the module docstring)."""
    editor = (editor or "").strip() or default_editor()
    with sql.file_transaction(db) as conn:
        require_run(conn, run_id)
        scope = scope_of(conn)
        before = snapshot.capture(conn, scope)
        nodes = snapshot.hierarchy_node_ids(conn, run_id, scope.clusters)
        change = apply(conn, scope)  # may add to scope.clusters (a split's new cluster)
        rollup.sync(conn, run_id, scope.clusters, nodes)
        snap = {
            "scope": scope.to_dict(),
            "before": before,
            "after_ids": snapshot.ids_in(conn, scope),
        }
        edit_id = write_audit(conn, run_id, edit_type, change, editor, reason, snap)
        if chroma is not None:
            chroma_sync.mark_pending(conn, run_id, scope.clusters)
    result = EditResult(
        edit_id, run_id, edit_type, change.cluster_id, editor, reason, change.old, change.new,
        change.message,
    )  # fmt: skip
    if chroma is not None:
        result.chroma = chroma_sync.finish_edit(db, run_id, chroma)
    return result


def check_text(name: str, value: str | None) -> str | None:
    """A title or description as given, stripped; an empty one is a usage error."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise UsageError(f"--{name} must not be empty")
    return value
