"""The headless listings as JSON: `list-clusters`, `inspect` and `list`.

Titles come from ONE summary pass (`runs.summary_pass`) with the one title rule
(`tree.cluster_title`); queries come from the one pager (`members`). Every listing has an
ORDER BY and query pages are keyset-paged, so a page costs the same at row 10 and at row 1M.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.read import members
from lmsys_tui.core.read.runs import get_hierarchy, get_run, run_total, summary_pass
from lmsys_tui.core.read.tree import NOISE, cluster_title, leaves_under, pass_summaries
from lmsys_tui.core.store.sql import (
    IN_IDS,
    id_list,
    loads,
    maybe_reader,
    one,
    require_positive,
    rows,
    scalar,
)
from lmsys_tui.errors import NotFoundError, UsageError

INSPECT_COLUMNS = (
    "query_id", "conversation_id", "model", "language", "distance", "confidence", "query_text",
)  # fmt: skip


def _need(conn: Any, path: Path) -> Any:
    if conn is None:
        raise NotFoundError(f"no lmsys-tui store at {path}")
    return conn


def _titled(cluster_id: int, summary: dict[str, Any] | None, keywords: list[str]) -> dict:
    """The title fields of one cluster in a listing."""
    title = summary.get("title") if summary else None
    return {
        "title": cluster_title(cluster_id, title, keywords),
        "title_source": "summary" if title else "keywords",
        "description": summary.get("description") if summary else None,
    }


def list_clusters(
    path: Path,
    run_id: str,
    *,
    limit: int | None = None,
    show_examples: int = 0,
    example_width: int = 80,
    summary_run_id: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Clusters of a run, largest first (noise last), with titles and optional examples."""
    require_positive(limit=limit)
    if show_examples < 0 or example_width <= 0:
        raise UsageError("--show-examples must be >= 0 and --example-width positive")
    with maybe_reader(path) as maybe:
        conn = _need(maybe, path)
        run = get_run(conn, run_id)
        pass_ = summary_pass(conn, run_id, summary_run_id, alias)
        n_clusters = scalar(conn, "SELECT COUNT(*) FROM clusters WHERE run_id = ?", (run_id,), 0)
        n_queries = run_total(conn, run_id)
        found = rows(
            conn,
            "SELECT cluster_id, size, keywords FROM clusters WHERE run_id = ?"
            " ORDER BY cluster_id = -1, size DESC, cluster_id"
            + (" LIMIT ?" if limit is not None else ""),
            (run_id, limit) if limit is not None else (run_id,),
        )
        ids = [int(r["cluster_id"]) for r in found]
        summaries = pass_summaries(conn, pass_["summary_run_id"] if pass_ else None, ids)
        central = members.central(conn, run_id, ids, show_examples)
        ids_shown = [k.query_id for keys in central.values() for k in keys]
        texts = members.clipped_texts(conn, ids_shown, example_width)
    clusters = []
    for r in found:
        cid, size = int(r["cluster_id"]), int(r["size"])
        keywords = loads(r["keywords"], [])
        entry: dict[str, Any] = {
            "cluster_id": cid,
            "num_queries": size,
            "share": round(size / n_queries, 6) if n_queries else 0.0,
            "noise": cid == NOISE,
            **_titled(cid, summaries.get(cid), keywords),
            "keywords": keywords,
        }
        if show_examples:
            entry["examples"] = [
                {"query_id": k.query_id, "distance": k.distance, "text": texts[k.query_id]["text"]}
                for k in central[cid]
            ]
        clusters.append(entry)
    return {
        "run_id": run_id,
        "algorithm": run["algorithm"],
        "summary_run_id": pass_["summary_run_id"] if pass_ else None,
        "alias": pass_["alias"] if pass_ else None,
        "total_clusters": int(n_clusters),
        "total_queries": n_queries,
        "clusters": clusters,
    }


def inspect_cluster(
    path: Path,
    run_id: str,
    cluster_id: int,
    *,
    show_queries: int = 10,
    summary_run_id: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """One cluster: size, title, keywords, metrics and its most central queries (full text)."""
    if show_queries < 0:
        raise UsageError("--show-queries must be >= 0")
    with maybe_reader(path) as maybe:
        conn = _need(maybe, path)
        get_run(conn, run_id)
        row = one(
            conn,
            "SELECT cluster_id, size, keywords, metrics FROM clusters"
            " WHERE run_id = ? AND cluster_id = ?",
            (run_id, cluster_id),
        )
        if row is None:
            raise NotFoundError(f"run {run_id!r} has no cluster {cluster_id}")
        total = run_total(conn, run_id)
        pass_ = summary_pass(conn, run_id, summary_run_id, alias)
        summary = pass_summaries(conn, pass_["summary_run_id"] if pass_ else None, [cluster_id])
        keys = members.central(conn, run_id, [cluster_id], show_queries)[cluster_id]
        found = _query_rows(conn, run_id, [k.query_id for k in keys])
    queries = [{c: q[c] for c in INSPECT_COLUMNS} for q in found]
    keywords = loads(row["keywords"], [])
    size = int(row["size"])
    return {
        "run_id": run_id,
        "cluster_id": cluster_id,
        "num_queries": size,
        "share": round(size / total, 6) if total else 0.0,
        "noise": cluster_id == NOISE,
        **_titled(cluster_id, summary.get(cluster_id), keywords),
        "summary_run_id": pass_["summary_run_id"] if pass_ else None,
        "keywords": keywords,
        "metrics": loads(row["metrics"], {}),
        "queries": queries,
        "more": max(0, size - len(queries)),
    }


def _query_rows(conn: Any, run_id: str | None, ids: list[int]) -> list[dict[str, Any]]:
    """Whole queries in the order of `ids`, with their membership in the run (if any)."""
    cols = "q.id AS query_id, q.conversation_id, d.label AS dataset, q.model, q.language"
    joins = " JOIN datasets d ON d.id = q.dataset_id"
    args: list[Any] = []
    if run_id is not None:
        cols += ", qc.cluster_id, qc.distance, qc.confidence_score AS confidence"
        joins += " LEFT JOIN query_clusters qc ON qc.query_id = q.id AND qc.run_id = ?"
        args.append(run_id)
    found = rows(
        conn,
        f"SELECT {cols}, q.query_text FROM queries q{joins} WHERE q.id {IN_IDS}",
        (*args, id_list(ids)),
    )
    by_id = {int(r["query_id"]): r for r in found}
    return [by_id[i] for i in ids if i in by_id]


def list_queries(
    path: Path,
    *,
    run_id: str | None = None,
    cluster_id: int | None = None,
    node: int | None = None,
    hierarchy_id: str | None = None,
    model: str | None = None,
    language: str | None = None,
    dataset: str | None = None,
    order: str | None = None,
    limit: int = 50,
    after_id: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    """A page of queries (id order unless `order` says otherwise); `next_after_id` (id order)
    and `next_after` (any order, with the new options) fetch the next page, None at the end.

    Without `node`, `hierarchy_id`, `order` and `after` the JSON is the reference's: filters,
    queries, count, next_after_id. With any of them, `filters` also carries node,
    hierarchy_id, order and after, and `next_after` is added; `next_after_id` stays only in
    id order (a distance page does not end at an id).
    """
    if not 0 < limit <= members.MAX_PAGE:
        raise UsageError(f"--limit must be between 1 and {members.MAX_PAGE}")
    if cluster_id is not None and run_id is None:
        raise UsageError("--cluster-id needs --run-id (cluster ids belong to a run)")
    extended = any(v is not None for v in (node, hierarchy_id, order, after))
    order = order or "id"
    if order not in members.ORDERS:
        raise UsageError(f"--order must be one of {', '.join(members.ORDERS)}, not {order!r}")
    if node is not None and run_id is None:
        raise UsageError("--node needs --run-id (hierarchy nodes belong to a run)")
    if node is not None and cluster_id is not None:
        raise UsageError("give --node or --cluster-id, not both")
    if hierarchy_id is not None and node is None:
        raise UsageError("--hierarchy-id needs --node")
    if order != "id" and run_id is None:
        raise UsageError(f"--order {order} needs --run-id (distances belong to a run)")
    if after is not None and after_id is not None:
        raise UsageError("give --after or --after-id, not both")
    if after_id is not None and order != "id":
        raise UsageError(f"--after-id pages id order; in {order} order use --after")
    start = members.parse_cursor(order, after) if after is not None else None
    if after_id is not None:
        start = (0, None, after_id)
    with maybe_reader(path) as maybe:
        conn = _need(maybe, path)
        cluster_ids: tuple[int, ...] | None = None
        if run_id is not None:
            get_run(conn, run_id)
            if cluster_id is not None:
                if scalar(conn, "SELECT 1 FROM clusters WHERE run_id = ? AND cluster_id = ?",
                          (run_id, cluster_id)) is None:  # fmt: skip
                    raise NotFoundError(f"run {run_id!r} has no cluster {cluster_id}")
                cluster_ids = (cluster_id,)
            if node is not None:
                hierarchy_id = get_hierarchy(conn, run_id, hierarchy_id)
                cluster_ids = tuple(leaves_under(conn, hierarchy_id, node))
                if not cluster_ids:
                    raise NotFoundError(f"hierarchy {hierarchy_id!r} has no node {node}")
        dataset_id = None
        if dataset is not None:
            dataset_id = scalar(conn, "SELECT id FROM datasets WHERE label = ?", (dataset,))
            if dataset_id is None:
                raise NotFoundError(f"no dataset labelled {dataset!r} in the store")
        scope = members.Scope(run_id, cluster_ids, model, language, dataset_id)
        keys = members.member_keys(conn, scope, order, start, limit + 1)
        page = keys[:limit]
        queries = _query_rows(conn, run_id, [k.query_id for k in page])
    more = len(keys) > limit
    filters: dict[str, Any] = {
        "run_id": run_id,
        "cluster_id": cluster_id,
        "model": model,
        "language": language,
        "dataset": dataset,
        "after_id": after_id,
    }
    out: dict[str, Any] = {"filters": filters, "queries": queries, "count": len(queries)}
    if not extended or order == "id":
        out["next_after_id"] = page[-1].query_id if more else None
    if extended:
        filters |= {"node": node, "hierarchy_id": hierarchy_id, "order": order, "after": after}
        out["next_after"] = members.cursor(order, page[-1]) if more else None
    return out
