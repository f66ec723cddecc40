"""The store opens, versions itself, migrates, and refuses what it must not touch."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest
from conftest import run_cli

from lmsys_tui.core.store import schema
from lmsys_tui.core.store.db import open_store
from lmsys_tui.core.store.models import Dataset
from lmsys_tui.errors import ExitCode, UsageError

GOLDEN_SCHEMA = Path(__file__).resolve().parent.parent / "golden" / "store_schema.sql"
EXPECTED_TABLES = {
    "schema_info", "datasets", "queries", "clustering_runs", "clusters", "query_clusters",
    "summary_runs", "cluster_summaries", "hierarchy_runs", "cluster_hierarchies",
    "cluster_edits", "cluster_metadata", "orphaned_queries", "llm_calls", "run_layouts",
}  # fmt: skip


def schema_dump(db: Path) -> str:
    """Every table, index, trigger and virtual table of a store as SQLite recorded it."""
    conn = sqlite3.connect(db)
    try:
        found = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()
    return "\n".join(
        f"-- {kind} {name} on {table}\n{sql or '(implicit)'};\n" for kind, name, table, sql in found
    )


def test_new_store_schema_is_the_golden_one(home: Path) -> None:
    """The DDL of a fresh store never changes by accident (however the tables get created);
    a deliberate change comes with a migration and a new golden file."""
    db = home / "queries.db"
    open_store(db).close()
    assert schema_dump(db) == GOLDEN_SCHEMA.read_text(encoding="utf-8")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_has_every_table_wal_and_version(home: Path) -> None:
    db = home / "queries.db"
    store = open_store(db)
    store.close()
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= EXPECTED_TABLES
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema.read_version(db) == schema.SCHEMA_VERSION
    indexes = {r[1] for r in conn.execute("PRAGMA index_list('query_clusters')")}
    assert "ix_query_clusters_run_cluster" in indexes
    cols = [r[2] for r in conn.execute("PRAGMA index_info('ix_query_clusters_run_cluster')")]
    assert cols == ["run_id", "cluster_id"]


def test_timestamps_come_back_timezone_aware(store) -> None:
    with store.session() as s:
        s.add(Dataset(label="x", source="file"))
        s.commit()
    with store.session() as s:
        from sqlmodel import select

        row = s.exec(select(Dataset)).one()
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == UTC.utcoffset(None)


def _write_foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE queries (id INTEGER PRIMARY KEY, query_text TEXT)")
    conn.execute("INSERT INTO queries (query_text) VALUES ('keep me')")
    conn.commit()
    conn.close()


def _bump_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["newer", "foreign", "not_sqlite"])
@pytest.mark.parametrize("command", [["status", "--json"], ["load", "--limit", "5", "--json"]])
def test_refused_store_is_left_untouched(kind: str, command: list[str], home, cli_env) -> None:
    db = home / "other.db"
    home.mkdir(parents=True, exist_ok=True)
    if kind == "newer":
        open_store(db).close()
        _bump_version(db, schema.SCHEMA_VERSION + 5)
    elif kind == "foreign":
        _write_foreign_db(db)
    else:
        db.write_bytes(b"this is a text file, not a database\n" * 50)
    before = _digest(db)
    res = run_cli(["--headless", *command, "--db-path", str(db)], cli_env)
    assert res.returncode == ExitCode.USAGE, res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    assert _digest(db) == before


def test_migration_runs_in_one_transaction_and_keeps_data(home, monkeypatch) -> None:
    db = home / "queries.db"
    store = open_store(db)
    with store.session() as s:
        s.add(Dataset(label="kept", source="file"))
        s.commit()
    store.close()

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE datasets ADD COLUMN notes TEXT DEFAULT 'migrated'")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", {schema.SCHEMA_VERSION - 1: add_column})
    assert schema.ensure_current(db) == schema.SCHEMA_VERSION - 1
    assert schema.read_version(db) == schema.SCHEMA_VERSION
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT label, notes FROM datasets").fetchall() == [("kept", "migrated")]
    assert (home / f"queries.db.bak-v{schema.SCHEMA_VERSION - 1}").exists()


def test_failed_migration_rolls_back(home, monkeypatch) -> None:
    db = home / "queries.db"
    open_store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    old = schema.SCHEMA_VERSION

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE datasets ADD COLUMN half TEXT")
        raise RuntimeError("boom")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", old + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", {old: half_then_fail})
    with pytest.raises(UsageError, match="rolled back"):
        schema.ensure_current(db)
    assert schema.read_version(db) == old
    cols = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info('datasets')")}
    assert "half" not in cols


def test_missing_migration_is_refused(home, monkeypatch) -> None:
    db = home / "queries.db"
    open_store(db).close()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", {})
    with pytest.raises(UsageError, match="no migration"):
        schema.ensure_current(db)
