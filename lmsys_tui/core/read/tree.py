"""A view's tree: its nodes one level at a time, the node index, paths, rolled-up counts, the
clusters under a node, and the one rule for a cluster's title.

Node ids are the hierarchy's (`cluster_hierarchies.cluster_id`, where level-0 nodes are the
run's cluster ids), so a cluster has the same id in a hierarchy view and in a flat one. The
tree is never read whole except for the node index (a few hundred rows, for jumping and for
counting search hits per node).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lmsys_tui.core.read.runs import View
from lmsys_tui.core.store.sql import IN_IDS, id_list, loads, reader, rows, scalar
from lmsys_tui.errors import UsageError

NOISE = -1
NOISE_TITLE = "noise (not in any cluster)"
KEYWORDS_IN_TITLE = 5
SORTS = ("size", "title")


def cluster_title(cluster_id: int, summary_title: str | None, keywords: list[str]) -> str:
    """A cluster's title: its summary's (from the view's one pass), else its top keywords;
    noise is named as noise, never by keywords."""
    if summary_title:
        return str(summary_title)
    if cluster_id == NOISE:
        return NOISE_TITLE
    return ", ".join(keywords[:KEYWORDS_IN_TITLE]) or f"cluster {cluster_id}"


def pass_summaries(
    conn: Any,
    summary_run_id: str | None,
    cluster_ids: list[int] | None,
    columns: str = "cluster_id, title, description",
) -> dict[int, dict[str, Any]]:
    """`columns` of these clusters' summaries (None: every summary) in ONE summary pass, never
    mixed with another, in cluster order; `columns` names cluster_id among them."""
    if summary_run_id is None or cluster_ids == []:
        return {}
    query = f"SELECT {columns} FROM cluster_summaries WHERE summary_run_id = ?"
    args: tuple[Any, ...] = (summary_run_id,)
    if cluster_ids is not None:
        query += f" AND cluster_id {IN_IDS}"
        args += (id_list(cluster_ids),)
    found = rows(conn, query + " ORDER BY cluster_id", args)
    return {int(r["cluster_id"]): r for r in found}


def cluster_titles(
    conn: Any, run_id: str, summary_run_id: str | None, ids: list[int] | None = None
) -> dict[int, str]:
    """Title per cluster of a run (`ids`, or all) as list-clusters shows it: the pass's
    summary title, else its keywords; one read for search facets, compare and lift."""
    query = "SELECT cluster_id, keywords FROM clusters WHERE run_id = ?"
    args: tuple[Any, ...] = (run_id,)
    if ids is not None:
        query += f" AND cluster_id {IN_IDS}"
        args += (id_list(ids),)
    found = rows(conn, query, args)
    titles = pass_summaries(conn, summary_run_id, [int(r["cluster_id"]) for r in found])
    return {
        int(r["cluster_id"]): cluster_title(
            int(r["cluster_id"]),
            (titles.get(int(r["cluster_id"])) or {}).get("title"),
            loads(r["keywords"], []) or [],
        )
        for r in found
    }


@dataclass(frozen=True)
class NodeRow:
    """One line of the tree: a hierarchy node, or a cluster (level 0)."""

    node_id: int
    level: int
    title: str
    count: int
    share: float
    child_count: int = 0
    parent_id: int | None = None

    @property
    def is_cluster(self) -> bool:
        return self.level == 0

    @property
    def is_noise(self) -> bool:
        return self.level == 0 and self.node_id == NOISE


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _sorted(found: list[NodeRow], sort: str) -> list[NodeRow]:
    if sort not in SORTS:
        raise UsageError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "title":
        return sorted(found, key=lambda r: (r.is_noise, r.title.casefold(), r.node_id))
    return sorted(found, key=lambda r: (r.is_noise, -r.count, r.node_id))


def _flat_clusters(conn: Any, view: View) -> list[NodeRow]:
    found = rows(conn, "SELECT cluster_id, size, keywords FROM clusters WHERE run_id = ?",
                 (view.run_id,))  # fmt: skip
    titles = pass_summaries(conn, view.summary_run_id, [int(r["cluster_id"]) for r in found])
    out = []
    for r in found:
        cid, size = int(r["cluster_id"]), int(r["size"])
        title = (titles.get(cid) or {}).get("title")
        out.append(
            NodeRow(cid, 0, cluster_title(cid, title, loads(r["keywords"], [])), size,
                    _share(size, view.total))
        )  # fmt: skip
    return out


def _hierarchy_rows(
    conn: Any,
    hierarchy_run_id: str,
    summary_run_id: str | None,
    total: int,
    where: str,
    args: tuple[Any, ...],
) -> list[NodeRow]:
    """Hierarchy nodes; a leaf is titled by the view's pass when it has a title there (the
    hierarchy's own copy of a leaf title is the pass it was merged from)."""
    found = rows(
        conn,
        "SELECT h.cluster_id, h.level, h.title, h.query_count, h.parent_cluster_id,"
        " json_array_length(h.children_ids) AS kids FROM cluster_hierarchies h"
        f" WHERE h.hierarchy_run_id = ? AND {where}",
        (hierarchy_run_id, *args),
    )
    leaves = [int(r["cluster_id"]) for r in found if r["level"] == 0]
    titles = pass_summaries(conn, summary_run_id, leaves)
    out = []
    for r in found:
        cid, level, count = int(r["cluster_id"]), int(r["level"]), int(r["query_count"] or 0)
        title = (titles.get(cid) or {}).get("title") if level == 0 else None
        out.append(
            NodeRow(
                node_id=cid,
                level=level,
                title=title or r["title"] or f"node {cid}",
                count=count,
                share=_share(count, total),
                child_count=int(r["kids"] or 0),
                parent_id=r["parent_cluster_id"],
            )
        )
    return out


def _noise_row(conn: Any, view: View) -> list[NodeRow]:
    """Noise is never merged into a hierarchy; it still belongs in the tree."""
    size = scalar(
        conn, "SELECT size FROM clusters WHERE run_id = ? AND cluster_id = ?", (view.run_id, NOISE)
    )
    if size is None:
        return []
    return [NodeRow(NOISE, 0, NOISE_TITLE, int(size), _share(int(size), view.total))]


def children(view: View, parent: int | None, *, sort: str = "size") -> list[NodeRow]:
    """The children of `parent` (None: the roots), largest first or by title.

    Roots of a hierarchy are its top level, then anything the merge left unplaced (so no query
    disappears from the tree), then noise.
    """
    with reader(view.db) as conn:
        hier = view.hierarchy_run_id
        if hier is None:
            return _sorted(_flat_clusters(conn, view), sort) if parent is None else []
        args = (hier, view.summary_run_id, view.total)
        if parent is not None:
            return _sorted(_hierarchy_rows(conn, *args, "h.parent_cluster_id = ?", (parent,)), sort)
        roots = _hierarchy_rows(conn, *args, "h.parent_cluster_id IS NULL", ())
        top = max((r.level for r in roots), default=0)
        placed = _sorted([r for r in roots if r.level == top], sort)
        unplaced = _sorted([r for r in roots if r.level != top], sort)
        return placed + unplaced + _noise_row(conn, view)


def node_index(view: View) -> dict[int, NodeRow]:
    """Every node of the view (a few hundred rows): for per-node hit counts and jumping."""
    with reader(view.db) as conn:
        if view.hierarchy_run_id is None:
            found = _flat_clusters(conn, view)
        else:
            found = _hierarchy_rows(
                conn, view.hierarchy_run_id, view.summary_run_id, view.total, "1 = 1", ()
            ) + _noise_row(conn, view)
    return {r.node_id: r for r in found}


def path_to(index: Mapping[int, NodeRow], node_id: int) -> list[int]:
    """Node ids from a root down to `node_id` (inclusive); [] when the index lacks the node."""
    path: list[int] = []
    current: int | None = node_id
    while current is not None and current in index and current not in path:
        path.append(current)
        current = index[current].parent_id
    return path[::-1]


def counts_by_node(
    index: Mapping[int, NodeRow], cluster_counts: Mapping[int, int]
) -> dict[int, int]:
    """Counts per cluster rolled up to every ancestor: what the tree shows beside each node.
    A cluster the index lacks still counts at itself."""
    out: dict[int, int] = {}
    for cluster_id, n in cluster_counts.items():
        for node in path_to(index, cluster_id) or [cluster_id]:
            out[node] = out.get(node, 0) + n
    return out


def leaf_paths(conn: Any, hierarchy_run_id: str) -> dict[int, tuple[int, ...]]:
    """Cluster id -> the hierarchy's node ids from that cluster (level 0) up to its root."""
    index = {r.node_id: r for r in _hierarchy_rows(conn, hierarchy_run_id, None, 0, "1 = 1", ())}
    return {
        node_id: tuple(reversed(path_to(index, node_id)))
        for node_id, row in index.items()
        if row.level == 0
    }


def leaves_under(conn: Any, hierarchy_run_id: str, node_id: int) -> list[int]:
    """The clusters under a hierarchy node (the node itself when it is a cluster), by id."""
    found = rows(
        conn,
        "WITH RECURSIVE sub(id, level) AS (SELECT cluster_id, level FROM cluster_hierarchies"
        "  WHERE hierarchy_run_id = ?1 AND cluster_id = ?2"
        " UNION ALL SELECT h.cluster_id, h.level FROM cluster_hierarchies h JOIN sub"
        "  ON h.parent_cluster_id = sub.id WHERE h.hierarchy_run_id = ?1 AND sub.level > 0)"
        " SELECT id FROM sub WHERE level = 0 ORDER BY id",
        (hierarchy_run_id, node_id),
    )
    return [int(r["id"]) for r in found]


def leaf_clusters(view: View, node_id: int, level: int) -> list[int]:
    """The run's clusters under a node of the view (the node itself when it is a cluster)."""
    if level == 0 or view.hierarchy_run_id is None:
        return [node_id]
    with reader(view.db) as conn:
        return leaves_under(conn, view.hierarchy_run_id, node_id)
