"""`load --build-indexes after` SIGKILLed while its batches commit, or as its last rows are in
(before, during or after the index build): the store stays sound, every committed row is
keyword-searchable at once, and running the load again gives the uninterrupted load's store
with every index built.

Real processes on the packaged ShareGPT data (languages detected), as a user runs them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import db_rows, run_cli

from lmsys_tui.core.store import index_backlog, schema

N, BATCH = 3000, 200
ARGS = ["--headless", "load", "--limit", str(N), "--db-batch-size", str(BATCH), "--json"]
STORED = "SELECT conversation_id, query_text, text_hash, language, model FROM queries ORDER BY id"


def _count(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:  # no store (or no table) yet, or busy for a moment
        return 0


def _kill_when(env: dict[str, str], db: Path, rows: int) -> None:
    """Start the load and SIGKILL it once `rows` rows are committed (it may finish first)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", *ARGS, "--build-indexes", "after"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while proc.poll() is None and _count(db) < rows:
        time.sleep(0.005)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def _sound(db: Path) -> set[int]:
    """Integrity of the file and of the keyword index; the ids the keyword index holds."""
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    conn = sqlite3.connect(db)
    try:
        fts = schema.FTS_TABLE
        conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
        return {r[0] for r in conn.execute(f"SELECT rowid FROM {fts}_docsize")}
    finally:
        conn.close()


def _state(db: Path) -> tuple[int | None, set[str]]:
    conn = sqlite3.connect(db)
    try:
        indexes = {r[1] for r in conn.execute("PRAGMA index_list('queries')")}
        return index_backlog.from_id(conn), indexes & set(schema.QUERY_INDEXES)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    home = tmp_path_factory.mktemp("reference-home")
    env = dict(os.environ, LMSYS_TUI_HOME=str(home), PYTHONIOENCODING="utf-8")
    res = run_cli([*ARGS, "--build-indexes", "during"], env)
    assert res.returncode == 0, res.stderr
    return db_rows(home / "queries.db", STORED)


@pytest.mark.parametrize("at", [3 * BATCH, N])
def test_killed_load_keeps_every_row_searchable_and_finishes_on_rerun(
    uninterrupted: list[tuple[Any, ...]], home: Path, cli_env: dict[str, str], at: int
) -> None:
    db = home / "queries.db"
    _kill_when(cli_env, db, at)
    stored = {r[0] for r in db_rows(db, "SELECT id FROM queries")}
    assert len(stored) >= at
    assert db_rows(db, STORED) == uninterrupted[: len(stored)]  # whole batches, in order
    assert _sound(db) == stored  # keyword search already sees every committed row
    start, indexes = _state(db)
    assert (start is None) == (indexes == set(schema.QUERY_INDEXES))  # built, or still owed
    if len(stored) < N:  # killed while loading: the backlog was open
        assert start is not None and not indexes
    res = run_cli([*ARGS, "--build-indexes", "after"], cli_env)
    assert res.returncode == 0, res.stderr
    assert db_rows(db, STORED) == uninterrupted
    assert _sound(db) == {r[0] for r in db_rows(db, "SELECT id FROM queries")}
    assert _state(db) == (None, set(schema.QUERY_INDEXES))
