"""`run pipeline.toml`: the stages from a file, each skipped when its output exists, and a run
killed half-way completed by running the file again. On the embedded ShareGPT sample (real
MiniLM vectors); LLM stages through tests/llm_server.py (real SDKs, real HTTP)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import run_cli

from lmsys_tui.errors import ExitCode

PIPELINE = """
[load]
limit = 200

[cluster]
algorithm = "kmeans"
n_clusters = {k}

[summarize]
model = "{model}"
alias = "v1"
concurrency = 2

[merge]
target_levels = 2
"""


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _run(path: Path, env: dict[str, str]) -> dict:
    res = run_cli(["--headless", "run", str(path), "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_second_run_skips_every_stage(sample, home, cli_env, tmp_path) -> None:
    db = sample.copy_to(home)
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE.format(k=8, model="offline"))
    first = _run(path, cli_env)
    assert first["skipped"] == ["load", "embed"]  # the sample is loaded and embedded already
    assert first["ran"] == ["cluster", "summarize", "merge"]
    outputs = [s["output"] for s in first["stages"]]
    second = _run(path, cli_env)
    assert second["ran"] == [] and second["skipped"] == first["skipped"] + first["ran"]
    assert [s["output"] for s in second["stages"]] == outputs
    assert _count(db, "SELECT COUNT(*) FROM clustering_runs") == 1
    assert _count(db, "SELECT COUNT(*) FROM summary_runs") == 1
    assert _count(db, "SELECT COUNT(*) FROM hierarchy_runs WHERE status = 'done'") == 1
    path.write_text(PIPELINE.format(k=6, model="offline"))  # new cluster settings: a new run
    third = _run(path, cli_env)
    assert third["ran"] == ["cluster", "summarize", "merge"]
    assert _count(db, "SELECT COUNT(*) FROM clustering_runs") == 2


def test_a_killed_run_completes_when_run_again(sample, home, cli_env, tmp_path, server) -> None:
    db = sample.copy_to(home)
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE.format(k=10, model="openai/gpt-4o-mini"))
    env = cli_env | {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.openai_url,
        "LMSYS_TUI_LLM_RETRY_BASE": "0.05",
    }
    server.hold_after(4)  # the 5th request onwards waits: the process dies inside summarize
    args = [sys.executable, "-m", "lmsys_tui", "--headless", "run", str(path), "--json"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if _count(db, "SELECT COUNT(*) FROM cluster_summaries") >= 4:
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    server.release()
    assert _count(db, "SELECT COUNT(*) FROM summary_runs WHERE status = 'running'") == 1
    assert _count(db, "SELECT COUNT(*) FROM hierarchy_runs") == 0
    again = _run(path, env)
    status = {s["stage"]: s["status"] for s in again["stages"]}
    assert status == {
        "load": "skipped",
        "embed": "skipped",
        "cluster": "skipped",
        "summarize": "resumed",
        "merge": "ran",
    }
    assert _count(db, "SELECT COUNT(*) FROM summary_runs") == 1
    assert _count(db, "SELECT COUNT(*) FROM summary_runs WHERE status = 'done'") == 1
    assert _count(db, "SELECT COUNT(*) FROM cluster_summaries WHERE title IS NOT NULL") == 10
    assert max(server.paid().values()) == 1  # no prompt paid twice across the kill
    assert _run(path, env)["ran"] == []


def test_a_bad_file_is_one_line_exit_2(cli_env, tmp_path) -> None:
    path = tmp_path / "bad.toml"
    for text, says in (
        ("[cluster]\nn_cluster = 5\n", "unknown key 'n_cluster'"),
        ("[clusters]\n", "unknown key 'clusters'"),
        ("[cluster]\nn_clusters = 0\n", "--n-clusters"),
        ("[load\n", "bad.toml"),
    ):
        path.write_text(text)
        res = run_cli(["--headless", "run", str(path)], cli_env)
        assert res.returncode == ExitCode.USAGE, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    res = run_cli(["--headless", "run", str(tmp_path / "none.toml")], cli_env)
    assert res.returncode == ExitCode.USAGE and "no pipeline file" in res.stderr
