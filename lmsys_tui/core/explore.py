"""Read paths for exploring one clustering run: its tree, a node's detail, pages of members.

The explorer never holds a whole run in memory: the tree asks for one node's children at a time,
member lists are keyset-paged (never OFFSET, so page 1,000 costs what page 1 costs) and a node's
breakdowns are computed on demand. Everything goes through the stdlib `sqlite3` reader (no ORM
import), and the long statements take a `cancelled` callable that aborts them inside SQLite, so
a reader thread that has gone stale stops at once instead of finishing work nobody will see.

A "view" is a run seen through one hierarchy (or none: flat clusters) and one summary pass
(titles of the clusters). Node ids are the hierarchy's (`cluster_hierarchies.cluster_id`, where
level 0 nodes are the run's cluster ids), so a cluster has the same id in both kinds of view.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmsys_tui.core import browse
from lmsys_tui.core.store.reader import connect
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError

CancelCheck = Callable[[], bool]
NOISE = -1
SORTS = ("size", "title")
ORDERS = ("distance", "-distance", "id")
BREAKDOWN_TOP = 6
BREAKDOWN_SAMPLE = 10_000  # breakdowns of larger nodes count every k-th query (said on screen)


@dataclass(frozen=True)
class View:
    """Which run, hierarchy and summary pass the explorer shows, with the run's query total."""

    db: Path
    run_id: str
    hierarchy_run_id: str | None
    summary_run_id: str | None
    total: int

    def with_pass(self, summary_run_id: str | None) -> View:
        return replace(self, summary_run_id=summary_run_id)


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


@dataclass(frozen=True)
class RunOverview:
    """A run with its summary passes and hierarchies, and the view chosen to open it with."""

    run: dict[str, Any]
    passes: list[dict[str, Any]]
    hierarchies: list[dict[str, Any]]
    view: View


@dataclass(frozen=True)
class QueryPage:
    rows: list[dict[str, Any]]
    order: str
    after: tuple[Any, ...] | None
    next_after: tuple[Any, ...] | None  # None: this is the last page
    cluster_ids: list[int] = field(default_factory=list)


@contextmanager
def _reader(db: Path, cancelled: CancelCheck | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection that SQLite itself interrupts once `cancelled()` turns true."""
    with connect(db) as conn:
        if conn is None:
            raise NotFoundError(f"no lmsys-tui store at {db}")
        if cancelled is not None:
            # every ~100k VM steps (a few ms): often enough to stop at once, rarely enough
            # that the reader thread seldom takes the GIL from the UI thread
            conn.set_progress_handler(lambda: 1 if cancelled() else 0, 100_000)
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if cancelled is not None and cancelled() and "interrupt" in str(exc):
                raise Cancelled("cancelled") from None
            raise


def _loads(value: Any, default: Any) -> Any:
    try:
        return json.loads(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# -- runs, passes, hierarchies ----------------------------------------------------------------


def list_passes(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    """Summary passes of a run, newest first, with how many clusters each one titled."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT s.summary_run_id, s.alias, s.model, s.status, s.error, s.created_at,"
            " s.finished_at, (SELECT COUNT(*) FROM cluster_summaries c"
            "  WHERE c.summary_run_id = s.summary_run_id AND c.title IS NOT NULL) AS titled"
            " FROM summary_runs s WHERE s.run_id = ? ORDER BY s.created_at DESC, s.rowid DESC",
            (run_id,),
        )
    ]


def list_hierarchies(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    """Hierarchies of a run, newest first, with their levels and node count."""
    out = []
    for r in conn.execute(
        "SELECT h.hierarchy_run_id, h.summary_run_id, h.model, h.status, h.error, h.created_at,"
        " h.finished_at, (SELECT COUNT(*) FROM cluster_hierarchies c"
        "  WHERE c.hierarchy_run_id = h.hierarchy_run_id) AS nodes,"
        " (SELECT MAX(level) + 1 FROM cluster_hierarchies c"
        "  WHERE c.hierarchy_run_id = h.hierarchy_run_id) AS levels"
        " FROM hierarchy_runs h WHERE h.run_id = ? ORDER BY h.created_at DESC, h.rowid DESC",
        (run_id,),
    ):
        out.append(dict(r))
    return out


def _run_total(conn: sqlite3.Connection, run_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM clusters WHERE run_id = ?", (run_id,)
    ).fetchone()
    return int(row[0])


def open_run(
    db: Path,
    run_id: str,
    *,
    hierarchy_run_id: str | None = None,
    summary_run_id: str | None = None,
    flat: bool = False,
) -> RunOverview:
    """The run, its passes and hierarchies, and the view to show.

    Defaults: the newest finished hierarchy (unless `flat`), and the summary pass that
    hierarchy was named from, else the pass `list-clusters` would pick.
    """
    with _reader(db) as conn:
        run = browse.get_run(conn, run_id)
        passes = list_passes(conn, run_id)
        hierarchies = list_hierarchies(conn, run_id)
        hier = None
        if hierarchy_run_id is not None:
            hier = next((h for h in hierarchies if h["hierarchy_run_id"] == hierarchy_run_id), None)
            if hier is None:
                raise NotFoundError(f"run {run_id!r} has no hierarchy {hierarchy_run_id!r}")
        elif not flat:
            hier = next((h for h in hierarchies if h["status"] == "done" and h["nodes"]), None)
        named = hier["summary_run_id"] if hier is not None else None
        if summary_run_id is None and any(p["summary_run_id"] == named for p in passes):
            summary_run_id = named
        chosen = browse.summary_pass(conn, run_id, summary_run_id)
        view = View(
            db=db,
            run_id=run_id,
            hierarchy_run_id=hier["hierarchy_run_id"] if hier else None,
            summary_run_id=chosen["summary_run_id"] if chosen else None,
            total=_run_total(conn, run_id),
        )
    return RunOverview(run=run, passes=passes, hierarchies=hierarchies, view=view)


# -- the tree ---------------------------------------------------------------------------------


def _titles(conn: sqlite3.Connection, view: View, cluster_ids: list[int]) -> dict[int, str]:
    """Titles of the view's summary pass for these clusters (a pass never mixes with another)."""
    if view.summary_run_id is None or not cluster_ids:
        return {}
    rows = conn.execute(
        "SELECT c.cluster_id, c.title FROM cluster_summaries c JOIN json_each(?) j"
        " ON c.cluster_id = j.value WHERE c.summary_run_id = ? AND c.title IS NOT NULL",
        (json.dumps(cluster_ids), view.summary_run_id),
    )
    return {int(r[0]): str(r[1]) for r in rows}


def _keyword_title(cluster_id: int, keywords: list[str]) -> str:
    if cluster_id == NOISE:
        return "noise (not in any cluster)"
    return ", ".join(keywords[: browse.KEYWORDS_IN_TITLE]) or f"cluster {cluster_id}"


def _sorted(rows: list[NodeRow], sort: str) -> list[NodeRow]:
    if sort not in SORTS:
        raise UsageError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "title":
        return sorted(rows, key=lambda r: (r.is_noise, r.title.casefold(), r.node_id))
    return sorted(rows, key=lambda r: (r.is_noise, -r.count, r.node_id))


def _flat_clusters(conn: sqlite3.Connection, view: View) -> list[NodeRow]:
    rows = conn.execute(
        "SELECT cluster_id, size, keywords FROM clusters WHERE run_id = ?", (view.run_id,)
    ).fetchall()
    titles = _titles(conn, view, [int(r[0]) for r in rows])
    return [
        NodeRow(
            node_id=int(cid),
            level=0,
            title=titles.get(int(cid)) or _keyword_title(int(cid), _loads(kw, [])),
            count=int(size),
            share=int(size) / view.total if view.total else 0.0,
        )
        for cid, size, kw in rows
    ]


def _hierarchy_rows(conn: sqlite3.Connection, view: View, where: str, args: tuple) -> list[NodeRow]:
    rows = conn.execute(
        "SELECT h.cluster_id, h.level, h.title, h.query_count, h.parent_cluster_id,"
        " json_array_length(h.children_ids) FROM cluster_hierarchies h"
        f" WHERE h.hierarchy_run_id = ? AND {where}",
        (view.hierarchy_run_id, *args),
    ).fetchall()
    leaves = [int(r[0]) for r in rows if r[1] == 0]
    titles = _titles(conn, view, leaves)
    return [
        NodeRow(
            node_id=int(cid),
            level=int(level),
            title=(titles.get(int(cid)) if level == 0 else None) or title or f"node {cid}",
            count=int(count or 0),
            share=int(count or 0) / view.total if view.total else 0.0,
            child_count=int(kids or 0),
            parent_id=parent,
        )
        for cid, level, title, count, parent, kids in rows
    ]


def _noise_row(conn: sqlite3.Connection, view: View) -> list[NodeRow]:
    """Noise is never merged into a hierarchy; it still belongs in the tree."""
    row = conn.execute(
        "SELECT size FROM clusters WHERE run_id = ? AND cluster_id = ?", (view.run_id, NOISE)
    ).fetchone()
    if row is None:
        return []
    size = int(row[0])
    return [
        NodeRow(NOISE, 0, _keyword_title(NOISE, []), size, size / view.total if view.total else 0.0)
    ]


def children(view: View, parent: int | None, *, sort: str = "size") -> list[NodeRow]:
    """The children of `parent` (None: the roots), largest first or by title.

    Roots of a hierarchy are its top level, then anything the merge left unplaced (so no query
    disappears from the tree), then noise.
    """
    with _reader(view.db) as conn:
        if view.hierarchy_run_id is None:
            return _sorted(_flat_clusters(conn, view), sort) if parent is None else []
        if parent is not None:
            return _sorted(_hierarchy_rows(conn, view, "h.parent_cluster_id = ?", (parent,)), sort)
        roots = _hierarchy_rows(conn, view, "h.parent_cluster_id IS NULL", ())
        top = max((r.level for r in roots), default=0)
        placed = _sorted([r for r in roots if r.level == top], sort)
        unplaced = _sorted([r for r in roots if r.level != top], sort)
        return placed + unplaced + _noise_row(conn, view)


def node_index(view: View) -> dict[int, NodeRow]:
    """Every node of the view (a few hundred rows): for per-node hit counts and jumping."""
    with _reader(view.db) as conn:
        if view.hierarchy_run_id is None:
            rows = _flat_clusters(conn, view)
        else:
            rows = _hierarchy_rows(conn, view, "1 = 1", ()) + _noise_row(conn, view)
    return {r.node_id: r for r in rows}


def path_to(index: dict[int, NodeRow], node_id: int) -> list[int]:
    """Node ids from a root down to `node_id` (inclusive); [] when the view lacks the node."""
    path: list[int] = []
    seen: set[int] = set()
    current: int | None = node_id
    while current is not None and current in index and current not in seen:
        seen.add(current)
        path.append(current)
        current = index[current].parent_id
    return path[::-1]


def counts_by_node(index: dict[int, NodeRow], cluster_counts: dict[int, int]) -> dict[int, int]:
    """Hits per cluster rolled up to every ancestor: what the tree shows beside each node."""
    out: dict[int, int] = {}
    for cluster_id, n in cluster_counts.items():
        for node in path_to(index, cluster_id):
            out[node] = out.get(node, 0) + n
    return out


def leaf_clusters(view: View, node_id: int, level: int) -> list[int]:
    """The run's clusters under a node (the node itself when it is a cluster)."""
    if level == 0 or view.hierarchy_run_id is None:
        return [node_id]
    with _reader(view.db) as conn:
        rows = conn.execute(
            "WITH RECURSIVE sub(id, level) AS (SELECT cluster_id, level FROM cluster_hierarchies"
            "  WHERE hierarchy_run_id = ?1 AND cluster_id = ?2"
            " UNION ALL SELECT h.cluster_id, h.level FROM cluster_hierarchies h JOIN sub"
            "  ON h.parent_cluster_id = sub.id WHERE h.hierarchy_run_id = ?1 AND sub.level > 0)"
            " SELECT id FROM sub WHERE level = 0 ORDER BY id",
            (view.hierarchy_run_id, node_id),
        ).fetchall()
    return [int(r[0]) for r in rows]


# -- a node's detail --------------------------------------------------------------------------


def _members_filter(cluster_ids: list[int]) -> tuple[str, Any]:
    if len(cluster_ids) == 1:
        return "cluster_id = ?", cluster_ids[0]
    return "cluster_id IN (SELECT value FROM json_each(?))", json.dumps(cluster_ids)


def _breakdowns(
    conn: sqlite3.Connection, run_id: str, cluster_ids: list[int], size: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """Language and model counts among the node's queries: exact up to BREAKDOWN_SAMPLE
    members, else over every k-th query id (read from the covering index, so only the sample
    touches the query rows). Returns (languages, models, members counted)."""
    step = max(1, math.ceil(size / BREAKDOWN_SAMPLE))
    where, arg = _members_filter(cluster_ids)
    members = f"SELECT query_id FROM query_clusters WHERE run_id = ? AND {where}"
    args: list[Any] = [run_id, arg]
    if step > 1:
        members += " AND query_id % ? = 0"
        args.append(step)
    rows = conn.execute(
        "SELECT COALESCE(q.language, '?'), COALESCE(q.model, '?'), COUNT(*)"
        f" FROM ({members}) m JOIN queries q ON q.id = m.query_id GROUP BY 1, 2",
        args,
    ).fetchall()
    langs: dict[str, int] = {}
    models: dict[str, int] = {}
    for lang, model, n in rows:
        langs[str(lang)] = langs.get(str(lang), 0) + int(n)
        models[str(model)] = models.get(str(model), 0) + int(n)
    return _top(langs), _top(models), sum(int(r[2]) for r in rows)


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Largest first (ties by name), the tail folded into "other"."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked[:BREAKDOWN_TOP]
    rest = sum(n for _, n in ranked[BREAKDOWN_TOP:])
    return [*top, ("other", rest)] if rest else top


# Members of one cluster in an order, read from ix_query_clusters_run_cluster_distance. Rows
# without a distance (noise) come after those with one, in id order, so each order is an index
# range scan: (phase, distance, query id) is the keyset, phase 0 = has a distance, 1 = has none.
_PHASE_SQL = {
    ("distance", 0): ("distance IS NOT NULL", "(distance, query_id) > (?, ?)",
                      "distance, query_id"),
    ("-distance", 0): ("distance IS NOT NULL", "(distance, query_id) < (?, ?)",
                       "distance DESC, query_id DESC"),
    ("id", 0): ("1 = 1", "query_id > ?", "query_id"),
    ("distance", 1): ("distance IS NULL", "query_id > ?", "query_id"),
    ("-distance", 1): ("distance IS NULL", "query_id > ?", "query_id"),
}  # fmt: skip
_SPLIT_MAX = 300  # above this many clusters, one statement over all of them (sorted by SQLite)


def _sort_key(order: str, key: tuple[Any, ...]) -> tuple[Any, ...]:
    phase, distance, qid = key
    if order == "-distance" and phase == 0:
        return (phase, -distance, -qid)
    return (phase, distance if phase == 0 and order != "id" else 0.0, qid)


def _member_keys(
    conn: sqlite3.Connection,
    run_id: str,
    cluster_ids: list[int],
    order: str,
    after: tuple[Any, ...] | None,
    n: int,
    cancelled: CancelCheck | None,
) -> list[tuple[Any, ...]]:
    """The first `n` (phase, distance, query id, cluster id) after the keyset `after`: each
    cluster's own first `n` (an index range scan each), merged."""
    phases = (0,) if order == "id" else (0, 1)
    out: list[tuple[Any, ...]] = []
    for phase in phases:
        if after is not None and after[0] > phase:
            continue
        present, keyset, by = _PHASE_SQL[(order, phase)]
        after_args: tuple[Any, ...] = ()
        if after is not None and after[0] == phase:
            after_args = (after[1], after[2]) if "distance," in keyset else (after[2],)
        else:
            keyset = "1 = 1"
        groups = [[c] for c in cluster_ids] if len(cluster_ids) <= _SPLIT_MAX else [cluster_ids]
        found: list[tuple[Any, ...]] = []
        for group in groups:
            if cancelled is not None and cancelled():
                raise Cancelled("cancelled")
            where, arg = _members_filter(group)
            found.extend(
                (phase, d if phase == 0 else None, int(q), int(c))
                for q, c, d in conn.execute(
                    "SELECT query_id, cluster_id, distance FROM query_clusters"
                    f" WHERE run_id = ? AND {where} AND {present} AND {keyset}"
                    f" ORDER BY {by} LIMIT ?",
                    (run_id, arg, *after_args, n - len(out)),
                )
            )
        found.sort(key=lambda k: _sort_key(order, k[:3]))
        out.extend(found[: n - len(out)])
        if len(out) >= n:
            break
    return out


def _central(
    conn: sqlite3.Connection, run_id: str, cluster_ids: list[int], n: int, width: int
) -> list[dict[str, Any]]:
    """The n most central queries: per cluster for one cluster, else one per largest cluster."""
    if len(cluster_ids) == 1:
        per, wanted = n, cluster_ids
    else:
        per = 1
        wanted = [
            int(r[0])
            for r in conn.execute(
                "SELECT cluster_id FROM clusters WHERE run_id = ?"
                " AND cluster_id IN (SELECT value FROM json_each(?))"
                " ORDER BY size DESC, cluster_id LIMIT ?",
                (run_id, json.dumps(cluster_ids), n),
            )
        ]
    keys: list[tuple[Any, ...]] = []
    for cid in wanted:
        keys.extend(_member_keys(conn, run_id, [cid], "distance", None, per, None))
    texts = _texts(conn, [k[2] for k in keys], width)
    return [
        {"query_id": k[2], "cluster_id": k[3], "distance": k[1], "text": texts[k[2]]["text"]}
        for k in keys[:n]
    ]


def _texts(conn: sqlite3.Connection, ids: list[int], width: int) -> dict[int, dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, model, language, length(query_text) AS chars, substr(query_text, 1, ?)"
        " AS text FROM queries WHERE id IN (SELECT value FROM json_each(?))",
        (width, json.dumps(ids)),
    )
    return {int(r["id"]): dict(r) for r in rows}


def _keywords(conn: sqlite3.Connection, run_id: str, cluster_ids: list[int]) -> list[str]:
    """A cluster's keywords; for a node, the keywords its clusters share, weighted by size."""
    rows = conn.execute(
        "SELECT keywords, size FROM clusters WHERE run_id = ?"
        " AND cluster_id IN (SELECT value FROM json_each(?)) ORDER BY size DESC, cluster_id",
        (run_id, json.dumps(cluster_ids)),
    ).fetchall()
    if len(rows) == 1:
        return list(_loads(rows[0][0], []))[:12]
    weight: dict[str, float] = {}
    for kw, size in rows:
        for rank, word in enumerate(_loads(kw, [])[:10]):
            weight[word] = weight.get(word, 0.0) + int(size) / (rank + 1)
    return [w for w, _ in sorted(weight.items(), key=lambda x: (-x[1], x[0]))[:12]]


def node_detail(
    view: View,
    node_id: int,
    level: int,
    *,
    examples: int = 5,
    width: int = 400,
    cancelled: CancelCheck | None = None,
) -> dict[str, Any]:
    """What the detail panel shows for one node: summary, size, keywords, breakdowns, examples,
    and where the title came from (pass, model, when)."""
    cluster_ids = leaf_clusters(view, node_id, level)
    with _reader(view.db, cancelled) as conn:
        sizes = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM clusters WHERE run_id = ?"
            " AND cluster_id IN (SELECT value FROM json_each(?))",
            (view.run_id, json.dumps(cluster_ids)),
        ).fetchone()
        if level == 0 and not sizes[0]:
            raise NotFoundError(f"run {view.run_id!r} has no cluster {node_id}")
        size = int(sizes[1])
        out: dict[str, Any] = {
            "run_id": view.run_id,
            "node_id": node_id,
            "level": level,
            "clusters": len(cluster_ids),
            "cluster_ids": cluster_ids,
            "size": size,
            "share": size / view.total if view.total else 0.0,
            "title": None,
            "description": None,
            "coherence": None,
            "provenance": None,
            "metrics": {},
        }
        if level == 0:
            row = conn.execute(
                "SELECT keywords, metrics FROM clusters WHERE run_id = ? AND cluster_id = ?",
                (view.run_id, node_id),
            ).fetchone()
            out["metrics"] = _loads(row[1], {})
            summary = None
            if view.summary_run_id is not None:
                summary = conn.execute(
                    "SELECT c.title, c.description, c.coherence, c.model, c.alias, c.status,"
                    " c.error, c.generated_at, c.summary_run_id FROM cluster_summaries c"
                    " WHERE c.summary_run_id = ? AND c.cluster_id = ?",
                    (view.summary_run_id, node_id),
                ).fetchone()
            if summary is not None:
                out["title"] = summary["title"]
                out["description"] = summary["description"]
                out["coherence"] = summary["coherence"]
                out["provenance"] = {
                    "kind": "summary",
                    "summary_run_id": summary["summary_run_id"],
                    "alias": summary["alias"],
                    "model": summary["model"],
                    "status": summary["status"],
                    "error": summary["error"],
                    "when": summary["generated_at"],
                }
            if not out["title"]:
                out["title"] = _keyword_title(node_id, _loads(row[0], []))
        else:
            row = conn.execute(
                "SELECT h.title, h.description, h.created_at, r.model, r.hierarchy_run_id,"
                " r.summary_run_id, json_array_length(h.children_ids) AS kids"
                " FROM cluster_hierarchies h JOIN hierarchy_runs r"
                " ON r.hierarchy_run_id = h.hierarchy_run_id"
                " WHERE h.hierarchy_run_id = ? AND h.cluster_id = ?",
                (view.hierarchy_run_id, node_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"hierarchy {view.hierarchy_run_id!r} has no node {node_id}")
            out["title"] = row["title"] or f"node {node_id}"
            out["description"] = row["description"]
            out["children"] = int(row["kids"] or 0)
            out["provenance"] = {
                "kind": "hierarchy",
                "hierarchy_run_id": row["hierarchy_run_id"],
                "summary_run_id": row["summary_run_id"],
                "model": row["model"],
                "when": row["created_at"],
            }
        out["keywords"] = _keywords(conn, view.run_id, cluster_ids)
        out["examples"] = _central(conn, view.run_id, cluster_ids, examples, width)
        langs, models, counted = _breakdowns(conn, view.run_id, cluster_ids, size)
        out["languages"], out["models"] = langs, models
        out["breakdown_sample"] = counted if counted < size else None
    return out


# -- members of a node, keyset-paged ----------------------------------------------------------


def query_page(
    view: View,
    cluster_ids: list[int],
    *,
    order: str = "distance",
    after: tuple[Any, ...] | None = None,
    limit: int = 100,
    width: int = 300,
    cancelled: CancelCheck | None = None,
) -> QueryPage:
    """One page of a node's queries; pass the page's `next_after` back for the next one.

    Orders: `distance` (closest to the centroid first), `-distance` (farthest first) and
    `id`; queries without a distance (noise) come last in id order. The keyset is
    (phase, distance, query id), so pages never overlap or skip a row, even on ties, and
    every page is an index range scan per cluster, however deep.
    """
    if order not in ORDERS:
        raise UsageError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if not 0 < limit <= browse.MAX_PAGE:
        raise UsageError(f"limit must be between 1 and {browse.MAX_PAGE}")
    if not cluster_ids:
        return QueryPage([], order, after, None, [])
    with _reader(view.db, cancelled) as conn:
        keys = _member_keys(conn, view.run_id, cluster_ids, order, after, limit + 1, cancelled)
        page = keys[:limit]
        texts = _texts(conn, [k[2] for k in page], width)
        conf = {
            int(q): c
            for q, c in conn.execute(
                "SELECT query_id, confidence_score FROM query_clusters WHERE run_id = ?"
                " AND query_id IN (SELECT value FROM json_each(?))",
                (view.run_id, json.dumps([k[2] for k in page])),
            )
        }
    rows = []
    for phase, distance, qid, cid in page:
        t = texts.get(qid, {})
        rows.append(
            {
                "query_id": qid,
                "cluster_id": cid,
                "distance": distance if phase == 0 else None,
                "confidence": conf.get(qid),
                "model": t.get("model"),
                "language": t.get("language"),
                "chars": t.get("chars", 0),
                "text": t.get("text", ""),
            }
        )
    next_after = tuple(page[-1][:3]) if len(keys) > limit else None
    return QueryPage(rows, order, after, next_after, list(cluster_ids))


def query_detail(db: Path, query_id: int, run_id: str | None = None) -> dict[str, Any]:
    """One query in full, with its metadata and (given a run) its cluster and distance."""
    with _reader(db) as conn:
        row = conn.execute(
            "SELECT q.id AS query_id, q.conversation_id, d.label AS dataset, q.model,"
            " q.language, q.turn_count, q.redacted, q.moderation_flagged, q.timestamp,"
            " q.query_text FROM queries q JOIN datasets d ON d.id = q.dataset_id WHERE q.id = ?",
            (query_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no query {query_id} in the store")
        out = dict(row)
        if run_id is not None:
            member = conn.execute(
                "SELECT cluster_id, distance, confidence_score AS confidence FROM query_clusters"
                " WHERE run_id = ? AND query_id = ?",
                (run_id, query_id),
            ).fetchone()
            out |= dict(member) if member is not None else {"cluster_id": None}
    return out


def run_children(db: Path, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary passes, hierarchies) of a run in any state, newest first."""
    with _reader(db) as conn:
        return list_passes(conn, run_id), list_hierarchies(conn, run_id)
