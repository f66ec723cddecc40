"""Opening the store through SQLModel: WAL, foreign keys, schema version checked first.

WAL lets the TUI read while a headless command (or a TUI worker) writes the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmsys_tui.core.store import schema
from lmsys_tui.errors import UsageError


@dataclass
class Store:
    path: Path
    engine: Any  # None for a store only read (see `read_only`)

    @classmethod
    def read_only(cls, path: Path) -> Store:
        """The store at `path` for reading only, without an engine (and so without importing
        SQLAlchemy): `sql.connection` gives read-only connections to it."""
        return cls(path=path, engine=None)

    @contextmanager
    def session(self) -> Iterator[Any]:
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_store(path: Path, *, create: bool = True) -> Store:
    """Open (and create or migrate) the store at `path`."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError
    from sqlmodel import SQLModel, create_engine

    from lmsys_tui.core.store import models  # noqa: F401  (registers the tables)

    found = schema.ensure_current(path)
    if found is None and not create:
        raise UsageError(f"no lmsys-tui store at {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the store folder {path.parent}: {exc}") from exc
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    event.listen(engine, "connect", _on_connect)
    if found is None:
        try:
            _create(engine, SQLModel.metadata)
        except OperationalError as exc:
            if "unable to open" not in str(exc.orig):
                raise
            engine.dispose()
            raise UsageError(f"cannot create a store at {path}: {exc.orig}") from None
    return Store(path=path, engine=engine)


def _create(engine: Any, metadata: Any) -> None:
    """Tables, search indexes and the version in ONE write transaction taken up front.

    Two commands started at once on a new home both find no store: BEGIN IMMEDIATE makes the
    second wait for the first's commit, after which `create_all` finds every table there and
    the version row exists, so it changes nothing. Readers (WAL) see either no tables (no
    store yet) or all of them with the version, never a store half made.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        metadata.create_all(conn)
        for sql in schema.SEARCH_DDL:
            conn.exec_driver_sql(sql)
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO schema_info (key, value) VALUES (?, ?)",
            (schema.VERSION_KEY, str(schema.SCHEMA_VERSION)),
        )
        conn.commit()
