"""`load --file`: LMSYS-shaped, plain-text and ShareGPT files in every format, into real SQLite.

Files are written by the tests; loads run through `open_source` + `run_load` and, for the main
paths, through the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from lmsys_shaped import (
    STORED,
    expected,
    lmsys_row,
    write_csv,
    write_json,
    write_jsonl,
    write_parquet,
)

from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources.registry import open_source
from lmsys_tui.core.sources.spec import ColumnMap, SourceSpec
from lmsys_tui.core.text import normalise
from lmsys_tui.errors import Cancelled, UsageError


def load(store: Any, path: Path, source: str = "file", **kw: Any) -> Any:
    columns = kw.pop("columns", ColumnMap())
    max_chars = kw.pop("max_chars", 100_000)
    spec = SourceSpec(source=source, file=path, columns=columns, max_chars=max_chars)
    info, items = open_source(spec)
    return run_load(store, items, info, **kw)


def rows(store: Any, sql: str = STORED, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def cli_json(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    res = run_cli(["--headless", *args, "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def datasets(env: dict[str, str]) -> list[Any]:
    """Dataset labels in the store of `env` (read directly: no extra process per check)."""
    db = Path(env["LMSYS_TUI_HOME"]) / "queries.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT label FROM datasets")]
    finally:
        conn.close()


LMSYS = [lmsys_row(i) for i in range(40)]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "json"])
def test_lmsys_shaped_file_loads_every_field(store, tmp_path, fmt) -> None:
    writer = {"jsonl": write_jsonl, "parquet": write_parquet, "json": write_json}[fmt]
    path = writer(tmp_path / f"chats.{fmt}", LMSYS)
    summary = load(store, path)
    assert (summary.loaded, summary.skipped_total, summary.languages_detected) == (40, 0, 0)
    assert rows(store) == [expected(r) for r in LMSYS]
    # the flags vary, so a reader that ignored them would fail here
    assert {r[5] for r in rows(store)} == {0, 1} and {r[6] for r in rows(store)} == {0, 1}
    assert rows(store, "SELECT label, source, query_count FROM datasets") == [("chats", "file", 40)]


def test_parquet_total_comes_from_metadata_and_batches_stream(store, tmp_path) -> None:
    many = [lmsys_row(i) for i in range(3000)]
    path = write_parquet(tmp_path / "many.parquet", many, row_group_size=700)
    info, items = open_source(SourceSpec(source="file", file=path))
    assert info.total == 3000
    seen: list[tuple[int, int | None]] = []
    summary = run_load(
        store, items, info, batch_size=500, progress=lambda d, t, n="": seen.append((d, t))
    )
    assert summary.loaded == 3000
    assert seen[0] == (500, 3000) and seen[-1] == (3000, 3000)
    assert rows(store) == [expected(r) for r in many]


def test_lmsys_file_through_the_cli(cli_env, tmp_path) -> None:
    path = write_parquet(tmp_path / "shard-0.parquet", LMSYS)
    data = cli_json(["load", "--source", "lmsys", "--file", str(path)], cli_env)
    assert (data["loaded"], data["source"], data["dataset"]) == (40, "lmsys", "shard-0")
    conn = sqlite3.connect(data["db_path"])
    assert conn.execute(STORED).fetchall() == [expected(r) for r in LMSYS]
    again = cli_json(["load", "--source", "lmsys", "--file", str(path)], cli_env)
    assert (again["loaded"], again["duplicates"]) == (0, 40)
    assert "nothing new" in again["message"]


def test_lmsys_source_refuses_a_file_without_lmsys_columns(cli_env, tmp_path) -> None:
    path = write_jsonl(tmp_path / "plain.jsonl", [{"text": "hello"}])
    res = run_cli(["--headless", "load", "--source", "lmsys", "--file", str(path)], cli_env)
    assert res.returncode == 2
    assert "not LMSYS-shaped" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert datasets(cli_env) == []


def test_message_lists_in_other_shapes(store, tmp_path) -> None:
    """ShareGPT {from, value} turns, OpenAI content parts, a leading system turn."""
    data = [
        {"id": 1, "messages": [{"from": "human", "value": "sharegpt style"}]},
        {
            "id": 2,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "parts"}, {"type": "image"}]},
                {"role": "assistant", "content": "ok"},
                {"role": "User", "content": "second"},
            ],
        },
    ]
    summary = load(store, write_jsonl(tmp_path / "m.jsonl", data))
    assert summary.loaded == 2
    got = rows(store, "SELECT conversation_id, query_text, turn_count FROM queries ORDER BY id")
    assert got == [("1", "sharegpt style", 1), ("2", "parts", 2)]


def test_parquet_with_content_parts_takes_the_row_path(store, tmp_path) -> None:
    data = [
        {"id": f"p{i}", "messages": [{"role": "user", "content": [{"type": "text", "text": t}]}]}
        for i, t in enumerate(["alpha", "beta"])
    ]
    assert load(store, write_parquet(tmp_path / "parts.parquet", data)).loaded == 2
    assert rows(store, "SELECT query_text FROM queries ORDER BY id") == [("alpha",), ("beta",)]


def test_csv_plain_text_column(store, tmp_path) -> None:
    path = write_csv(
        tmp_path / "prompts.csv",
        ["prompt", "model", "language"],
        [["Wie spät ist es?", "m1", ""], ["multi\nline, with comma", "", "English"]],
    )
    summary = load(store, path, columns=ColumnMap(model_default="unknown-model"))
    assert (summary.loaded, summary.languages_detected) == (2, 1)
    got = rows(
        store, "SELECT conversation_id, query_text, model, language FROM queries ORDER BY id"
    )
    assert got == [
        ("row-0", "Wie spät ist es?", "m1", "German"),
        ("row-1", "multi\nline, with comma", "unknown-model", "English"),
    ]


def test_csv_message_list_as_json_cell(store, tmp_path) -> None:
    header = list(LMSYS[0])
    cells = [
        [json.dumps(r[h]) if isinstance(r[h], list | dict) else r[h] for h in header]
        for r in LMSYS[:10]
    ]
    summary = load(store, write_csv(tmp_path / "lmsys.csv", header, cells))
    assert summary.loaded == 10
    assert rows(store) == [expected(r) for r in LMSYS[:10]]


def test_json_array_of_sharegpt_records_keeps_sharegpt_rules(store, tmp_path) -> None:
    records = [
        {"id": "abc_0", "conversations": [{"from": "human", "value": "first chunk"}]},
        {"id": "abc_1", "conversations": [{"from": "human", "value": "continuation"}]},
        {"id": "xyz", "conversations": [{"from": "gpt", "value": "starts with the model"}]},
        {"id": "q", "conversations": [{"from": "human", "value": "plain"}]},
    ]
    summary = load(store, write_json(tmp_path / "sg.json", records))
    assert summary.loaded == 2 and summary.skipped == {"no_user_turn": 1}
    assert rows(store, "SELECT conversation_id, query_text FROM queries ORDER BY id") == [
        ("abc", "first chunk"),
        ("q", "plain"),
    ]


def test_truncated_json_array_keeps_complete_records(store, tmp_path) -> None:
    path = tmp_path / "cut.json"
    full = json.dumps([{"text": f"t{i}"} for i in range(5)])
    path.write_text(full[: full.index('{"text": "t4"') + 6], encoding="utf-8")
    assert load(store, path).loaded == 4


def test_a_json_file_of_json_lines_is_read_as_lines(store, tmp_path) -> None:
    path = write_jsonl(tmp_path / "lines.json", [{"question": "one"}, {"question": "two"}])
    assert load(store, path).loaded == 2


def test_column_map_flags(store, tmp_path) -> None:
    data = [
        {"uid": "u1", "body": "[INST] plain text that looks like a list", "who": "m", "ts": 0},
        {"uid": "u2", "body": "second", "who": None, "ts": "2024-03-01T12:00:00Z", "lang": "fr"},
    ]
    cmap = ColumnMap(
        text_column="body",
        text_format="plain",
        model_column="who",
        language_column="lang",
        timestamp_column="ts",
        conversation_id_column="uid",
        model_default="fallback",
    )
    summary = load(store, write_jsonl(tmp_path / "custom.jsonl", data), columns=cmap)
    assert summary.loaded == 2 and summary.languages_detected == 1  # u1 has no language
    got = rows(store, "SELECT conversation_id, query_text, model, language, timestamp FROM queries")
    assert got[0][:3] == ("u1", data[0]["body"], "m")
    assert got[0][4].startswith("1970-01-01 00:00:00")
    assert got[1] == ("u2", "second", "fallback", "fr", "2024-03-01 12:00:00.000000")


def test_column_map_through_the_cli(cli_env, tmp_path) -> None:
    data = [{"key": f"k{i}", "msgs": lmsys_row(i)["conversation"], "engine": "e"} for i in range(6)]
    path = write_jsonl(tmp_path / "c.jsonl", data)
    out = cli_json(
        [
            "load", "--file", str(path), "--text-column", "msgs", "--text-format", "messages",
            "--conversation-id-column", "key", "--model-column", "engine",
            "--dataset-label", "mapped",
        ],
        cli_env,
    )  # fmt: skip
    assert (out["loaded"], out["dataset"]) == (6, "mapped")
    conn = sqlite3.connect(out["db_path"])
    got = conn.execute("SELECT conversation_id, query_text, model FROM queries ORDER BY id")
    assert got.fetchall() == [
        (f"k{i}", LMSYS[i]["conversation"][0]["content"], "e") for i in range(6)
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_wrong_column_name_exits_2_and_leaves_no_dataset(cli_env, tmp_path, fmt) -> None:
    path = tmp_path / f"x.{fmt}"
    if fmt == "csv":
        write_csv(path, ["text"], [["hello"]])
    else:
        (write_jsonl if fmt == "jsonl" else write_parquet)(path, [{"text": "hello"}])
    res = run_cli(["--headless", "load", "--file", str(path), "--model-column", "nope"], cli_env)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "--model-column 'nope'" in res.stderr and "text" in res.stderr
    assert datasets(cli_env) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "no such file"),
        ("notes.txt", "hello", "cannot read .txt"),
        ("nothing.csv", "", "no header row"),
        ("cols.jsonl", '{"body": "no known text column"}\n', "no text column found"),
        ("broken.parquet", "not parquet at all", "cannot read broken.parquet as parquet"),
        ("obj.json", '"just a string"', "neither a JSON array nor JSON Lines"),
    ],
)
def test_unusable_files_exit_2_with_one_line(cli_env, tmp_path, name, content, message) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    res = run_cli(["--headless", "load", "--file", str(path), "--json"], cli_env)
    assert res.returncode == 2
    assert res.stdout == ""
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert datasets(cli_env) == []


def test_open_file_fails_before_any_row_is_read(store, tmp_path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}])
    with pytest.raises(UsageError, match="--conversation-id-column 'uid'"):
        open_source(
            SourceSpec(source="file", file=path, columns=ColumnMap(conversation_id_column="uid"))
        )
    assert rows(store, "SELECT COUNT(*) FROM datasets") == [(0,)]


def test_row_numbers_are_stable_ids_and_reload_adds_nothing(store, tmp_path) -> None:
    path = write_jsonl(tmp_path / "anon.jsonl", [{"text": f"anonymous {i}"} for i in range(30)])
    first = load(store, path, batch_size=7)
    again = load(store, path, batch_size=7)
    assert (first.loaded, again.loaded, again.duplicates) == (30, 0, 30)
    assert "nothing new" in again.message
    ids = [r[0] for r in rows(store, "SELECT conversation_id FROM queries ORDER BY id")]
    assert ids == [f"row-{i}" for i in range(30)]


def test_force_reload_replaces_text_and_keeps_ids(cli_env, tmp_path) -> None:
    path = tmp_path / "edit.jsonl"
    write_jsonl(path, [{"id": f"c{i}", "text": f"old {i}"} for i in range(5)])
    first = cli_json(["load", "--file", str(path)], cli_env)
    conn = sqlite3.connect(first["db_path"])
    before = conn.execute("SELECT conversation_id, id FROM queries ORDER BY id").fetchall()
    write_jsonl(path, [{"id": f"c{i}", "text": f"new {i}"} for i in range(6)])
    out = cli_json(["load", "--file", str(path), "--force-reload"], cli_env)
    assert (out["loaded"], out["replaced"]) == (1, 5)
    after = conn.execute("SELECT conversation_id, id, query_text FROM queries ORDER BY id")
    after = after.fetchall()
    assert [(c, i) for c, i, _ in after[:5]] == before
    assert [t for *_, t in after] == [f"new {i}" for i in range(6)]


def test_cancel_after_some_batches_keeps_them_and_rerun_completes(store, tmp_path) -> None:
    path = write_parquet(tmp_path / "big.parquet", [lmsys_row(i) for i in range(2000)])
    calls = {"progress": 0}

    def progress(done: int, total: int | None, note: str = "") -> None:
        calls["progress"] += 1

    with pytest.raises(Cancelled):
        load(
            store, path, batch_size=300, progress=progress, cancelled=lambda: calls["progress"] >= 3
        )
    assert rows(store, "SELECT COUNT(*) FROM queries") == [(900,)]
    assert rows(store, "SELECT status FROM datasets") == [("cancelled",)]
    resumed = load(store, path, batch_size=300)
    assert (resumed.loaded, resumed.duplicates) == (1100, 900)
    assert rows(store, "SELECT COUNT(DISTINCT conversation_id), COUNT(*) FROM queries") == [
        (2000, 2000)
    ]
    assert rows(store, "SELECT status FROM datasets") == [("done",)]


def test_sigkill_mid_load_keeps_commits_and_rerun_finishes(cli_env, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import time

    total = 150_000
    path = tmp_path / "huge.jsonl"
    with open(path, "w", encoding="utf-8") as fh:  # language given: no detection, a fast load
        fh.writelines(f'{{"id": {i}, "text": "row {i}", "language": "en"}}\n' for i in range(total))
    db = Path(cli_env["LMSYS_TUI_HOME"]) / "queries.db"
    args = ["--headless", "load", "--file", str(path), "--db-batch-size", "1000", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", *args],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stored = 0
    deadline = time.monotonic() + 120
    try:
        while stored < 5000 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            stored = _count_or_zero(db)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    kept = _count_or_zero(db)
    assert 5000 <= kept < total and kept % 1000 == 0  # whole batches only
    out = cli_json(args[1:-1], cli_env)
    assert (out["loaded"], out["duplicates"], out["status"]) == (total - kept, kept, "done")
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM queries"
    ).fetchone() == (
        total,
        total,
    )


def _count_or_zero(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_faster_normalise_matches_the_regex_definition() -> None:
    """core.text.normalise uses str.split(); the hash must equal the regex-based original."""
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    samples = [f"a{spaces}b", f"{spaces}x  y\u3000z{spaces}", "ﬁ\u00a0ligature", "", " \t\n"]
    for text in samples:
        reference = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
        assert normalise(text) == reference


def test_read_ahead_stops_and_closes_the_source_when_the_load_stops(store) -> None:
    import threading

    from lmsys_tui.core.sources.base import Conversation, SourceInfo

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield Conversation(f"c{i}", f"text {i}", language="English")
                i += 1
        finally:
            closed.set()

    info = SourceInfo(source="file", ref="t", default_label="t")
    summary = run_load(store, endless(), info, limit=10, batch_size=4)
    assert summary.loaded == 10
    assert closed.wait(10), "the read-ahead thread kept the source open"
