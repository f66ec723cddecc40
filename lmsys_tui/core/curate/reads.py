"""The curation reads: a query with its clusters, the edit log, orphans, clusters to review.

Read-only connections (no SQLAlchemy import). Titles come from the run's current summary pass
(`read.runs.summary_pass`), never mixed across passes. Clusters with no summary are listed by
`select_bad_clusters` with a null title and the reason "no summary", not left out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lmsys_tui.core.read.detail import query_detail
from lmsys_tui.core.read.runs import get_run, summary_pass
from lmsys_tui.core.read.tree import pass_summaries
from lmsys_tui.core.store import sql
from lmsys_tui.errors import UsageError

_EDIT_COLUMNS = (
    "id AS edit_id, run_id, cluster_id, edit_type, editor, reason, timestamp, old_value,"
    " new_value, undone_by"
)


def view_query(db: Path, query_id: int) -> dict[str, Any]:
    """The query in full and its cluster in every run (title from each run's current pass)."""
    found = query_detail(db, query_id)
    with sql.reader(db) as conn:
        assigned = sql.rows(
            conn,
            "SELECT run_id, cluster_id, confidence_score, distance FROM query_clusters"
            " WHERE query_id = ? ORDER BY run_id",
            (query_id,),
        )
        for a in assigned:
            srid = (summary_pass(conn, a["run_id"]) or {}).get("summary_run_id")
            titled = pass_summaries(conn, srid, [int(a["cluster_id"])])
            a["title"] = (titled.get(int(a["cluster_id"])) or {}).get("title")
        orphaned = sql.rows(
            conn,
            "SELECT run_id, original_cluster_id, reason, orphaned_at FROM orphaned_queries"
            " WHERE query_id = ? ORDER BY run_id",
            (query_id,),
        )
    return {"query": found, "clusters": assigned, "orphaned_in": orphaned}


def _edits(conn: Any, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    out = sql.rows(
        conn, f"SELECT {_EDIT_COLUMNS} FROM cluster_edits WHERE {where} ORDER BY id", args
    )
    for r in out:
        r["old_value"] = sql.loads(r["old_value"], None)
        r["new_value"] = sql.loads(r["new_value"], None)
    return out


def history(db: Path, run_id: str, cluster_id: int | None = None) -> list[dict[str, Any]]:
    """The run's edits (of one cluster, if given: as its id, a merge source or split target)."""
    with sql.reader(db) as conn:
        get_run(conn, run_id, finished=False)
        if cluster_id is None:
            return _edits(conn, "run_id = ?", (run_id,))
        found = _edits(conn, "run_id = ?", (run_id,))
    return [e for e in found if e["cluster_id"] == cluster_id or _mentions(e, cluster_id)]


def _mentions(edit: dict[str, Any], cluster_id: int) -> bool:
    new = edit["new_value"] or {}
    return cluster_id in (new.get("sources") or []) or new.get("new_cluster_id") == cluster_id


def audit(db: Path, run_id: str, since: str | None = None) -> list[dict[str, Any]]:
    """Every edit of the run (undos included), oldest first; `since` a date or ISO time."""
    where, args = "run_id = ?", (run_id,)
    if since:
        try:
            when = datetime.fromisoformat(since.strip())
        except ValueError:
            raise UsageError(
                f"--since must be a date (YYYY-MM-DD) or ISO time, not {since!r}"
            ) from None
        where, args = where + " AND timestamp >= ?", (run_id, sql.db_timestamp(_utc(when)))
    with sql.reader(db) as conn:
        get_run(conn, run_id, finished=False)
        return _edits(conn, where, args)


def _utc(when: datetime) -> datetime:
    from datetime import UTC

    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def orphaned(db: Path, run_id: str) -> list[dict[str, Any]]:
    with sql.reader(db) as conn:
        get_run(conn, run_id, finished=False)
        return sql.rows(
            conn,
            "SELECT o.query_id, o.original_cluster_id, o.reason, o.orphaned_at,"
            " substr(q.query_text, 1, 200) AS query_text FROM orphaned_queries o"
            " JOIN queries q ON q.id = o.query_id WHERE o.run_id = ? ORDER BY o.query_id",
            (run_id,),
        )


def select_bad_clusters(
    db: Path,
    run_id: str,
    *,
    max_size: int | None = None,
    min_size: int | None = None,
    min_languages: int | None = None,
    quality: str | None = None,
    max_coherence: int | None = None,
) -> list[dict[str, Any]]:
    """Clusters matching every criterion given, each with the reasons it matched."""
    with sql.reader(db) as conn:
        get_run(conn, run_id, finished=False)
        srid = (summary_pass(conn, run_id) or {}).get("summary_run_id")
        found = sql.rows(
            conn,
            "SELECT c.cluster_id, c.size, m.quality, m.coherence_score, m.flags, m.notes,"
            " (SELECT COUNT(DISTINCT q.language) FROM query_clusters qc JOIN queries q"
            "  ON q.id = qc.query_id WHERE qc.run_id = c.run_id AND qc.cluster_id = c.cluster_id"
            "  AND q.language IS NOT NULL) AS languages"
            " FROM clusters c LEFT JOIN cluster_metadata m ON m.run_id = c.run_id"
            " AND m.cluster_id = c.cluster_id WHERE c.run_id = ? ORDER BY c.cluster_id",
            (run_id,),
        )
        summaries = pass_summaries(conn, srid, None, "cluster_id, title, coherence")
    out = []
    for r in found:
        s = summaries.get(int(r["cluster_id"])) or {}
        coherence = r["coherence_score"] if r["coherence_score"] is not None else s.get("coherence")
        size, langs = int(r["size"]), int(r["languages"])
        checks = [  # (criterion given, met, why)
            (max_size is not None, max_size is not None and size <= max_size, f"size {size}"),
            (min_size is not None, min_size is not None and size >= min_size, f"size {size}"),
            (
                min_languages is not None,
                min_languages is not None and langs >= min_languages,
                f"{langs} languages",
            ),
            (quality is not None, r["quality"] == (quality or "").lower(), f"quality {quality}"),
            (
                max_coherence is not None,
                max_coherence is not None and coherence is not None and coherence <= max_coherence,
                f"coherence {coherence}",
            ),
        ]
        if not all(met for given, met, _ in checks if given):
            continue
        reasons = [why for given, _, why in checks if given]
        if not s.get("title"):
            reasons.append("no summary")
        out.append({
            "cluster_id": int(r["cluster_id"]), "title": s.get("title"), "size": int(r["size"]),
            "languages": int(r["languages"]), "quality": r["quality"], "coherence": coherence,
            "flags": sql.loads(r["flags"], []), "notes": r["notes"], "reasons": reasons,
        })  # fmt: skip
    return out


def cluster_tags(conn: Any, run_id: str, cluster_id: int) -> dict[str, Any] | None:
    """A cluster's tags and flags and how many edits touched it (the TUI's detail panel);
    None when it has neither tags nor edits. Reads on the caller's connection."""
    meta = sql.one(
        conn,
        "SELECT coherence_score, quality, flags, notes FROM cluster_metadata"
        " WHERE run_id = ? AND cluster_id = ?",
        (run_id, cluster_id),
    )
    edits = int(
        sql.scalar(
            conn,
            "SELECT COUNT(*) FROM cluster_edits WHERE run_id = ? AND cluster_id = ?"
            " AND edit_type != 'undo' AND undone_by IS NULL",
            (run_id, cluster_id),
            0,
        )
    )
    if meta is None and not edits:
        return None
    meta = meta or {"coherence_score": None, "quality": None, "flags": None, "notes": None}
    return {**meta, "flags": sql.loads(meta["flags"], []), "edits": edits}
