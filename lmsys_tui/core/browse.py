"""Read paths for browsing a clustering run: its clusters, one cluster, pages of queries.

Stdlib `sqlite3` over a read-only connection (no SQLAlchemy import), so the listing commands
and the TUI stay quick. Every listing has an ORDER BY; query pages are keyset-paginated on the
query id (`after_id`), never OFFSET, so a page costs the same at row 10 and at row 1M. Titles
come from ONE summary pass (an explicit one, an alias, or the newest finished pass), never a
mix of passes; without summaries a cluster's title is its top keywords.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from lmsys_tui.core.store.reader import connect
from lmsys_tui.errors import NotFoundError, UsageError

KEYWORDS_IN_TITLE = 5
MAX_PAGE = 10_000


def _one(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    row = conn.execute(sql, args).fetchone()
    return dict(row) if row is not None else None


def _loads(value: Any, default: Any) -> Any:
    if value is None:
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


def _need(conn: sqlite3.Connection | None, path: Path) -> sqlite3.Connection:
    if conn is None:
        raise NotFoundError(f"no lmsys-tui store at {path}")
    return conn


def get_run(conn: sqlite3.Connection, run_id: str, *, finished: bool = True) -> dict[str, Any]:
    """The run row; NotFoundError when unknown or (with `finished`) when it has no results."""
    run = _one(
        conn,
        "SELECT run_id, algorithm, num_clusters, dataset_id, embedding_provider, embedding_model,"
        " embedding_dim, parameters, metrics, description, status, error, created_at,"
        " finished_at FROM clustering_runs WHERE run_id = ?",
        (run_id,),
    )
    if run is None:
        raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")
    if finished and run["status"] != "done":
        why = f": {run['error']}" if run["error"] and run["error"] != run["status"] else ""
        raise NotFoundError(f"run {run_id!r} is {run['status']}{why}; it has no results to show")
    run["parameters"] = _loads(run["parameters"], {})
    run["metrics"] = _loads(run["metrics"], {})
    return run


def summary_pass(
    conn: sqlite3.Connection,
    run_id: str,
    summary_run_id: str | None = None,
    alias: str | None = None,
) -> dict[str, Any] | None:
    """The summary pass whose titles to show: explicit id, newest with `alias`, or newest done."""
    base = (
        "SELECT summary_run_id, alias, model, status, created_at FROM summary_runs s"
        " WHERE s.run_id = ?"
    )
    if summary_run_id is not None:
        found = _one(conn, base + " AND s.summary_run_id = ?", (run_id, summary_run_id))
        if found is None:
            raise NotFoundError(f"run {run_id!r} has no summary pass {summary_run_id!r}")
        return found
    if alias is not None:
        found = _one(
            conn,
            base + " AND s.alias = ? ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1",
            (run_id, alias),
        )
        if found is None:
            raise NotFoundError(f"run {run_id!r} has no summary pass with alias {alias!r}")
        return found
    return _one(
        conn,
        base + " AND EXISTS (SELECT 1 FROM cluster_summaries c"
        " WHERE c.summary_run_id = s.summary_run_id)"
        " ORDER BY (s.status = 'done') DESC, s.created_at DESC, s.rowid DESC LIMIT 1",
        (run_id,),
    )


def _title(cluster_id: int, summary: dict[str, Any] | None, keywords: list[str]) -> str:
    if summary and summary.get("title"):
        return str(summary["title"])
    if cluster_id == -1:
        return "noise (not in any cluster)"
    return ", ".join(keywords[:KEYWORDS_IN_TITLE]) or f"cluster {cluster_id}"


def _summaries(
    conn: sqlite3.Connection, pass_: dict[str, Any] | None, cluster_ids: list[int]
) -> dict[int, dict[str, Any]]:
    if pass_ is None or not cluster_ids:
        return {}
    rows = conn.execute(
        "SELECT c.cluster_id, c.title, c.description, c.summary FROM cluster_summaries c"
        " JOIN json_each(?) j ON c.cluster_id = j.value WHERE c.summary_run_id = ?",
        (json.dumps(cluster_ids), pass_["summary_run_id"]),
    )
    return {int(r["cluster_id"]): dict(r) for r in rows}


def _examples(
    conn: sqlite3.Connection, run_id: str, cluster_ids: list[int], per_cluster: int, width: int
) -> dict[int, list[dict[str, Any]]]:
    """The `per_cluster` most central queries of each cluster, in one statement."""
    out: dict[int, list[dict[str, Any]]] = {c: [] for c in cluster_ids}
    if per_cluster <= 0 or not cluster_ids:
        return out
    rows = conn.execute(
        "SELECT t.cluster_id, t.query_id, t.distance, substr(q.query_text, 1, ?) AS text"
        " FROM (SELECT qc.cluster_id, qc.query_id, qc.distance, ROW_NUMBER() OVER ("
        "   PARTITION BY qc.cluster_id ORDER BY qc.distance IS NULL, qc.distance,"
        "   qc.confidence_score DESC, qc.query_id) AS rn"
        "  FROM query_clusters qc JOIN json_each(?) j ON qc.cluster_id = j.value"
        "  WHERE qc.run_id = ?) t"
        " JOIN queries q ON q.id = t.query_id WHERE t.rn <= ? ORDER BY t.cluster_id, t.rn",
        (width, json.dumps(cluster_ids), run_id, per_cluster),
    )
    for r in rows:
        out[int(r["cluster_id"])].append(
            {"query_id": r["query_id"], "distance": r["distance"], "text": r["text"]}
        )
    return out


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
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    if show_examples < 0 or example_width <= 0:
        raise UsageError("--show-examples must be >= 0 and --example-width positive")
    with connect(path) as maybe:
        conn = _need(maybe, path)
        run = get_run(conn, run_id)
        pass_ = summary_pass(conn, run_id, summary_run_id, alias)
        total = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM clusters WHERE run_id = ?", (run_id,)
        ).fetchone()
        sql = (
            "SELECT cluster_id, size, keywords, metrics FROM clusters WHERE run_id = ?"
            " ORDER BY cluster_id = -1, size DESC, cluster_id"
        )
        args: tuple[Any, ...] = (run_id,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (run_id, limit)
        rows = [dict(r) for r in conn.execute(sql, args)]
        ids = [int(r["cluster_id"]) for r in rows]
        summaries = _summaries(conn, pass_, ids)
        examples = _examples(conn, run_id, ids, show_examples, example_width)
    n_queries = int(total[1])
    clusters = []
    for r in rows:
        cid = int(r["cluster_id"])
        keywords = _loads(r["keywords"], [])
        summary = summaries.get(cid)
        entry: dict[str, Any] = {
            "cluster_id": cid,
            "num_queries": int(r["size"]),
            "share": round(int(r["size"]) / n_queries, 6) if n_queries else 0.0,
            "noise": cid == -1,
            "title": _title(cid, summary, keywords),
            "title_source": "summary" if summary and summary.get("title") else "keywords",
            "description": summary.get("description") if summary else None,
            "keywords": keywords,
        }
        if show_examples:
            entry["examples"] = examples.get(cid, [])
        clusters.append(entry)
    return {
        "run_id": run_id,
        "algorithm": run["algorithm"],
        "summary_run_id": pass_["summary_run_id"] if pass_ else None,
        "alias": pass_["alias"] if pass_ else None,
        "total_clusters": int(total[0]),
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
    with connect(path) as maybe:
        conn = _need(maybe, path)
        get_run(conn, run_id)
        row = _one(
            conn,
            "SELECT cluster_id, size, keywords, metrics FROM clusters"
            " WHERE run_id = ? AND cluster_id = ?",
            (run_id, cluster_id),
        )
        if row is None:
            raise NotFoundError(f"run {run_id!r} has no cluster {cluster_id}")
        total = conn.execute(
            "SELECT COALESCE(SUM(size), 0) FROM clusters WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        pass_ = summary_pass(conn, run_id, summary_run_id, alias)
        summary = _summaries(conn, pass_, [cluster_id]).get(cluster_id)
        queries = [
            dict(r)
            for r in conn.execute(
                "SELECT qc.query_id, q.conversation_id, q.model, q.language, qc.distance,"
                " qc.confidence_score AS confidence, q.query_text FROM query_clusters qc"
                " JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = ? AND qc.cluster_id = ?"
                " ORDER BY qc.distance IS NULL, qc.distance, qc.confidence_score DESC,"
                " qc.query_id LIMIT ?",
                (run_id, cluster_id, show_queries),
            )
        ]
    keywords = _loads(row["keywords"], [])
    size = int(row["size"])
    return {
        "run_id": run_id,
        "cluster_id": cluster_id,
        "num_queries": size,
        "share": round(size / total, 6) if total else 0.0,
        "noise": cluster_id == -1,
        "title": _title(cluster_id, summary, keywords),
        "title_source": "summary" if summary and summary.get("title") else "keywords",
        "description": summary.get("description") if summary else None,
        "summary_run_id": pass_["summary_run_id"] if pass_ else None,
        "keywords": keywords,
        "metrics": _loads(row["metrics"], {}),
        "queries": queries,
        "more": max(0, size - len(queries)),
    }


def list_queries(
    path: Path,
    *,
    run_id: str | None = None,
    cluster_id: int | None = None,
    model: str | None = None,
    language: str | None = None,
    dataset: str | None = None,
    limit: int = 50,
    after_id: int | None = None,
) -> dict[str, Any]:
    """A page of queries ordered by id; `next_after_id` fetches the next page (None at the end)."""
    if not 0 < limit <= MAX_PAGE:
        raise UsageError(f"--limit must be between 1 and {MAX_PAGE}")
    if cluster_id is not None and run_id is None:
        raise UsageError("--cluster-id needs --run-id (cluster ids belong to a run)")
    cols = "q.id AS query_id, q.conversation_id, d.label AS dataset, q.model, q.language"
    joins = " JOIN datasets d ON d.id = q.dataset_id"
    where = ["q.id > ?"]
    args: list[Any] = [after_id if after_id is not None else -1]
    with connect(path) as maybe:
        conn = _need(maybe, path)
        if run_id is not None:
            get_run(conn, run_id)
            cols += ", qc.cluster_id, qc.distance, qc.confidence_score AS confidence"
            joins += " JOIN query_clusters qc ON qc.query_id = q.id AND qc.run_id = ?"
            args.insert(0, run_id)
            if cluster_id is not None:
                exists = conn.execute(
                    "SELECT 1 FROM clusters WHERE run_id = ? AND cluster_id = ?",
                    (run_id, cluster_id),
                ).fetchone()
                if exists is None:
                    raise NotFoundError(f"run {run_id!r} has no cluster {cluster_id}")
                where.append("qc.cluster_id = ?")
                args.append(cluster_id)
        if dataset is not None:
            found = conn.execute("SELECT id FROM datasets WHERE label = ?", (dataset,)).fetchone()
            if found is None:
                raise NotFoundError(f"no dataset labelled {dataset!r} in the store")
            where.append("q.dataset_id = ?")
            args.append(int(found[0]))
        if model is not None:
            where.append("q.model = ?")
            args.append(model)
        if language is not None:
            where.append("q.language = ?")
            args.append(language)
        sql = (
            f"SELECT {cols}, q.query_text FROM queries q{joins} WHERE {' AND '.join(where)}"
            " ORDER BY q.id LIMIT ?"
        )
        rows = [dict(r) for r in conn.execute(sql, (*args, limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "filters": {
            "run_id": run_id,
            "cluster_id": cluster_id,
            "model": model,
            "language": language,
            "dataset": dataset,
            "after_id": after_id,
        },
        "queries": rows,
        "count": len(rows),
        "next_after_id": rows[-1]["query_id"] if more else None,
    }
