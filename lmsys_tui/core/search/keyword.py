"""Keyword search: the store's full-text index (`store/fts.py`), ranked, inside the filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.search.filters import Filters
from lmsys_tui.core.store import fts
from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    import sqlite3


def has_words(text: str) -> bool:
    try:
        fts.fts_query(text)
    except UsageError:
        return False
    return True


def _from(filters: Filters, match: str) -> tuple[str, list[Any]]:
    """FROM ... WHERE for matches inside the filters, with its arguments in order.

    The matches are a MATERIALIZED CTE so the index drives the join: left to itself the
    planner may walk a 100k-row run and test MATCH on every row (seconds, not milliseconds).
    """
    joins, join_args, where, args = filters.clause("q")
    joins = joins.replace(" JOIN ", " CROSS JOIN ")  # CROSS JOIN: SQLite keeps this order
    sql = (
        f"WITH m AS MATERIALIZED ({fts.MATCHES}) SELECT q.id AS id, m.r AS r FROM m"
        f" CROSS JOIN queries q ON q.id = m.id{joins}"
    )
    return sql + (f" WHERE {where}" if where else ""), [match, *join_args, *args]


def ranked(
    conn: sqlite3.Connection, text: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """The best `limit` matches inside the filters: (query id, bm25), best first."""
    match = fts.fts_query(text)
    sql, args = _from(filters, match) if filters.any else (fts.MATCHES, [match])
    rows = fts.run(conn, f"SELECT id, r FROM ({sql}) ORDER BY r, id LIMIT ?", [*args, limit])
    return [(int(i), float(r)) for i, r in rows]


def match_set_sql(text: str, filters: Filters) -> tuple[str, list[Any]]:
    """SQL selecting the ids of ALL matches inside the filters (for exact facet counts)."""
    match = fts.fts_query(text)
    if not filters.any:
        return fts.MATCH_IDS, [match]
    return _from(filters, match)


def count(conn: sqlite3.Connection, text: str, filters: Filters) -> int:
    sql, args = match_set_sql(text, filters)
    return int(fts.run(conn, f"SELECT COUNT(*) FROM ({sql})", args)[0][0])
