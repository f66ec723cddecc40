"""The rows an edit may change, captured before it runs, so `edit undo` restores them exactly.

An edit names its scope: the run, the clusters it touches and the queries whose membership it
changes. Per table the scope is a set of rows (below); before the edit those rows are copied
whole (every column, ids included), after it the ids then in scope are noted. Undo deletes
every row whose id is in either set and inserts the copies back: rows the edit added go, rows
it deleted or changed return byte for byte (timestamps, JSON text and centroid blobs too).
Hierarchy nodes are in scope when they are a touched cluster's leaf or one of its ancestors,
since those are the only nodes whose counts, children or existence an edit can change.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from lmsys_tui.core.store import sql

TABLES = (
    "clusters",
    "query_clusters",
    "cluster_summaries",
    "cluster_hierarchies",
    "cluster_metadata",
    "orphaned_queries",
)
_BLOB = "__blob__"


@dataclass
class Scope:
    run_id: str
    clusters: set[int] = field(default_factory=set)
    queries: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {"clusters": sorted(self.clusters), "queries": sorted(self.queries)}


def hierarchy_node_ids(conn: Any, run_id: str, clusters: set[int]) -> list[int]:
    """Row ids of the leaves of `clusters` in every hierarchy of the run, and their ancestors."""
    nodes = sql.tuples(
        conn,
        "SELECT id, hierarchy_run_id, cluster_id, parent_cluster_id, level"
        " FROM cluster_hierarchies WHERE run_id = ?",
        (run_id,),
    )
    by_key = {(h, c): (i, p) for i, h, c, p, _ in nodes}
    out: set[int] = set()
    for row_id, hier, cid, parent, level in nodes:
        if level != 0 or cid not in clusters:
            continue
        out.add(row_id)
        seen = 0
        while parent is not None and (hier, parent) in by_key and seen < 64:
            row_id, parent = by_key[(hier, parent)]
            out.add(row_id)
            seen += 1
    return sorted(out)


def _where(conn: Any, table: str, scope: Scope) -> tuple[str, tuple[Any, ...]]:
    clusters, queries = sql.id_list(scope.clusters), sql.id_list(scope.queries)
    if table in ("clusters", "cluster_summaries", "cluster_metadata"):
        return f"run_id = ? AND cluster_id {sql.IN_IDS}", (scope.run_id, clusters)
    if table in ("query_clusters", "orphaned_queries"):
        return f"run_id = ? AND query_id {sql.IN_IDS}", (scope.run_id, queries)
    ids = hierarchy_node_ids(conn, scope.run_id, scope.clusters)
    return f"id {sql.IN_IDS}", (sql.id_list(ids),)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {_BLOB: base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and _BLOB in value:
        return base64.b64decode(value[_BLOB])
    return value


def capture(conn: Any, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Every row in scope, whole, as JSON-safe dicts (table -> rows)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        where, args = _where(conn, table, scope)
        found = sql.rows(conn, f"SELECT * FROM {table} WHERE {where} ORDER BY id", args)
        out[table] = [{k: _encode(v) for k, v in r.items()} for r in found]
    return out


def ids_in(conn: Any, scope: Scope) -> dict[str, list[int]]:
    """The row ids in scope now (after the edit): what undo must remove before restoring."""
    out: dict[str, list[int]] = {}
    for table in TABLES:
        where, args = _where(conn, table, scope)
        out[table] = [
            int(r[0]) for r in sql.tuples(conn, f"SELECT id FROM {table} WHERE {where}", args)
        ]
    return out


def restore(conn: Any, snapshot: dict[str, Any]) -> None:
    """Put the captured rows back: rows of either id set deleted, the copies inserted."""
    before: dict[str, list[dict[str, Any]]] = snapshot["before"]
    after: dict[str, list[int]] = snapshot["after_ids"]
    for table in TABLES:
        gone = {int(r["id"]) for r in before.get(table, [])} | set(after.get(table, []))
        if gone:
            conn.execute(f"DELETE FROM {table} WHERE id {sql.IN_IDS}", (sql.id_list(gone),))
    for table in TABLES:
        for row in before.get(table, []):
            cols = list(row)
            conn.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                tuple(_decode(row[c]) for c in cols),
            )
