"""Rows over --max-chars are kept by default, as the reference loads them (its 5,000 LMSYS rows
hold a 394,465-character first turn): the text is stored whole, the encoder reads only its
start, and the row is counted. `--skip-long` skips them as too_long, as before."""

from __future__ import annotations

import json
import sqlite3

from conftest import run_cli
from lmsys_shaped import lmsys_row, write_jsonl

LONG = 400_000


def _long_text() -> str:
    words = "please review this python service log and tell me why the worker restarts "
    return (words * (LONG // len(words) + 1))[:LONG]


def test_a_400k_first_turn_is_stored_whole_embedded_and_counted(cli_env, tmp_path) -> None:
    rows = [lmsys_row(0, text=_long_text()), *(lmsys_row(i) for i in range(1, 5))]
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    args = ["--headless", "load", "--file", str(path), "--use-chroma", "--embed-backend", "torch"]
    res = run_cli([*args, "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["loaded"], out["skipped_total"]) == (5, 0)
    assert out["embedded"]["embedded"] == 5 and out["embedded"]["empty_excluded"] == 0
    assert out["chroma"]["collection_count"] == 5
    conn = sqlite3.connect(out["db_path"])
    try:
        stored = conn.execute(
            "SELECT query_text FROM queries WHERE conversation_id = 'conv-000000'"
        ).fetchone()[0]
    finally:
        conn.close()
    assert stored == rows[0]["conversation"][0]["content"] and len(stored) == LONG

    skip = ["--dataset-label", "short", "--skip-long", "--json"]
    res = run_cli(["--headless", "load", "--file", str(path), *skip], cli_env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["loaded"], out["skipped"]) == (4, {"too_long": 1})
