"""Hierarchy nodes kept in step with an edit: leaf counts, children lists, parent roll-ups.

Level-0 nodes are the run's clusters; a parent's count is the sum of its children's. After an
edit changes sizes, removes clusters (merge, delete) or adds one (split), the leaves follow the
`clusters` table, a parent left without children goes, and the counts of the touched nodes'
ancestors are summed again bottom-up. Only nodes in the edit's scope (`snapshot`) change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lmsys_tui.core.store import sql


def _children(conn: Any, hier: str, parent: int, change: Callable[[list[int]], list[int]]) -> None:
    """Rewrite a hierarchy node's children list through `change`."""
    kids = sql.loads(
        sql.scalar(
            conn,
            "SELECT children_ids FROM cluster_hierarchies"
            " WHERE hierarchy_run_id = ? AND cluster_id = ?",
            (hier, parent),
        ),
        [],
    )
    conn.execute(
        "UPDATE cluster_hierarchies SET children_ids = ?"
        " WHERE hierarchy_run_id = ? AND cluster_id = ?",
        (json.dumps(change(kids)), hier, parent),
    )


def _drop_child(conn: Any, hier: str, parent: int | None, child: int) -> None:
    if parent is not None:
        _children(conn, hier, parent, lambda kids: [k for k in kids if k != child])


def add_leaf(conn: Any, run_id: str, new_id: int, beside: int, title: str | None) -> None:
    """A new cluster (split) joins every hierarchy of the run under its original's parent."""
    for hier, parent, level in sql.tuples(
        conn,
        "SELECT hierarchy_run_id, parent_cluster_id, level FROM cluster_hierarchies"
        " WHERE run_id = ? AND cluster_id = ? AND level = 0",
        (run_id, beside),
    ):
        conn.execute(
            "INSERT INTO cluster_hierarchies (hierarchy_run_id, run_id, cluster_id,"
            " parent_cluster_id, level, children_ids, title, description, query_count,"
            " created_at) VALUES (?, ?, ?, ?, ?, '[]', ?, NULL, 0, ?)",
            (hier, run_id, new_id, parent, level, title, sql.db_timestamp(sql.utcnow())),
        )
        if parent is not None:
            _children(conn, hier, parent, lambda kids: [*kids, new_id])


def sync(conn: Any, run_id: str, clusters: set[int], node_ids: list[int]) -> None:
    """Leaves of `clusters` follow the `clusters` table; `node_ids` (the leaves and ancestors
    found before the edit) are rolled up again; parents left empty are removed."""
    sizes = dict(
        sql.tuples(
            conn,
            f"SELECT cluster_id, size FROM clusters WHERE run_id = ? AND cluster_id {sql.IN_IDS}",
            (run_id, sql.id_list(clusters)),
        )
    )
    leaves = sql.tuples(
        conn,
        "SELECT id, hierarchy_run_id, cluster_id, parent_cluster_id FROM cluster_hierarchies"
        f" WHERE run_id = ? AND level = 0 AND cluster_id {sql.IN_IDS}",
        (run_id, sql.id_list(clusters)),
    )
    for row_id, hier, cid, parent in leaves:
        if cid in sizes:
            conn.execute(
                "UPDATE cluster_hierarchies SET query_count = ? WHERE id = ?", (sizes[cid], row_id)
            )
        else:
            conn.execute("DELETE FROM cluster_hierarchies WHERE id = ?", (row_id,))
            _drop_child(conn, hier, parent, cid)
    while True:  # parents left without children go, upwards
        empty = sql.tuples(
            conn,
            "SELECT id, hierarchy_run_id, cluster_id, parent_cluster_id FROM cluster_hierarchies"
            f" WHERE id {sql.IN_IDS} AND level > 0 AND json_array_length(children_ids) = 0",
            (sql.id_list(node_ids),),
        )
        if not empty:
            break
        for row_id, hier, cid, parent in empty:
            conn.execute("DELETE FROM cluster_hierarchies WHERE id = ?", (row_id,))
            _drop_child(conn, hier, parent, cid)
    levels = sql.tuples(
        conn,
        f"SELECT DISTINCT level FROM cluster_hierarchies WHERE id {sql.IN_IDS} AND level > 0"
        " ORDER BY level",
        (sql.id_list(node_ids),),
    )
    for (level,) in levels:
        conn.execute(
            "UPDATE cluster_hierarchies AS p SET query_count = COALESCE((SELECT SUM(c.query_count)"
            " FROM cluster_hierarchies c WHERE c.hierarchy_run_id = p.hierarchy_run_id"
            f" AND c.parent_cluster_id = p.cluster_id), 0) WHERE p.id {sql.IN_IDS} AND p.level = ?",
            (sql.id_list(node_ids), level),
        )
