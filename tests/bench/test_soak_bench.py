"""Soak: the whole pipeline on 10k real queries with a SIGKILL every ~10 s until it completes.

Run: pytest tests/bench/test_soak_bench.py -s    (LMSYS_SOAK_N=1000 for a quick look,
LMSYS_SOAK_EVERY=10 sets the seconds between kills)

Pipeline (real CLI processes, packaged ShareGPT, bundled MiniLM through torch, real Chroma):
load 10k, embed (--use-chroma), k-means k=50 (seed 42), an offline summary pass (--use-chroma),
an offline 3-level hierarchy. It runs once uninterrupted in one home, then in a second home
under a killer: each stage's command is started, SIGKILLed after LMSYS_SOAK_EVERY seconds if
still running, and started again (`--resume` for a started summary pass or hierarchy) until it
exits 0. A stage that made no progress between two kills (nothing new committed: its start-up
alone outlasts the interval, as the model load can on a busy machine) gets twice the interval
next time, or it could never finish; the kills and the intervals used are printed.

Target (issue 14): total soak time <= 1.3x the uninterrupted time, and the final stores equal:
the same queries, the same cluster assignments for the same seed, the same summary titles and
the same hierarchy. Not in the default suite (tests/bench is not collected by default).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N = int(os.environ.get("LMSYS_SOAK_N", "10000"))
EVERY = float(os.environ.get("LMSYS_SOAK_EVERY", "10"))
TORCH = ["--embed-backend", "torch"]
KMEANS = ["--n-clusters", "50", "--random-state", "42"]
PASS = ["--summary-run-id", "soak"]
DONE = "SELECT run_id FROM clustering_runs WHERE status = 'done'"


def stages(run_id: str) -> list[tuple[str, list[str]]]:
    return [
        ("load", ["load", "--limit", str(N)]),
        ("embed", ["embed", "--use-chroma", *TORCH]),
        ("cluster", ["cluster", "kmeans", *KMEANS, "--use-chroma", *TORCH]),
        ("summarize", ["summarize", run_id, "--model", "offline", "--use-chroma", *TORCH, *PASS]),
        ("merge", ["merge-clusters", run_id, "--model", "offline", "--summary-run-id", "soak"]),
    ]


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # a table not created yet
        return []
    finally:
        conn.close()


def progress(home: Path) -> int:
    """Rows committed so far, over every stage's tables (grows whenever a stage commits)."""
    db = home / "queries.db"
    total = 0
    for table in ("queries", "clustering_runs", "cluster_summaries", "cluster_hierarchies"):
        total += sum(r[0] for r in rows(db, f"SELECT COUNT(*) FROM {table}"))
    total += sum(r[0] for r in rows(home / "embeddings.db", "SELECT COUNT(*) FROM idx_1"))
    total += sum(len(r[0]) for r in rows(db, "SELECT checkpoint FROM hierarchy_runs"))
    return total


def resumed(args: list[str], home: Path) -> list[str]:
    db = home / "queries.db"
    if args[0] == "summarize" and rows(db, "SELECT 1 FROM summary_runs"):
        return [*args[:-2], "--resume", args[-1]]
    if args[0] == "merge-clusters":
        started = rows(db, "SELECT hierarchy_run_id FROM hierarchy_runs WHERE status != 'done'")
        if started:
            return [*args, "--resume", started[0][0]]
    return args


def run(args: list[str], env: dict[str, str], timeout: float | None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", "--headless", *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc


def pipeline(home: Path, every: float | None) -> tuple[float, dict[str, Any]]:
    """(seconds, per-stage kills and intervals); every=None: no kills."""
    env = os.environ | {"LMSYS_TUI_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    log: dict[str, Any] = {}
    run_id = ""
    began = time.perf_counter()
    for name, _ in stages(""):
        args = dict(stages(run_id))[name]
        kills, interval, intervals = 0, every, []
        while True:
            before = progress(home)
            proc = run(resumed(args, home), env, interval)
            if proc.returncode == 0:
                break
            out, err = proc.communicate()
            assert proc.returncode == -signal.SIGKILL, f"{name}: {proc.returncode}: {err[-2000:]}"
            kills += 1
            intervals.append(interval)
            done = rows(home / "queries.db", DONE)
            if name == "cluster" and done:  # killed after publishing: the run is there
                run_id = done[0][0]
                break
            if progress(home) == before and interval is not None:
                interval *= 2  # start-up alone outlasted the interval
        out, _ = proc.communicate()
        if name == "cluster" and proc.returncode == 0:
            run_id = json.loads(out)["run_id"]
        log[name] = {"kills": kills, "intervals": intervals}
    return time.perf_counter() - began, log


def final(home: Path) -> dict[str, Any]:
    db = home / "queries.db"
    [(run_id,)] = rows(db, DONE)
    return {
        "queries": rows(db, "SELECT conversation_id, query_text FROM queries ORDER BY id"),
        "assignments": rows(
            db,
            "SELECT q.conversation_id, qc.cluster_id FROM query_clusters qc JOIN queries q"
            " ON q.id = qc.query_id WHERE qc.run_id = ? ORDER BY q.id",
            run_id,
        ),
        "titles": rows(
            db,
            "SELECT cluster_id, title FROM cluster_summaries WHERE summary_run_id = 'soak'"
            " ORDER BY cluster_id",
        ),
        "hierarchy": rows(
            db,
            "SELECT h.level, h.cluster_id, h.parent_cluster_id, h.title, h.query_count"
            " FROM cluster_hierarchies h JOIN hierarchy_runs r"
            " ON r.hierarchy_run_id = h.hierarchy_run_id WHERE r.status = 'done'"
            " ORDER BY h.level, h.cluster_id",
        ),
    }


def test_soak_with_a_kill_every_ten_seconds() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain_home, soak_home = Path(tmp) / "plain", Path(tmp) / "soak"
        plain, _ = pipeline(plain_home, None)
        soaked, log = pipeline(soak_home, EVERY)
        ratio = soaked / plain
        print(
            f"\nsoak of {N:,} queries, a kill every {EVERY:g} s: uninterrupted {plain:.1f} s,"
            f" killed {soaked:.1f} s ({ratio:.2f}x); kills per stage:"
            f" {json.dumps({k: v['kills'] for k, v in log.items()})}; intervals {log}"
        )
        want, got = final(plain_home), final(soak_home)
        for key in want:
            assert got[key] == want[key], f"{key} differs after the soak"
        assert ratio <= 1.3, f"{ratio:.2f}x the uninterrupted time (target 1.3x)"
