"""Indexes built after a large load instead of row by row: the backlog marker, begun and finished.

Inserting a million rows into `queries` with its five secondary b-tree indexes and the FTS5
keyword index kept up row by row is SQLite's own floor for a load (~45k rows/s here); the same
rows without them go in at ~175k rows/s, and building the indexes once afterwards (a sort
each) and the keyword index in bulk costs less than keeping them up. So a large load `begin`s a
backlog: one transaction drops the secondary indexes and writes a marker row with the first
query id not yet keyword-indexed. The triggers (schema v8) skip every row at or above it, so
the keyword index always holds exactly the rows below it, whatever else writes meanwhile.
Each batch `catch_up`s in its own transaction (one bulk FTS insert, the marker moved past the
batch), so keyword search sees every committed row; `finish` builds the b-tree indexes and
deletes the marker, in one transaction.

A load killed in between leaves the marker and no secondary indexes: nothing is lost or wrong,
filters are only slower. The next load carries the backlog on and finishes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lmsys_tui.core.store.schema import BACKLOG_TABLE, FTS_TABLE, QUERY_INDEXES
from lmsys_tui.core.store.sql import db_timestamp, utcnow

# FTS5 merges its index segments when this many share a level. A backlog's per-batch bulk
# inserts make a segment each: merging at 16 instead of FTS5's default 4 halves the merging
# work of a 1M-row load (catch-up 6.3 s -> 4.4 s measured); the default comes back at finish.
LOAD_AUTOMERGE = 16
FTS5_AUTOMERGE = 4


def begin(conn: Any) -> int:
    """Defer the indexes of the rows inserted from now on, in ONE transaction on `conn` (a DBAPI
    connection with none open); the marker's from_id.

    An existing marker is kept as it is: its from_id is lower, and a new one above it would
    leave the rows between them in neither the keyword index nor the backlog.
    """
    with _transaction(conn) as cur:
        for name in QUERY_INDEXES:
            cur.execute(f"DROP INDEX IF EXISTS {name}")
        cur.execute(
            f"INSERT INTO {BACKLOG_TABLE} (from_id, created_at)"
            " SELECT (SELECT IFNULL(MAX(id), 0) + 1 FROM queries), ?"
            f" WHERE NOT EXISTS (SELECT 1 FROM {BACKLOG_TABLE})",
            (db_timestamp(utcnow()),),
        )
        start = from_id(cur)
        _automerge(cur, LOAD_AUTOMERGE)
    assert start is not None
    return start


def from_id(conn: Any) -> int | None:
    """The first query id the keyword index does not hold yet; None without a backlog."""
    try:
        row = conn.execute(f"SELECT MIN(from_id) FROM {BACKLOG_TABLE}").fetchone()
    except Exception as exc:  # a store not yet migrated to v8 has no backlog table
        if "no such table" in str(exc):
            return None
        raise
    return None if row is None or row[0] is None else int(row[0])


def catch_up(cur: Any) -> int:
    """Keyword-index every row at or above the marker and move it past them, inside the
    caller's transaction (a load's batch): one bulk FTS insert per batch instead of one
    trigger call per row, and SQLite does it while the source is read ahead. Rows indexed."""
    start = from_id(cur)
    if start is None:
        return 0
    cur.execute(
        f"INSERT INTO {FTS_TABLE}(rowid, query_text) SELECT id, query_text FROM queries"
        " WHERE id >= ? ORDER BY id",
        (start,),
    )
    indexed = max(cur.rowcount, 0)
    cur.execute(
        f"UPDATE {BACKLOG_TABLE} SET from_id = (SELECT IFNULL(MAX(id), 0) + 1 FROM queries)"
        " WHERE from_id <= (SELECT IFNULL(MAX(id), 0) + 1 FROM queries)"
    )
    return indexed


def finish(conn: Any) -> int:
    """Build the deferred indexes, keyword-index the rows still owed and delete the marker, in
    ONE transaction on `conn` (a DBAPI connection with none open); rows keyword-indexed.

    Killed or failed part way, nothing of it stays and the marker still says what is owed.
    """
    indexed = 0
    with _transaction(conn) as cur:
        if from_id(cur) is not None:
            for sql in QUERY_INDEXES.values():
                cur.execute(sql)
            indexed = catch_up(cur)
            cur.execute(f"DELETE FROM {BACKLOG_TABLE}")
            _automerge(cur, FTS5_AUTOMERGE)
    return indexed


def _automerge(cur: Any, segments: int) -> None:
    cur.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', ?)", (segments,))


@contextmanager
def _transaction(conn: Any) -> Iterator[Any]:
    """A cursor in one write transaction taken at once (sqlite3 opens none for DDL by itself,
    and the marker must be read under the write lock): committed, or rolled back on any error."""
    cur = conn.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.close()
