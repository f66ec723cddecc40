"""Commands started at once on one home: creating and migrating the store is safe under races.

Real processes on a real SQLite file: before the fix, two loads on a new home failed with
"table schema_info already exists" or "no valid schema_version" most of the time.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import db_rows

from lmsys_tui.core.store import schema
from lmsys_tui.core.store.db import open_store

ROUNDS = 3


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", "--headless", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _all_ok(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{proc.args[4:]}: exit {proc.returncode}: {err}"
        json.loads(out)


def _valid(db: Path) -> None:
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert schema.read_version(db) == schema.SCHEMA_VERSION


def test_loads_and_status_started_at_once_on_a_new_home(tmp_path: Path, cli_env) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text(
        "".join(
            json.dumps({"conversation_id": f"c{i}", "text": f"how do I sort list {i} in python"})
            + "\n"
            for i in range(20)
        )
    )
    load = ["load", "--file", str(small), "--json"]
    for round_ in range(ROUNDS):
        home = tmp_path / f"home{round_}"
        env = cli_env | {"LMSYS_TUI_HOME": str(home)}
        status = ["status", "--json"]
        _all_ok([_start(load, env), _start(status, env), _start(load, env), _start(status, env)])
        db = home / "queries.db"
        _valid(db)
        assert db_rows(db, "SELECT COUNT(*) FROM queries") == [(20,)]  # loaded once


def test_commands_started_at_once_on_an_old_store_migrate_it_once(home: Path, cli_env) -> None:
    db = home / "queries.db"
    open_store(db).close()
    old = 2  # a v2 store (no browse index): every migration since runs once
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX ix_query_clusters_run_cluster_distance")  # as v2 had it
    conn.execute("UPDATE schema_info SET value = ? WHERE key = ?", (str(old), schema.VERSION_KEY))
    conn.commit()
    conn.close()
    _all_ok([_start(["status", "--json"], cli_env) for _ in range(4)])
    _valid(db)
    index = "ix_query_clusters_run_cluster_distance"
    assert db_rows(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = ?", index) == [(1,)]
    assert [p.name for p in home.glob("queries.db.bak-*")] == [f"queries.db.bak-v{old}"]
