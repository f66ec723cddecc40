"""`export`: every format reads back equal to the store; streamed; atomic; clear errors."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from lmsys_tui.core.export import COLUMNS, ExportOptions, export_run
from lmsys_tui.errors import Cancelled, ExitCode, NotFoundError, UsageError


def _store_rows(home: Path, run_id: str) -> list[dict]:
    conn = sqlite3.connect(home / "queries.db")
    conn.row_factory = sqlite3.Row
    try:
        return [
            dict(r)
            for r in conn.execute(
                "SELECT qc.run_id, qc.cluster_id, qc.distance, qc.confidence_score, qc.query_id,"
                " q.conversation_id, q.model, q.language, q.query_text FROM query_clusters qc"
                " JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = ? ORDER BY qc.query_id",
                (run_id,),
            )
        ]
    finally:
        conn.close()


def _read(path: Path, fmt: str) -> list[dict]:
    if fmt == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # CSV has no null: "" reads back as None (no stored text is empty)
    typed = {"cluster_id": int, "query_id": int, "distance": float, "confidence_score": float}
    return [
        {k: (typed[k](v) if k in typed and v != "" else (None if v == "" else v))
         for k, v in row.items()}
        for row in rows
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_each_format_round_trips(runs, home, fmt) -> None:
    run = runs["hdbscan"]  # has noise rows: cluster -1 with no distance
    expected = _store_rows(home, run)
    out = home / f"out.{fmt}"
    summary = export_run(
        home / "queries.db", run, ExportOptions(format=fmt, output=out, batch_size=64)
    )
    assert summary.rows == len(expected) and summary.bytes == out.stat().st_size
    got = _read(out, fmt)
    assert [list(r) for r in got[:1]] == [list(COLUMNS)]
    assert got == expected
    assert any(r["cluster_id"] == -1 and r["distance"] is None for r in got)
    assert any("\n" in r["query_text"] for r in got)  # multi-line prompts survive


def test_batch_size_does_not_change_the_file_and_nothing_is_left_on_cancel(runs, home) -> None:
    db, run = home / "queries.db", runs["kmeans"]
    small = export_run(
        db, run, ExportOptions(format="jsonl", output=home / "a.jsonl", batch_size=7)
    )
    big = export_run(
        db, run, ExportOptions(format="jsonl", output=home / "b.jsonl", batch_size=100_000)
    )
    assert small.rows == big.rows > 0
    assert (home / "a.jsonl").read_bytes() == (home / "b.jsonl").read_bytes()
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    target = home / "c.parquet"
    with pytest.raises(Cancelled):
        export_run(
            db, run, ExportOptions(format="parquet", output=target, batch_size=10), cancelled=cancel
        )
    assert not target.exists()
    assert [p.name for p in home.iterdir() if p.name.startswith(".c.parquet")] == []


def test_bad_requests(runs, home) -> None:
    db = home / "queries.db"
    with pytest.raises(NotFoundError):
        export_run(db, "nope", ExportOptions(format="csv", output=home / "x.csv"))
    with pytest.raises(UsageError):
        export_run(db, runs["kmeans"], ExportOptions(format="xml", output=home / "x.xml"))
    with pytest.raises(UsageError):
        export_run(
            db, runs["kmeans"], ExportOptions(format="csv", output=home / "no" / "such" / "x.csv")
        )
    with pytest.raises(UsageError):
        export_run(db, runs["kmeans"], ExportOptions(format="csv", output=home))


def test_cli_export(runs, home, cli_env) -> None:
    out = home / "run.parquet"
    res = run_cli(["--headless", "export", runs["kmeans"], "--format", "parquet", "--output",
                   str(out), "--json"], cli_env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["rows"] == pq.read_metadata(out).num_rows == len(_store_rows(home, runs["kmeans"]))
    plain = run_cli(["--headless", "export", runs["kmeans"], "-o", str(home / "r.csv")], cli_env)
    assert plain.returncode == 0 and plain.stdout == "" and "exported" in plain.stderr
    for args, code in (
        (["export", "nope", "-o", str(home / "x.csv")], ExitCode.NOT_FOUND),
        (["export", runs["kmeans"], "--format", "xlsx", "-o", str(home / "x")], ExitCode.USAGE),
    ):
        res = run_cli(["--headless", *args], cli_env)
        assert res.returncode == code and res.stderr.startswith("error:")
        assert "Traceback" not in res.stderr
