"""What the detail panel shows for one node, and one query in full.

A node's breakdowns are computed on demand and sampled above BREAKDOWN_SAMPLE members (said on
screen); its statements take a `cancelled` callable that SQLite checks, so a detail read the
cursor has already left stops at once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lmsys_tui.core.read.members import CancelCheck, central, clipped_texts
from lmsys_tui.core.read.runs import View
from lmsys_tui.core.read.tree import cluster_title, leaf_clusters
from lmsys_tui.core.store.sql import IN_IDS, id_list, loads, one, reader, rows
from lmsys_tui.errors import NotFoundError

BREAKDOWN_TOP = 6
BREAKDOWN_SAMPLE = 10_000  # breakdowns of larger nodes count every k-th query (said on screen)
UNKNOWN = "unknown"  # the label of queries without a language or model (a dataset without one)
KEYWORDS_SHOWN = 12


def _members_where(cluster_ids: list[int]) -> tuple[str, Any]:
    if len(cluster_ids) == 1:
        return "cluster_id = ?", cluster_ids[0]
    return f"cluster_id {IN_IDS}", id_list(cluster_ids)


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Largest first (ties by name), the tail folded into "other"."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked[:BREAKDOWN_TOP]
    rest = sum(n for _, n in ranked[BREAKDOWN_TOP:])
    return [*top, ("other", rest)] if rest else top


def _breakdowns(
    conn: Any, run_id: str, cluster_ids: list[int], size: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """Language and model counts among the node's queries: exact up to BREAKDOWN_SAMPLE
    members, else over every k-th query id (read from the covering index, so only the sample
    touches the query rows). Returns (languages, models, members counted)."""
    step = max(1, math.ceil(size / BREAKDOWN_SAMPLE))
    where, arg = _members_where(cluster_ids)
    members = f"SELECT query_id FROM query_clusters WHERE run_id = ? AND {where}"
    args: list[Any] = [run_id, arg]
    if step > 1:
        members += " AND query_id % ? = 0"
        args.append(step)
    found = rows(
        conn,
        f"SELECT COALESCE(q.language, '{UNKNOWN}') AS language,"
        f" COALESCE(q.model, '{UNKNOWN}') AS model, COUNT(*) AS n"
        f" FROM ({members}) m JOIN queries q ON q.id = m.query_id GROUP BY 1, 2",
        args,
    )
    langs: dict[str, int] = {}
    models: dict[str, int] = {}
    for r in found:
        langs[str(r["language"])] = langs.get(str(r["language"]), 0) + int(r["n"])
        models[str(r["model"])] = models.get(str(r["model"]), 0) + int(r["n"])
    return _top(langs), _top(models), sum(int(r["n"]) for r in found)


def _examples(
    conn: Any, run_id: str, cluster_ids: list[int], n: int, width: int
) -> list[dict[str, Any]]:
    """The n most central queries: of the cluster, or one from each of the largest clusters."""
    wanted, per = cluster_ids, n
    if len(cluster_ids) > 1:
        per = 1
        wanted = [
            int(r["cluster_id"])
            for r in rows(
                conn,
                f"SELECT cluster_id FROM clusters WHERE run_id = ? AND cluster_id {IN_IDS}"
                " ORDER BY size DESC, cluster_id LIMIT ?",
                (run_id, id_list(cluster_ids), n),
            )
        ]
    found = central(conn, run_id, wanted, per)
    keys = [k for c in wanted for k in found[c]][:n]
    texts = clipped_texts(conn, [k.query_id for k in keys], width)
    return [
        {"query_id": k.query_id, "cluster_id": k.cluster_id, "distance": k.distance,
         "text": texts[k.query_id]["text"]}
        for k in keys
    ]  # fmt: skip


def _keywords(conn: Any, run_id: str, cluster_ids: list[int]) -> list[str]:
    """A cluster's keywords; for a node, the keywords its clusters share, weighted by size."""
    found = rows(
        conn,
        f"SELECT keywords, size FROM clusters WHERE run_id = ? AND cluster_id {IN_IDS}"
        " ORDER BY size DESC, cluster_id",
        (run_id, id_list(cluster_ids)),
    )
    if len(found) == 1:
        return list(loads(found[0]["keywords"], []))[:KEYWORDS_SHOWN]
    weight: dict[str, float] = {}
    for r in found:
        for rank, word in enumerate(loads(r["keywords"], [])[:10]):
            weight[word] = weight.get(word, 0.0) + int(r["size"]) / (rank + 1)
    return [w for w, _ in sorted(weight.items(), key=lambda x: (-x[1], x[0]))[:KEYWORDS_SHOWN]]


def _cluster_part(conn: Any, view: View, node_id: int) -> dict[str, Any]:
    """Title, summary and provenance of a cluster in the view's pass (keywords without one)."""
    row = one(
        conn,
        "SELECT keywords, metrics FROM clusters WHERE run_id = ? AND cluster_id = ?",
        (view.run_id, node_id),
    )
    assert row is not None  # the caller counted it
    out: dict[str, Any] = {"metrics": loads(row["metrics"], {})}
    summary = None
    if view.summary_run_id is not None:
        summary = one(
            conn,
            "SELECT title, description, coherence, model, alias, status, error, generated_at,"
            " summary_run_id FROM cluster_summaries WHERE summary_run_id = ? AND cluster_id = ?",
            (view.summary_run_id, node_id),
        )
    if summary is not None:
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
    summary_title = summary["title"] if summary is not None else None
    out["title"] = cluster_title(node_id, summary_title, loads(row["keywords"], []))
    return out


def _node_part(conn: Any, view: View, node_id: int) -> dict[str, Any]:
    """Title, description and provenance of a hierarchy node (named by the merge)."""
    row = one(
        conn,
        "SELECT h.title, h.description, h.created_at, r.model, r.hierarchy_run_id,"
        " r.summary_run_id, json_array_length(h.children_ids) AS kids"
        " FROM cluster_hierarchies h JOIN hierarchy_runs r"
        " ON r.hierarchy_run_id = h.hierarchy_run_id"
        " WHERE h.hierarchy_run_id = ? AND h.cluster_id = ?",
        (view.hierarchy_run_id, node_id),
    )
    if row is None:
        raise NotFoundError(f"hierarchy {view.hierarchy_run_id!r} has no node {node_id}")
    return {
        "title": row["title"] or f"node {node_id}",
        "description": row["description"],
        "children": int(row["kids"] or 0),
        "provenance": {
            "kind": "hierarchy",
            "hierarchy_run_id": row["hierarchy_run_id"],
            "summary_run_id": row["summary_run_id"],
            "model": row["model"],
            "when": row["created_at"],
        },
    }


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
    with reader(view.db, cancelled) as conn:
        sizes = one(
            conn,
            "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS size FROM clusters"
            f" WHERE run_id = ? AND cluster_id {IN_IDS}",
            (view.run_id, id_list(cluster_ids)),
        )
        assert sizes is not None
        if level == 0 and not sizes["n"]:
            raise NotFoundError(f"run {view.run_id!r} has no cluster {node_id}")
        size = int(sizes["size"])
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
        out |= _cluster_part(conn, view, node_id) if level == 0 else _node_part(conn, view, node_id)
        out["keywords"] = _keywords(conn, view.run_id, cluster_ids)
        out["examples"] = _examples(conn, view.run_id, cluster_ids, examples, width)
        langs, models, counted = _breakdowns(conn, view.run_id, cluster_ids, size)
        out["languages"], out["models"] = langs, models
        out["breakdown_sample"] = counted if counted < size else None
    return out


def query_detail(db: Path, query_id: int, run_id: str | None = None) -> dict[str, Any]:
    """One query in full, with its metadata and (given a run) its cluster and distance."""
    with reader(db) as conn:
        found = one(
            conn,
            "SELECT q.id AS query_id, q.conversation_id, d.label AS dataset, q.model,"
            " q.language, q.turn_count, q.redacted, q.moderation_flagged, q.timestamp,"
            " q.query_text FROM queries q JOIN datasets d ON d.id = q.dataset_id WHERE q.id = ?",
            (query_id,),
        )
        if found is None:
            raise NotFoundError(f"no query {query_id} in the store")
        if run_id is not None:
            member = one(
                conn,
                "SELECT cluster_id, distance, confidence_score AS confidence FROM query_clusters"
                " WHERE run_id = ? AND query_id = ?",
                (run_id, query_id),
            )
            found |= member if member is not None else {"cluster_id": None}
    return found
