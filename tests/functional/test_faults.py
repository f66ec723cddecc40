"""Faults from outside the program: a full disk, a Chroma folder gone or not writable (issue 14).

Each is made for real: a full disk is a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so a
write fails with EFBIG as on a full disk) set in the child process only; a Chroma folder is
deleted, or mounted read-only in the child's own mount namespace (root ignores file modes).
Every case must end in one line on stderr and a documented exit code, with nothing lost: the
store intact and its committed rows kept, no half-written export, and the command completing
once the fault is gone.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tui_store
from conftest import db_rows, run_cli

from lmsys_tui.errors import ExitCode


def limited(max_bytes: int) -> Callable[[], None]:
    """preexec_fn: files the child writes cannot grow past `max_bytes` (a full disk)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def cli(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmsys_tui", "--headless", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def one_line(res: subprocess.CompletedProcess[str], code: ExitCode) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


def intact(db: Path) -> None:
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]


# --- a full disk ---------------------------------------------------------------------------------


def test_full_disk_during_export_leaves_no_file_and_the_store_intact(fx, store, cli_env, tmp_path):
    db = Path(store.path)
    out = tmp_path / "export.jsonl"
    args = ["export", tui_store.RUN_ID, "-o", str(out), "--format", "jsonl", "--batch-size", "5"]
    res = cli(args, cli_env, preexec_fn=limited(2_000))  # the export needs more than this
    line = one_line(res, ExitCode.FAILED)
    assert str(out) in line and "no room" in line
    assert not out.exists() and not list(tmp_path.glob(".export.jsonl.part-*"))
    intact(db)
    done = cli(args, cli_env)  # room again: the same command completes
    assert done.returncode == 0, done.stderr
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == db_rows(db, "SELECT COUNT(*) FROM query_clusters WHERE run_id = ?",
                                tui_store.RUN_ID)[0][0]  # fmt: skip


def _chats(path: Path, n: int, tag: str = "") -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = f"{tag}question {i}: " + "why does this take so much room " * 8
            fh.write(json.dumps({"id": f"{tag}{i}", "text": text, "language": "en"}) + "\n")
    return path


def test_full_disk_during_load_keeps_committed_batches(store, cli_env, tmp_path) -> None:
    db = Path(store.path)
    store.close()
    size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("queries.db-*"))
    big = _chats(tmp_path / "big.jsonl", 4000)
    args = ["load", "--file", str(big), "--db-batch-size", "200"]
    res = cli(args, cli_env, preexec_fn=limited(size + 600_000))
    line = one_line(res, ExitCode.FAILED)
    assert "disk is full" in line and "committed work is kept" in line, line
    intact(db)
    kept = db_rows(db, "SELECT COUNT(*) FROM queries")[0][0]
    assert 0 < kept < 4000  # the batches committed before the disk filled are kept
    assert db_rows(db, "SELECT status FROM datasets") in ([("failed",)], [("running",)])
    done = cli([*args, "--json"], cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loaded"] == 4000 - kept
    assert db_rows(db, "SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM queries") == [
        (4000, 4000)
    ]


# --- Chroma folder gone or unwritable ------------------------------------------------------------


@pytest.fixture
def synced(seeded, home: Path, cli_env) -> dict[str, Any]:
    """cluster_seed's embedded store, clustered with its queries in Chroma."""
    args = ["cluster", "kmeans", "--n-clusters", "4", "--use-chroma", "--embed-backend", "torch"]
    res = run_cli(["--headless", *args, "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    run_id = json.loads(res.stdout)["run_id"]
    assert cli(["verify", "sync", run_id], cli_env).returncode == 0
    return {"run_id": run_id, "chroma": home / "chroma", "db": home / "queries.db"}


def test_chroma_folder_deleted_is_a_mismatch_and_fix_rebuilds_it(synced, cli_env) -> None:
    shutil.rmtree(synced["chroma"])
    queries = db_rows(synced["db"], "SELECT COUNT(*) FROM queries")
    res = cli(["verify", "sync", synced["run_id"]], cli_env)
    assert res.returncode == ExitCode.FAILED and "Traceback" not in res.stderr
    assert "mismatch" in res.stdout + res.stderr
    assert db_rows(synced["db"], "SELECT COUNT(*) FROM queries") == queries  # nothing lost
    fixed = cli(["verify", "sync", synced["run_id"], "--fix"], cli_env)
    assert fixed.returncode == 0, fixed.stderr
    assert cli(["verify", "sync", synced["run_id"]], cli_env).returncode == 0


def _read_only(folder: Path, args: list[str], env: dict[str, str]) -> Any:
    """`lmsys-tui --headless ARGS` in a mount namespace of its own where `folder` is read-only
    (a bind mount: root ignores file modes, so chmod would prove nothing)."""
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    command = [sys.executable, "-m", "lmsys_tui", "--headless", *args]
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(folder), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _can_mount(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    script = 'mount --bind -o ro "$0" "$0" && ! touch "$0/x" 2>/dev/null'
    res = subprocess.run(["unshare", "-m", "sh", "-c", script, str(probe)], capture_output=True)
    return res.returncode == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["verify", "sync", "{run}", "--fix"], ExitCode.USAGE),
        (["embed", "--use-chroma", "--embed-backend", "torch"], ExitCode.USAGE),
    ],
    ids=["verify-fix", "embed"],
)
def test_chroma_folder_read_only_is_one_line_and_loses_nothing(synced, cli_env, tmp_path, args,
                                                               code) -> None:  # fmt: skip
    if not _can_mount(tmp_path):
        pytest.skip("no private mount namespace here (unshare -m)")
    db, chroma = synced["db"], synced["chroma"]
    tables = ("queries", "query_clusters", "clusters")
    before = [db_rows(db, f"SELECT COUNT(*) FROM {t}") for t in tables]
    args = [a.replace("{run}", synced["run_id"]) for a in args]
    line = one_line(_read_only(chroma, args, cli_env), code)
    assert f"cannot open the Chroma folder {chroma}" in line, line
    assert [db_rows(db, f"SELECT COUNT(*) FROM {t}") for t in tables] == before  # nothing lost
    intact(db)
    again = cli(args, cli_env)  # writable again: the same command goes through
    assert again.returncode == 0, again.stderr
    assert cli(["verify", "sync", synced["run_id"]], cli_env).returncode == 0
