"""The keyword index (SQLite FTS5): user text as a MATCH expression, the match subquery, errors.

User text is never handed to FTS5 as syntax: each word becomes a quoted string (so `C++`,
`AND`, `NEAR(` or a stray quote are just words), a "double-quoted part" stays one exact phrase,
and a trailing `*` asks for a prefix. All parts must match (AND), as in most search boxes.
The index (`queries_fts`, schema v2) is kept in sync with `queries` by triggers. Everything
FTS5-specific lives here, so another database's full-text search replaces this module only.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from lmsys_tui.core.store.schema import FTS_TABLE
from lmsys_tui.errors import UsageError

# (id, r) of every query matching the one bound MATCH expression; r is bm25 (lower is better)
MATCHES = f"SELECT rowid AS id, bm25({FTS_TABLE}) AS r FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?"
# the same, ids only
MATCH_IDS = f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?"

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


def _quote(words: str) -> str:
    words = " ".join(words.split())
    if not _WORDISH.search(words):
        return ""
    return '"' + words.replace('"', '""') + '"'


def run(conn: sqlite3.Connection, sql: str, args: list[Any]) -> list[Any]:
    """Rows of a statement that uses the index; its failures as one-line usage errors."""
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
