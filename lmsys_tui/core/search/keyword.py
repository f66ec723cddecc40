"""Keyword search: SQLite FTS5 over the query texts, ranked by bm25, inside the filters.

User text is never handed to FTS5 as syntax: each word becomes a quoted string (so `C++`,
`AND`, `NEAR(` or a stray quote are just words), a "double-quoted part" stays one exact phrase,
and a trailing `*` asks for a prefix. All parts must match (AND), as in most search boxes.
The index (`queries_fts`) is kept in sync with `queries` by triggers (store schema v2).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from lmsys_tui.core.search.filters import Filters
from lmsys_tui.core.store.schema import FTS_TABLE
from lmsys_tui.errors import UsageError

_PHRASE = re.compile(r'"([^"]*)"')
_WORDISH = re.compile(r"\w", re.UNICODE)


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression for user text (phrases kept, everything else quoted)."""
    parts: list[str] = []
    rest = _PHRASE.sub(lambda m: parts.append(_quote(m.group(1))) or " ", text)
    for chunk in rest.replace('"', " ").split():
        prefix = chunk.endswith("*")
        word = chunk.rstrip("*")
        if _WORDISH.search(word):
            parts.append(_quote(word) + ("*" if prefix else ""))
    parts = [p for p in parts if p]
    if not parts:
        raise UsageError(f"nothing to search for in {text!r}: give at least one word")
    return " ".join(parts)


def has_words(text: str) -> bool:
    try:
        fts_query(text)
    except UsageError:
        return False
    return True


def _quote(words: str) -> str:
    words = " ".join(words.split())
    if not _WORDISH.search(words):
        return ""
    return '"' + words.replace('"', '""') + '"'


def _run(conn: sqlite3.Connection, sql: str, args: list[Any]) -> list[Any]:
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc) and FTS_TABLE in str(exc):
            raise UsageError(
                "this store has no keyword index; open it with this version to migrate it"
            ) from exc
        if "fts5" in str(exc):
            raise UsageError(f"keyword search cannot use this text: {exc}") from exc
        raise


def _from(filters: Filters, match: str) -> tuple[str, list[Any]]:
    """FROM ... WHERE for matches inside the filters, with its arguments in order.

    The matches are a MATERIALIZED CTE so the FTS index drives the join: left to itself the
    planner may walk a 100k-row run and test MATCH on every row (seconds, not milliseconds).
    """
    joins, join_args, where, args = filters.clause("q")
    joins = joins.replace(" JOIN ", " CROSS JOIN ")  # CROSS JOIN: SQLite keeps this order
    sql = (
        f"WITH m AS MATERIALIZED (SELECT rowid AS id, bm25({FTS_TABLE}) AS r FROM {FTS_TABLE}"
        f" WHERE {FTS_TABLE} MATCH ?) SELECT q.id AS id, m.r AS r FROM m"
        f" CROSS JOIN queries q ON q.id = m.id{joins}"
    )
    return sql + (f" WHERE {where}" if where else ""), [match, *join_args, *args]


def ranked(
    conn: sqlite3.Connection, text: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """The best `limit` matches inside the filters: (query id, bm25), best first."""
    match = fts_query(text)
    if not filters.any:
        sql, args = (
            f"SELECT rowid AS id, bm25({FTS_TABLE}) AS r FROM {FTS_TABLE}"
            f" WHERE {FTS_TABLE} MATCH ?",
            [match],
        )
    else:
        sql, args = _from(filters, match)
    rows = _run(conn, f"SELECT id, r FROM ({sql}) ORDER BY r, id LIMIT ?", [*args, limit])
    return [(int(i), float(r)) for i, r in rows]


def match_set_sql(text: str, filters: Filters) -> tuple[str, list[Any]]:
    """SQL selecting the ids of ALL matches inside the filters (for exact facet counts)."""
    match = fts_query(text)
    if not filters.any:
        return f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?", [match]
    return _from(filters, match)


def count(conn: sqlite3.Connection, text: str, filters: Filters) -> int:
    sql, args = match_set_sql(text, filters)
    return int(_run(conn, f"SELECT COUNT(*) FROM ({sql})", args)[0][0])
