"""Edits that change which cluster a query is in: move, merge, split, delete.

Each is a `frame.run_edit`: a `scope` function that checks the ids (nothing is written when
one is wrong) and names the clusters and queries it touches, and an `apply` function that
changes the rows. Sizes are counted again from `query_clusters`. A moved query's distance and
confidence belonged to its old cluster's centroid, so they are cleared (it then lists after
the members with a distance in the drill-down). Split works as the reference's does: the
queries named by id go to a new cluster (the next free id) with the title given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmsys_tui.core.curate import labels, rollup
from lmsys_tui.core.curate.frame import (
    Change,
    Chroma,
    EditResult,
    check_text,
    members,
    recount,
    require_cluster,
    run_edit,
)
from lmsys_tui.core.curate.snapshot import Scope
from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError


def _where_now(conn: Any, run_id: str, query_ids: list[int]) -> dict[int, int | None]:
    """Each query's cluster in the run (None: orphaned); NotFoundError for the first unknown."""
    found = dict(
        sql.tuples(
            conn,
            f"SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ? AND query_id"
            f" {sql.IN_IDS}",
            (run_id, sql.id_list(query_ids)),
        )
    )
    orphans = {
        int(r[0])
        for r in sql.tuples(
            conn,
            f"SELECT query_id FROM orphaned_queries WHERE run_id = ? AND query_id {sql.IN_IDS}",
            (run_id, sql.id_list(query_ids)),
        )
    }
    out: dict[int, int | None] = {}
    for qid in query_ids:
        if qid in found:
            out[qid] = int(found[qid])
        elif qid in orphans:
            out[qid] = None
        else:
            raise NotFoundError(f"query {qid} is not in run {run_id!r}")
    return out


def _reassign(conn: Any, run_id: str, query_ids: list[int], to_cluster: int) -> None:
    """Queries (members or orphans) into `to_cluster`, their old distances cleared."""
    conn.execute(
        "UPDATE query_clusters SET cluster_id = ?, distance = NULL, confidence_score = NULL"
        f" WHERE run_id = ? AND query_id {sql.IN_IDS}",
        (to_cluster, run_id, sql.id_list(query_ids)),
    )
    orphans = [
        int(r[0])
        for r in sql.tuples(
            conn,
            f"SELECT query_id FROM orphaned_queries WHERE run_id = ? AND query_id {sql.IN_IDS}",
            (run_id, sql.id_list(query_ids)),
        )
    ]
    for qid in orphans:
        conn.execute(
            "INSERT INTO query_clusters (run_id, query_id, cluster_id) VALUES (?, ?, ?)",
            (run_id, qid, to_cluster),
        )
    if orphans:
        conn.execute(
            f"DELETE FROM orphaned_queries WHERE run_id = ? AND query_id {sql.IN_IDS}",
            (run_id, sql.id_list(orphans)),
        )


def _free_id(conn: Any, run_id: str) -> int:
    """The id for a split's new cluster: above every cluster the run has or had, so a deleted
    or merged-away cluster's id (still named by its orphans and its audit rows) keeps one
    meaning."""
    return 1 + max(
        -1,
        *(
            int(sql.scalar(conn, query, (run_id,), -1))
            for query in (
                "SELECT MAX(cluster_id) FROM clusters WHERE run_id = ?",
                "SELECT MAX(cluster_id) FROM cluster_edits WHERE run_id = ?"
                " AND edit_type = 'delete'",
                "SELECT MAX(j.value) FROM cluster_edits e, json_each(e.new_value, '$.sources') j"
                " WHERE e.run_id = ? AND e.edit_type = 'merge'",
            )
        ),
    )


def _drop_clusters(conn: Any, run_id: str, cluster_ids: list[int]) -> None:
    for table in ("clusters", "cluster_summaries", "cluster_metadata"):
        conn.execute(
            f"DELETE FROM {table} WHERE run_id = ? AND cluster_id {sql.IN_IDS}",
            (run_id, sql.id_list(cluster_ids)),
        )


def move_queries(
    db: Path,
    run_id: str,
    query_ids: list[int],
    to_cluster: int,
    *,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Move queries (members of any clusters of the run, or orphans) into `to_cluster`."""
    ids = list(dict.fromkeys(int(q) for q in query_ids))
    if not ids:
        raise UsageError("--query-ids names no query")
    before: dict[int, int | None] = {}

    def scope_of(conn: Any) -> Scope:
        require_cluster(conn, run_id, to_cluster)
        before.update(_where_now(conn, run_id, ids))
        same = [q for q, c in before.items() if c == to_cluster]
        if same:
            raise UsageError(f"query {same[0]} is already in cluster {to_cluster}")
        sources = {c for c in before.values() if c is not None}
        return Scope(run_id, sources | {to_cluster}, set(ids))

    def apply(conn: Any, scope: Scope) -> Change:
        _reassign(conn, run_id, ids, to_cluster)
        recount(conn, run_id, scope.clusters)
        old = {"clusters": {str(q): c for q, c in before.items()}}
        new = {"to_cluster": to_cluster, "query_ids": ids}
        what = f"query {ids[0]}" if len(ids) == 1 else f"{len(ids)} queries"
        return Change(to_cluster, old, new, f"moved {what} to cluster {to_cluster}")

    kind = "move_query" if len(ids) == 1 else "move_queries"
    return run_edit(db, run_id, kind, scope_of, apply, editor=editor, reason=reason, chroma=chroma)


def merge_clusters(
    db: Path,
    run_id: str,
    sources: list[int],
    target: int,
    *,
    new_title: str | None = None,
    new_description: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Every query of `sources` into `target`; the sources' clusters, titles and tags go."""
    srcs = list(dict.fromkeys(int(s) for s in sources))
    title, description = (
        check_text("new-title", new_title),
        check_text("new-description", new_description),
    )
    if not srcs:
        raise UsageError("--source names no cluster")
    if target in srcs:
        raise UsageError(f"cannot merge cluster {target} into itself")
    moved: list[int] = []

    def scope_of(conn: Any) -> Scope:
        require_cluster(conn, run_id, target)
        for s in srcs:
            require_cluster(conn, run_id, s)
        moved.extend(members(conn, run_id, srcs))
        return Scope(run_id, {*srcs, target}, set(moved))

    def apply(conn: Any, scope: Scope) -> Change:
        old_titles = labels.titles(conn, run_id, [target, *srcs])
        _reassign(conn, run_id, moved, target)
        _drop_clusters(conn, run_id, srcs)
        recount(conn, run_id, {target})
        if title is not None or description is not None:
            labels.set_titles(conn, run_id, target, title, description)
        new = {"target": target, "sources": srcs, "queries_moved": len(moved),
               "new_title": title, "new_description": description}  # fmt: skip
        return Change(
            target,
            {"titles": old_titles},
            new,
            f"merged clusters {', '.join(map(str, srcs))} into {target} ({len(moved)} queries)",
        )

    return run_edit(
        db, run_id, "merge", scope_of, apply, editor=editor, reason=reason, chroma=chroma
    )


def split_cluster(
    db: Path,
    run_id: str,
    cluster_id: int,
    query_ids: list[int],
    *,
    new_title: str,
    new_description: str | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """The named queries of `cluster_id` become a new cluster titled `new_title`."""
    ids = list(dict.fromkeys(int(q) for q in query_ids))
    title = check_text("new-title", new_title)
    description = check_text("new-description", new_description)
    if not ids:
        raise UsageError("split needs the queries to split off (--query-ids)")
    new_id: list[int] = []

    def scope_of(conn: Any) -> Scope:
        size = require_cluster(conn, run_id, cluster_id)
        where = _where_now(conn, run_id, ids)
        other = [q for q, c in where.items() if c != cluster_id]
        if other:
            raise UsageError(f"query {other[0]} is not in cluster {cluster_id}")
        if len(ids) >= size:
            raise UsageError(
                f"split would take every query of cluster {cluster_id}; rename it instead"
            )
        return Scope(run_id, {cluster_id}, set(ids))

    def apply(conn: Any, scope: Scope) -> Change:
        nid = _free_id(conn, run_id)
        new_id.append(nid)
        scope.clusters.add(nid)
        conn.execute(  # the original's centroid: the hierarchy places the new cluster beside it
            "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
            " SELECT run_id, ?, 0, centroid, keywords, ? FROM clusters"
            " WHERE run_id = ? AND cluster_id = ?",
            (nid, json.dumps({"split_from": cluster_id}), run_id, cluster_id),
        )
        _reassign(conn, run_id, ids, nid)
        recount(conn, run_id, {cluster_id, nid})
        labels.add_summaries_like(conn, run_id, cluster_id, nid, title, description, len(ids))
        rollup.add_leaf(conn, run_id, nid, cluster_id, title)
        new = {"new_cluster_id": nid, "query_ids": ids, "new_title": title,
               "new_description": description}  # fmt: skip
        return Change(
            cluster_id,
            {"cluster_id": cluster_id},
            new,
            f"split {len(ids)} queries of cluster {cluster_id} into new cluster {nid}",
        )

    return run_edit(
        db, run_id, "split", scope_of, apply, editor=editor, reason=reason, chroma=chroma
    )


def delete_cluster(
    db: Path,
    run_id: str,
    cluster_id: int,
    *,
    orphan: bool = False,
    move_to: int | None = None,
    editor: str | None = None,
    reason: str | None = None,
    chroma: Chroma | None = None,
) -> EditResult:
    """Delete a cluster: its queries become orphans (`orphan`) or move to `move_to`."""
    if orphan == (move_to is not None):
        raise UsageError("delete-cluster needs either --orphan or --move-to (not both)")
    if move_to == cluster_id:
        raise UsageError(f"cannot move cluster {cluster_id}'s queries into itself")
    moved: list[int] = []

    def scope_of(conn: Any) -> Scope:
        require_cluster(conn, run_id, cluster_id)
        if move_to is not None:
            require_cluster(conn, run_id, move_to)
        moved.extend(members(conn, run_id, [cluster_id]))
        touched = {cluster_id} | ({move_to} if move_to is not None else set())
        return Scope(run_id, touched, set(moved))

    def apply(conn: Any, scope: Scope) -> Change:
        old_titles = labels.titles(conn, run_id, [cluster_id])
        if move_to is not None:
            _reassign(conn, run_id, moved, move_to)
            recount(conn, run_id, {move_to})
        else:
            now = sql.db_timestamp(sql.utcnow())
            conn.executemany(
                "INSERT INTO orphaned_queries (run_id, query_id, original_cluster_id, reason,"
                " orphaned_at) VALUES (?, ?, ?, ?, ?)",
                [(run_id, q, cluster_id, reason, now) for q in moved],
            )
            conn.execute(
                f"DELETE FROM query_clusters WHERE run_id = ? AND query_id {sql.IN_IDS}",
                (run_id, sql.id_list(moved)),
            )
        _drop_clusters(conn, run_id, [cluster_id])
        where = "orphaned" if orphan else f"moved to cluster {move_to}"
        new = {"orphan": orphan, "move_to": move_to, "query_count": len(moved)}
        return Change(
            cluster_id,
            {"titles": old_titles, "size": len(moved)},
            new,
            f"deleted cluster {cluster_id}; its {len(moved)} queries {where}",
        )

    return run_edit(
        db, run_id, "delete", scope_of, apply, editor=editor, reason=reason, chroma=chroma
    )
