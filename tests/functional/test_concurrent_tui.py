"""The TUI reading while two headless commands write the same store (issue 14).

Two real `load` processes commit small batches into the explorer's fixture store while this
process reads it through the read layer exactly as the TUI's screens do (the runs list, the
status counts, opening the run, a page of a cluster's members). No read may fail (no "database
is locked"), and none may be torn: everything one read call sees comes from one moment, so
the query count and the highest query id (no ids are skipped or deleted here) never disagree
inside one reader, even when a writer commits between the two statements.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import tui_store

from lmsys_tui.core.read.catalog import list_datasets, list_runs, table_counts
from lmsys_tui.core.read.members import query_page
from lmsys_tui.core.read.runs import open_run
from lmsys_tui.core.store.sql import reader, scalar

ROWS = 1500


def chats(path: Path, label: str) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(ROWS):
            row = {"id": f"{label}-{i}", "text": f"{label} question {i}", "language": "en"}
            fh.write(json.dumps(row) + "\n")
    return path


def load(path: Path, label: str, env: dict[str, str]) -> subprocess.Popen[str]:
    args = ["load", "--file", str(path), "--dataset-label", label, "--db-batch-size", "10"]
    return subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", "--headless", *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_moment(db: Path) -> tuple[int, int]:
    """(count, highest id) read by two statements of one reader, a pause between them."""
    with reader(db) as conn:
        count = int(scalar(conn, "SELECT COUNT(*) FROM queries", default=0))
        time.sleep(0.003)  # a reader thread is preempted like this by the UI thread
        return count, int(scalar(conn, "SELECT MAX(id) FROM queries", default=0))


def test_tui_reads_while_two_loads_write(fx, store, cli_env, tmp_path) -> None:
    db = Path(store.path)
    base_count, base_max = one_moment(db)
    writers = [
        load(chats(tmp_path / f"{label}.jsonl", label), label, cli_env) for label in ("a", "b")
    ]
    reads = torn = 0
    last = base_count
    while any(w.poll() is None for w in writers):
        count, top = one_moment(db)
        torn += top - count != base_max - base_count
        counts = table_counts(db)
        assert counts["queries"] >= last  # never goes back
        last = counts["queries"]
        assert list_runs(db)[-1]["run_id"] in (tui_store.RUN_ID, tui_store.FLAT_RUN)
        overview = open_run(db, tui_store.RUN_ID)
        page = query_page(overview.view, [0], limit=5)
        assert len(page.rows) == 5
        assert {d["label"] for d in list_datasets(db)} >= {"support-chats"}
        reads += 1
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        assert json.loads(out)["loaded"] == ROWS
    assert torn == 0, f"{torn} of {reads} reads saw two moments"
    assert reads >= 10, "the loads ended before the reads overlapped them"
    sizes = {d["label"]: d["query_count"] for d in list_datasets(db)}
    assert sizes["a"] == sizes["b"] == ROWS
    assert one_moment(db) == (base_count + 2 * ROWS, base_max + 2 * ROWS)
