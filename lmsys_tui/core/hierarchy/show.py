"""Reading a hierarchy back as a tree: nodes with query counts and their share of the run.

Uses the stdlib sqlite3 reader (no SQLAlchemy import), so `show-hierarchy` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.read.runs import run_total
from lmsys_tui.core.store.sql import loads, maybe_reader, one, rows
from lmsys_tui.errors import NotFoundError


def _resolve(conn: Any, ident: str) -> dict[str, Any]:
    """A hierarchy by id, or the newest one of a clustering run given its run id."""
    cols = (
        "hierarchy_run_id, run_id, summary_run_id, model, status, error, parameters,"
        " created_at, finished_at"
    )
    row = one(conn, f"SELECT {cols} FROM hierarchy_runs WHERE hierarchy_run_id = ?", (ident,))
    if row is None:
        row = one(
            conn,
            f"SELECT {cols} FROM hierarchy_runs WHERE run_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (ident,),
        )
    if row is None:
        raise NotFoundError(f"no hierarchy {ident!r} (merge-clusters prints its id)")
    return row


def load_tree(db: Path, ident: str, max_depth: int | None = None) -> dict[str, Any]:
    """The hierarchy as nested nodes, roots first (largest first at every level)."""
    with maybe_reader(db) as conn:
        if conn is None:
            raise NotFoundError(f"no store at {db}")
        head = _resolve(conn, ident)
        total = run_total(conn, head["run_id"])
        nodes = rows(
            conn,
            "SELECT cluster_id, parent_cluster_id, level, children_ids, title, description,"
            " query_count FROM cluster_hierarchies WHERE hierarchy_run_id = ?",
            (head["hierarchy_run_id"],),
        )
    params = loads(head.pop("parameters"), {})
    by_parent: dict[int | None, list[dict[str, Any]]] = {}
    for n in nodes:
        n["children_ids"] = loads(n["children_ids"], [])
        n["share"] = round(n["query_count"] / total, 6) if total else 0.0
        by_parent.setdefault(n["parent_cluster_id"], []).append(n)
    for group in by_parent.values():
        group.sort(key=lambda n: (-n["query_count"], n["cluster_id"]))

    def build(node: dict[str, Any], depth: int) -> dict[str, Any]:
        kids = by_parent.get(node["cluster_id"], [])
        out = {
            k: node[k]
            for k in ("cluster_id", "level", "title", "description", "query_count", "share")
        }
        out["num_children"] = len(kids)
        if max_depth is None or depth < max_depth:
            out["children"] = [build(k, depth + 1) for k in kids]
        else:
            out["children"] = []
        return out

    top = max((n["level"] for n in nodes), default=0)
    roots = [n for n in by_parent.get(None, []) if n["level"] == top]
    levels: dict[int, int] = {}
    for n in nodes:
        levels[n["level"]] = levels.get(n["level"], 0) + 1
    return {
        **head,
        "total_queries": total,
        "levels": [levels[k] for k in sorted(levels)],
        "unplaced": (params.get("last_result") or {}).get("unplaced", []),
        "shape": params.get("shape") or {},  # how the level sizes were chosen (and the score)
        "fallbacks": (params.get("last_result") or {}).get("fallbacks", []),
        "tree": [build(r, 1) for r in roots],
    }
