"""Exit codes and messages that do not mislead: a mismatch is not a pass, an unusable or
damaged store is one line and exit 2, a closed stdout ends a command quietly.

Real processes on real stores (a real Chroma folder for `verify sync`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import run_cli
from search_fixtures import BACKEND, private_copy

from lmsys_tui.errors import ExitCode


def test_verify_sync_mismatch_exits_1_and_still_prints_its_report(home: Path, cli_env) -> None:
    seed = private_copy(home)
    args = ["--headless", "verify", "sync", seed.run_id, "--db-path", str(seed.db),
            "--chroma-path", str(seed.chroma), "--embed-backend", BACKEND, "--json"]  # fmt: skip
    broken = run_cli(args, cli_env)  # the summaries are not in Chroma yet
    assert broken.returncode == ExitCode.FAILED
    report = json.loads(broken.stdout)
    assert report["status"] == "mismatch" and report["issues"]
    [line] = broken.stderr.strip().splitlines()
    assert line.startswith("error: ") and "disagree" in line
    fixed = run_cli([*args, "--fix"], cli_env)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["status"] == "ok"
    assert run_cli(args, cli_env).returncode == 0


def test_an_unusable_store_path_is_one_line_and_exit_2(tmp_path: Path, cli_env) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"conversation_id": "c1", "text": "hello there"}) + "\n")
    for db in ("/proc/x.db", "/proc/no/such/x.db"):
        out = run_cli(["--headless", "load", "--file", str(small), "--db-path", db], cli_env)
        assert out.returncode == ExitCode.USAGE, out.stderr
        [line] = out.stderr.strip().splitlines()
        assert line.startswith("error: ") and db.rsplit("/", 1)[0] in line
        assert "Traceback" not in out.stderr and "sqlalche" not in out.stderr


def test_a_damaged_store_is_exit_2_with_one_message_for_every_command(home: Path, cli_env) -> None:
    loaded = run_cli(["--headless", "load", "--limit", "300", "--json"], cli_env)
    assert loaded.returncode == 0, loaded.stderr
    db = home / "queries.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with db.open("r+b") as f:  # cut off the second half: the schema pages survive
        f.truncate(db.stat().st_size // 2)
    lines = set()
    for args in (["status"], ["search", "hello", "--mode", "keyword"], ["search", "hello"]):
        out = run_cli(["--headless", *args, "--json"], cli_env)
        assert out.returncode == ExitCode.USAGE, (args, out.stderr)
        assert out.stdout == ""
        [line] = out.stderr.strip().splitlines()
        lines.add(line)
    [line] = lines
    assert line.startswith(f"error: {db}: ") and "damaged" in line


def _closed_stdout(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with a stdout whose reader has gone (`| head -0`, deterministically)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", "--headless", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


def test_a_closed_stdout_ends_quietly(tmp_path: Path, cli_env) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "".join(
            json.dumps({"conversation_id": f"c{i}", "text": f"q {i}"}) + "\n" for i in range(50)
        )
    )
    assert run_cli(["--headless", "load", "--file", str(rows)], cli_env).returncode == 0
    for args in (["runs", "--json"], ["datasets", "--json"], ["datasets"], ["list", "--json"]):
        code, err = _closed_stdout(args, cli_env)
        assert (code, err) == (ExitCode.BROKEN_PIPE, ""), args
