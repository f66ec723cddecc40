"""Schema version of the store, checked before anything else touches a DB file.

Uses the stdlib `sqlite3` only, so fast read paths (`runs`, `datasets`, TUI start) can check a
store without paying SQLAlchemy's ~0.4 s import. A DB of another tool, a newer version or not a
SQLite file is refused with a one-line `UsageError` (exit 2) and left byte-for-byte untouched;
an older version is migrated inside one transaction after a backup copy is written.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from lmsys_tui.errors import UsageError

SCHEMA_VERSION = 8
VERSION_KEY = "schema_version"

# Search (v2). Keyword search: an external-content FTS5 index over queries.query_text (it
# stores only the index, the text stays in `queries`). Triggers keep it in sync with every write
# path, the load stage's raw INSERT ... ON CONFLICT included (its DO UPDATE fires the update
# trigger). Filters: language and model alone, so a narrow filter never scans every text.
#
# Index backlog (v8). A large load keyword-indexes each batch in bulk and builds the secondary
# indexes of `queries` once after its rows, instead of row by row (store/index_backlog.py).
# While a row of `index_backlog` exists, the keyword index holds exactly the queries with id
# below its `from_id`: the triggers skip every row at or above it, and each catch-up indexes
# those rows in one statement and moves the marker past them, in the same transaction.
FTS_TABLE = "queries_fts"
BACKLOG_TABLE = "index_backlog"
_INDEXED = (
    f"(SELECT IFNULL(MIN(from_id), 9223372036854775807) FROM {BACKLOG_TABLE})"  # no marker: all
)
BACKLOG_DDL = (
    f"CREATE TABLE IF NOT EXISTS {BACKLOG_TABLE} (id INTEGER NOT NULL, from_id INTEGER NOT NULL,"
    " created_at DATETIME NOT NULL, PRIMARY KEY (id))"
)
TRIGGERS_DDL = (
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON queries"
    f" WHEN new.id < {_INDEXED} BEGIN"
    f" INSERT INTO {FTS_TABLE}(rowid, query_text) VALUES (new.id, new.query_text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON queries"
    f" WHEN old.id < {_INDEXED} BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, query_text)"
    " VALUES ('delete', old.id, old.query_text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF query_text ON queries"
    f" WHEN old.id < {_INDEXED} BEGIN"
    f" INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, query_text)"
    " VALUES ('delete', old.id, old.query_text);"
    f" INSERT INTO {FTS_TABLE}(rowid, query_text) VALUES (new.id, new.query_text); END",
)
SEARCH_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_queries_language ON queries (language)",
    "CREATE INDEX IF NOT EXISTS ix_queries_model ON queries (model)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(query_text,"
    " content='queries', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    BACKLOG_DDL,
    *TRIGGERS_DDL,
)
# The secondary indexes of `queries` a large load drops and builds again after its rows (the
# unique (dataset_id, conversation_id) index stays: the load's ON CONFLICT needs it). Their text
# is exactly what the models and SEARCH_DDL create (tests/unit/test_index_backlog.py checks).
QUERY_INDEXES = {
    "ix_queries_text_hash": "CREATE INDEX IF NOT EXISTS ix_queries_text_hash"
    " ON queries (text_hash)",
    "ix_queries_dataset_model": "CREATE INDEX IF NOT EXISTS ix_queries_dataset_model"
    " ON queries (dataset_id, model)",
    "ix_queries_dataset_language": "CREATE INDEX IF NOT EXISTS ix_queries_dataset_language"
    " ON queries (dataset_id, language)",
    "ix_queries_language": SEARCH_DDL[0],
    "ix_queries_model": SEARCH_DDL[1],
}


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Add the search indexes and fill the keyword index from the rows already stored."""
    for sql in SEARCH_DDL:
        conn.execute(sql)
    conn.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Browse (v3): members of a cluster in distance order from one covering index."""
    conn.execute(
        "CREATE INDEX IF NOT EXISTS ix_query_clusters_run_cluster_distance"
        " ON query_clusters (run_id, cluster_id, distance, query_id)"
    )


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """Cluster map (v4): a run's stored 2-D layout (models.RunLayout), computed on first use."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS run_layouts (id INTEGER NOT NULL, run_id VARCHAR NOT NULL,"
        " method VARCHAR NOT NULL, members INTEGER NOT NULL, points INTEGER NOT NULL,"
        " query_ids BLOB NOT NULL, coords BLOB NOT NULL, parameters JSON NOT NULL,"
        " created_at DATETIME NOT NULL, PRIMARY KEY (id),"
        " CONSTRAINT uq_run_layouts_run_method UNIQUE (run_id, method),"
        " FOREIGN KEY(run_id) REFERENCES clustering_runs (run_id))"
    )


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    """Curation (v5): each audit row keeps the rows it changed (for undo) and who undid it."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(cluster_edits)")}
    for column, kind in (("snapshot", "JSON"), ("undone_by", "INTEGER")):
        if column not in have:  # (a store made by this version and marked older has them)
            conn.execute(f"ALTER TABLE cluster_edits ADD COLUMN {column} {kind}")


def _v5_to_v6(conn: sqlite3.Connection) -> None:
    """Labels (v6): a known class per query (load --label-column), for `evaluate`."""
    cols = {r[1] for r in conn.execute("PRAGMA table_info(queries)")}
    if "label" not in cols:
        conn.execute("ALTER TABLE queries ADD COLUMN label VARCHAR")


def _v6_to_v7(conn: sqlite3.Connection) -> None:
    """Reliability (v7): edits mark the Chroma update they still owe (models.ChromaPending)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS chroma_pending (id INTEGER NOT NULL, run_id VARCHAR NOT NULL,"
        " clusters JSON NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (id))"
    )


def _v7_to_v8(conn: sqlite3.Connection) -> None:
    """Index backlog (v8): the marker table, and triggers that skip the rows it covers."""
    conn.execute(BACKLOG_DDL)
    for suffix in ("ai", "ad", "au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
    for sql in TRIGGERS_DDL:
        conn.execute(sql)


# from_version -> function that upgrades a connection to from_version + 1 (inside a transaction)
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
}


def read_version(path: Path) -> int | None:
    """Schema version of the store at `path`; None when there is no store there yet."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"{path}: cannot open as a SQLite database ({exc})") from exc
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "schema_info" not in tables:
            raise UsageError(
                f"{path} is a SQLite database of another tool (no schema_info table); "
                "point --db-path or LMSYS_TUI_HOME at a new location"
            )
        row = conn.execute("SELECT value FROM schema_info WHERE key = ?", (VERSION_KEY,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: {damaged_message(exc)}") from exc
    finally:
        conn.close()
    if row is None or not str(row[0]).isdigit():
        raise UsageError(f"{path}: schema_info has no valid {VERSION_KEY}; refusing to open it")
    return int(row[0])


def damaged_message(exc: BaseException) -> str:
    """What every command says about a file SQLite cannot read: not SQLite at all, truncated
    or damaged (found on opening, or only later by a read that reaches the bad pages)."""
    reason = getattr(exc, "orig", None) or exc
    return f"not an lmsys-tui store, or a damaged one (SQLite: {reason})"


def ensure_current(path: Path) -> int | None:
    """Check `path` and migrate it to SCHEMA_VERSION if it is older. Returns the found version."""
    found = read_version(path)
    if found is None or found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise UsageError(
            f"{path} has store schema v{found}, newer than this lmsys-tui (v{SCHEMA_VERSION}); "
            "upgrade lmsys-tui to open it"
        )
    missing = [v for v in range(found, SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise UsageError(
            f"{path} has store schema v{found} and no migration from v{missing[0]} exists; "
            "load the data again into a new store"
        )
    migrate(path, found)
    return found


def migrate(path: Path, found: int) -> None:
    """Run every migration from `found` in ONE transaction; on any error nothing changes.

    The write lock comes first and the version is read again under it: of two commands that
    start on an old store at once, the second waits and then finds nothing left to do.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT value FROM schema_info WHERE key = ?", (VERSION_KEY,)).fetchone()
        if row is not None and str(row[0]) == str(SCHEMA_VERSION):
            conn.execute("ROLLBACK")
            return
        shutil.copy2(path, path.with_name(f"{path.name}.bak-v{found}"))
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.execute(
            "UPDATE schema_info SET value = ? WHERE key = ?", (str(SCHEMA_VERSION), VERSION_KEY)
        )
        conn.execute("COMMIT")
    except Exception as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise UsageError(
            f"{path}: migration from schema v{found} failed and was rolled back ({exc})"
        ) from exc
    finally:
        conn.close()
