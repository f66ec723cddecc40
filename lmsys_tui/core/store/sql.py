"""The one way to talk to the SQLite store: connections, transactions, row helpers, ids.

Which connection for what:
- readers (`reader`, `maybe_reader`, `open_reader`, `shared_reader`): stdlib `sqlite3` opened
  read-only, so
  listing commands, search and the TUI's first paint do not pay for importing SQLAlchemy
  (~0.4 s here); a reader can be interrupted by a `cancelled` callable, which SQLite checks
  every ~100k VM steps;
- inside a stage (`connection` for reads, `transaction` for writes): the DBAPI connection of
  the store's engine (WAL, foreign keys and busy timeout set by `db.open_store`), pooled, one
  transaction per `with` block; plain SQL, because the ORM costs ~2 ms a row (too much for
  bulk writes and for the per-answer writes of an LLM pass, which hold the event loop's GIL);
- `file_transaction`: a write transaction on a store file without the engine, for the few
  writes both doors make outside a stage (`delete`);
- SQLModel sessions (`Store.session()`): single-row writes of the run tables (`summary_runs`,
  `hierarchy_runs` and a hierarchy's nodes), where the models' JSON and UTC datetime types do
  the conversions and a few rows per level cost nothing. Reads never use the ORM.

What only SQLite understands (URI read-only mode, PRAGMAs, the progress handler, `json_each`
id lists) stays here and in `schema.py`, so a second database later is a contained change.
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
IntegrityError = sqlite3.IntegrityError  # what a write that breaks a unique key raises

# A `json_each` membership test: `f"cluster_id {IN_IDS}"` with `id_list(ids)` as its argument
# (`value_list(texts)` for text columns). One bound parameter for any number of values (SQLite
# caps bound parameters at 32,766).
IN_IDS = "IN (SELECT value FROM json_each(?))"
# The same list as a one-column table (`SELECT ... FROM ({ID_TABLE}) m JOIN ...`), for joins that
# must be driven by the list.
ID_TABLE = "SELECT value AS id FROM json_each(?)"


def id_list(ids: Iterable[int]) -> str:
    """The argument for `IN_IDS` or `ID_TABLE`."""
    return json.dumps([int(i) for i in ids])


def value_list(values: Iterable[str]) -> str:
    """The argument for `IN_IDS` when the values are texts (languages, models, run ids)."""
    return json.dumps([str(v) for v in values], ensure_ascii=False)


# -- connections --------------------------------------------------------------------------------


def open_reader(path: Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """A read-only connection to the SQLite file at `path`, rows as `sqlite3.Row`, for callers
    that keep it open (the searcher, the vector cache); `any_thread` lets a worker thread use
    the connection the UI thread opened. The caller closes it."""
    conn = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=not any_thread
    )
    conn.row_factory = sqlite3.Row
    return conn


def shared_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection that a long-lived object keeps and uses from worker threads in
    turn (the searcher); NotFoundError without a store. Rows are plain tuples: its loops read
    up to a million rows, and a `sqlite3.Row` each costs ~40% more. The caller closes it."""
    if schema.ensure_current(path) is None:
        raise NotFoundError(f"no lmsys-tui store at {path}")
    conn = open_reader(path, any_thread=True)
    conn.row_factory = None
    return conn


@contextmanager
def maybe_reader(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when no store exists at `path` yet (listings print an
    empty result rather than an error on a new home).

    Inside one read transaction: every statement of the block sees the same moment of the
    store (WAL), so a writer committing between two of them cannot tear what is read.
    """
    if schema.ensure_current(path) is None:
        yield None
        return
    conn = open_reader(path)
    try:
        conn.execute("BEGIN")  # a snapshot for the block; closing the connection ends it
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
    """The engine's DBAPI connection, for reads in a writing stage (no transaction kept).

    A store opened without an engine (search and `verify sync` skip SQLAlchemy's import) gets
    a read-only connection instead, so the functions both kinds of caller share read alike.
    """
    if store.engine is None:
        conn = open_reader(store.path)
        try:
            yield conn
        finally:
            conn.close()
        return
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


@contextmanager
def file_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the store file at `path`, without the engine (so a delete from
    either door does not import SQLAlchemy): taken at once (BEGIN IMMEDIATE, so what it reads
    cannot change before it writes), committed when the block ends, rolled back when it raises.
    NotFoundError when there is no store."""
    if schema.ensure_current(path) is None:
        raise NotFoundError(f"no lmsys-tui store at {path}")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection commits to the file (the cheap test
    a cache uses to know it is stale)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


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


def db_timestamp(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores, for rows written with plain SQL."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def new_id(
    prefix: str, now: datetime | None = None, *, numbered_in: tuple[Any, str, str] | None = None
) -> str:
    """An id that says what it is and when it started, `<prefix>-20261127-031500`, made unique:

    - by default by a random tail, `-a3f2`, with no lookup, so two processes starting in the
      same second never collide (clustering runs: `kmeans-200-20261127-031500-a3f2`);
    - with `numbered_in=(conn, table, column)`, by nothing, or `-2`, `-3`... when that column
      already holds the id (summary passes and hierarchies, ids people type back).
    """
    base = f"{prefix}-{(now or utcnow()):%Y%m%d-%H%M%S}"
    if numbered_in is None:
        return f"{base}-{secrets.token_hex(2)}"
    conn, table, column = numbered_in
    taken = {
        r[0]
        for r in tuples(conn, f"SELECT {column} FROM {table} WHERE {column} LIKE ?", (base + "%",))
    }
    n = 1
    while (f"{base}-{n}" if n > 1 else base) in taken:
        n += 1
    return f"{base}-{n}" if n > 1 else base


def require_positive(**values: int | float | None) -> None:
    """UsageError naming the first option (as its flag) whose value is zero or negative."""
    for name, value in values.items():
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number")
