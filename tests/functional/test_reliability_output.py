"""Output that cannot harm its reader: CSV cells a spreadsheet would run are escaped, bidi
controls never reach a table or the TUI raw, `export -o -` writes to stdout.

Real exports of cluster_seed's clustered store (some stored texts rewritten to be hostile),
through the real CLI.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli

from lmsys_tui.core.export import ExportOptions, csv_cell, export_run
from lmsys_tui.core.text import safe_text
from lmsys_tui.errors import ExitCode, UsageError
from lmsys_tui.tui.text import inert, plain

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tleading tab",
    "\rleading carriage return",
]
BIDI = "\u061c \u200e \u200f \u202a \u202b \u202c \u202d \u202e \u2066 \u2067 \u2068 \u2069"


def _make_hostile(home: Path, run_id: str) -> list[int]:
    """Rewrite the first query texts of the run; returns their ids."""
    conn = sqlite3.connect(home / "queries.db")
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT query_id FROM query_clusters WHERE run_id = ? ORDER BY query_id LIMIT ?",
            (run_id, len(HOSTILE) + 1),
        )
    ]
    for qid, text in zip(ids, [*HOSTILE, "admin\u202e txt.exe"], strict=True):
        conn.execute("UPDATE queries SET query_text = ? WHERE id = ?", (text, qid))
    conn.commit()
    conn.close()
    return ids


def _texts(data: str) -> list[str]:
    return [row["query_text"] for row in csv.DictReader(io.StringIO(data, newline=""))]


def test_csv_export_escapes_formula_cells_unless_raw(runs, home: Path, cli_env) -> None:
    run = runs["kmeans"]
    _make_hostile(home, run)
    out = home / "safe.csv"
    res = run_cli(["--headless", "export", run, "-o", str(out)], cli_env)
    assert res.returncode == 0, res.stderr
    texts = _texts(out.read_bytes().decode())
    assert texts[: len(HOSTILE)] == ["'" + t for t in HOSTILE]
    assert not any(t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in texts)
    raw = home / "raw.csv"
    res = run_cli(["--headless", "export", run, "-o", str(raw), "--raw-csv"], cli_env)
    assert res.returncode == 0, res.stderr
    assert _texts(raw.read_bytes().decode())[: len(HOSTILE)] == HOSTILE
    # JSON is data for programs, never escaped
    js = home / "x.json"
    export_run(home / "queries.db", run, ExportOptions(output=js, format="json"))
    assert [r["query_text"] for r in json.loads(js.read_text())][: len(HOSTILE)] == HOSTILE


def test_csv_cell_rule() -> None:
    assert [csv_cell(v) for v in ("=1", "a=1", "", None, -1.5, 3, "@x")] == [
        "'=1", "a=1", "", None, -1.5, 3, "'@x",
    ]  # fmt: skip


def test_export_to_stdout(runs, home: Path, cli_env) -> None:
    run = runs["kmeans"]
    file_out = home / "f.jsonl"
    assert run_cli(["--headless", "export", run, "--format", "jsonl", "-o", str(file_out)],
                   cli_env).returncode == 0  # fmt: skip
    res = run_cli(["--headless", "export", run, "--format", "jsonl", "-o", "-"], cli_env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == file_out.read_text(encoding="utf-8")
    assert not (Path(cli_env.get("PWD", ".")) / "-").exists() and not (home / "-").exists()
    assert "to stdout" in res.stderr
    both = run_cli(["--headless", "export", run, "-o", "-", "--json"], cli_env)
    assert both.returncode == ExitCode.USAGE and both.stdout == ""
    with pytest.raises(UsageError, match="headless"):  # the TUI has no stdout to give
        export_run(home / "queries.db", run, ExportOptions(output=Path("-")))


def test_bidi_controls_are_escaped_in_tables_and_the_tui(runs, home: Path, cli_env) -> None:
    for ch in BIDI.split():
        shown = safe_text(f"a{ch}b")
        assert ch not in shown and shown == f"a\\u{ord(ch):04x}b"
        assert ch not in plain(f"a{ch}b") and ch not in inert(f"a{ch}b").plain
    run = runs["kmeans"]
    _make_hostile(home, run)
    wide = cli_env | {"COLUMNS": "300"}
    res = run_cli(["--headless", "list", "--run-id", run, "--limit", "20"], wide)
    assert res.returncode == 0, res.stderr
    assert "\u202e" not in res.stdout and "\\u202e" in res.stdout
