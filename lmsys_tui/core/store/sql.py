"""The one way to talk to the SQLite store: connections, transactions, row helpers, ids.

Two kinds of connection, one module:
- readers: stdlib `sqlite3` opened read-only, so listing commands and the TUI's first paint do
  not pay for importing SQLAlchemy (~0.4 s here); a reader can be interrupted by a `cancelled`
  callable, which SQLite checks every ~100k VM steps;
- writers: the DBAPI connection of the store's engine (WAL, foreign keys and busy timeout set
  by `db.open_store`), one transaction per `with` block.

What only SQLite understands (URI read-only mode, the progress handler, `json_each` id lists)
stays here and in `schema.py`, so a second database later is a contained change.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import schema
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

CancelCheck = Callable[[], bool]
Args = tuple[Any, ...] | list[Any]

# A `json_each` membership test: `f"cluster_id {IN_IDS}"` with `id_list(ids)` as its argument.
# One bound parameter for any number of ids (SQLite caps bound parameters at 32,766).
IN_IDS = "IN (SELECT value FROM json_each(?))"


def id_list(ids: Iterable[int]) -> str:
    """The argument for `IN_IDS`."""
    return json.dumps([int(i) for i in ids])


# -- connections --------------------------------------------------------------------------------


@contextmanager
def maybe_reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when no store exists at `path` yet (listings print an
    empty result rather than an error on a new home)."""
    if schema.ensure_current(path) is None:
        yield None
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def reader(path: Path, cancelled: CancelCheck | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection (NotFoundError without a store) that SQLite itself interrupts
    once `cancelled()` turns true, so a stale reader thread stops at once."""
    with maybe_reader(path) as conn:
        if conn is None:
            raise NotFoundError(f"no lmsys-tui store at {path}")
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


@contextmanager
def connection(store: Store) -> Iterator[Any]:
    """The engine's DBAPI connection, for reads in a writing stage (no transaction kept)."""
    raw = store.engine.raw_connection()
    try:
        yield raw
    finally:
        raw.close()


@contextmanager
def transaction(store: Store) -> Iterator[Any]:
    """One transaction on the engine's DBAPI connection: committed when the block ends,
    rolled back when it raises (a kill leaves the previous state, never half of this one)."""
    raw = store.engine.raw_connection()
    try:
        yield raw
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


# -- rows ---------------------------------------------------------------------------------------


def rows(conn: Any, sql: str, args: Args = ()) -> list[dict[str, Any]]:
    """Every row as a dict (works on readers and on DBAPI connections alike)."""
    if conn is None:
        return []
    cur = conn.cursor()
    try:
        cur.execute(sql, tuple(args))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        cur.close()


def one(conn: Any, sql: str, args: Args = ()) -> dict[str, Any] | None:
    """The first row as a dict, or None."""
    found = rows(conn, sql + ("" if " LIMIT " in sql.upper() else " LIMIT 1"), args)
    return found[0] if found else None


def tuples(conn: Any, sql: str, args: Args = ()) -> list[tuple[Any, ...]]:
    """Every row as a plain tuple (for tight loops where dicts cost)."""
    cur = conn.cursor()
    try:
        return [tuple(r) for r in cur.execute(sql, tuple(args)).fetchall()]
    finally:
        cur.close()


def scalar(conn: Any, sql: str, args: Args = (), default: Any = None) -> Any:
    """The first column of the first row, or `default`."""
    cur = conn.cursor()
    try:
        row = cur.execute(sql, tuple(args)).fetchone()
    finally:
        cur.close()
    return default if row is None or row[0] is None else row[0]


def loads(value: Any, default: Any) -> Any:
    """A JSON column's value; `default` when it is NULL or not JSON."""
    if value is None:
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


# -- ids and values -----------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str, now: datetime | None = None) -> str:
    """`<prefix>-20261127-031500-a3f2`: readable, sortable by time, random in its last part so
    two processes starting in the same second never collide."""
    now = now or utcnow()
    return f"{prefix}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def require_positive(**values: int | float | None) -> None:
    """UsageError naming the first option (as its flag) whose value is zero or negative."""
    for name, value in values.items():
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number")
