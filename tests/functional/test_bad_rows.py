"""Every bad-row reason: counted once in the load summary, skipped, good rows around it kept.

Each case puts one bad row between good ones in a real file. JSON Lines goes through the
per-row path; parquet through the column-wise (Arrow) path; CSV through its JSON cells; and
a few run through the real CLI so the summary users see is checked too.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from lmsys_shaped import lmsys_row, write_csv, write_jsonl, write_parquet

from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources import arrowrows
from lmsys_tui.core.sources.base import BadReason, RowError, first_user_turn
from lmsys_tui.core.sources.registry import open_source
from lmsys_tui.core.sources.spec import SourceSpec

MAX_CHARS = 200


def good(i: int) -> dict[str, Any]:
    return lmsys_row(i)


def texts(store: Any) -> list[str]:
    conn = sqlite3.connect(store.path)
    try:
        return [r[0] for r in conn.execute("SELECT query_text FROM queries ORDER BY id")]
    finally:
        conn.close()


def check(store: Any, path: Path, reason: str, good_rows: list[dict[str, Any]]) -> None:
    info, items = open_source(
        SourceSpec(source="file", file=path, max_chars=MAX_CHARS, skip_long=True)
    )
    summary = run_load(store, items, info, batch_size=2)  # the bad row sits mid-batch
    assert summary.skipped == {reason: 1}, summary.skipped
    assert summary.loaded == len(good_rows)
    assert texts(store) == [r["conversation"][0]["content"] for r in good_rows]


def with_conversation(i: int, conversation: Any) -> dict[str, Any]:
    return lmsys_row(i) | {"conversation": conversation}


# (reason, the bad row) for JSON Lines: raw lines are written as they are
JSONL_CASES: list[tuple[str, Any]] = [
    ("missing_text", {k: v for k, v in lmsys_row(90).items() if k != "conversation"}),
    ("missing_text", with_conversation(90, None)),
    ("missing_text", with_conversation(90, [])),
    ("missing_text", with_conversation(90, [{"role": "user"}])),
    ("empty_text", with_conversation(90, [{"role": "user", "content": " \n\t "}])),
    ("non_string", with_conversation(90, [{"role": "user", "content": 42}])),
    ("non_string", with_conversation(90, [{"role": "user", "content": [{"type": "image"}]}])),
    ("nul_bytes", with_conversation(90, [{"role": "user", "content": "a\x00b"}])),
    ("invalid_json", '{"conversation_id": "c", "conversation": [oops'),
    ("invalid_json", '{"conversation_id": "c", "conversation": [{"role": "user", '),
    # a lone surrogate escape decodes to text SQLite cannot store as UTF-8
    (
        "invalid_json",
        '{"conversation_id": "x", "conversation": [{"role": "user", "content": "\\ud800"}]}',
    ),
    ("too_long", with_conversation(90, [{"role": "user", "content": "x" * (MAX_CHARS + 1)}])),
    ("wrong_type", "[1, 2, 3]"),
    ("wrong_type", with_conversation(90, "a string, not a list of messages")),
    ("wrong_type", with_conversation(90, ["not a message object"])),
    ("wrong_type", lmsys_row(90) | {"turn": "many"}),
    ("wrong_type", lmsys_row(90) | {"model": ["a", "list"]}),
    ("wrong_type", lmsys_row(90) | {"redacted": "perhaps"}),
    ("wrong_type", lmsys_row(90) | {"openai_moderation": "flagged"}),
    ("no_user_turn", with_conversation(90, [{"role": "assistant", "content": "hello"}])),
    ("missing_id", lmsys_row(90) | {"conversation_id": None}),
    ("missing_id", lmsys_row(90) | {"conversation_id": ""}),
]


@pytest.mark.parametrize(("reason", "bad"), JSONL_CASES)
def test_jsonl_bad_row(store, tmp_path, reason: str, bad: Any) -> None:
    around = [good(i) for i in range(4)]
    lines = [*around[:2], json.dumps(bad) if isinstance(bad, dict) else bad, *around[2:]]
    check(store, write_jsonl(tmp_path / "rows.jsonl", lines), reason, around)


def test_jsonl_bad_row_where_names_the_line(tmp_path) -> None:
    path = write_jsonl(tmp_path / "w.jsonl", [good(0), "", "{broken", good(1)])
    _, items = open_source(SourceSpec(source="file", file=path))
    bad = [item for item in items if not hasattr(item, "text")]
    assert [(b.reason, b.where) for b in bad] == [(BadReason.INVALID_JSON, "line 3")]


def test_invalid_utf8_line_is_invalid_utf8(store, tmp_path) -> None:
    path = tmp_path / "bytes.jsonl"
    lines = [
        json.dumps(good(0)).encode(),
        b'{"conversation": "\xff\xfe"}',
        json.dumps(good(1)).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    check(store, path, "invalid_utf8", [good(0), good(1)])


# parquet: every row must share one Arrow type, so the bad rows keep the column types
PARQUET_CASES: list[tuple[str, Any]] = [
    ("missing_text", with_conversation(90, None)),
    ("missing_text", with_conversation(90, [])),
    ("missing_text", with_conversation(90, [{"role": "user", "content": None}])),
    ("empty_text", with_conversation(90, [{"role": "user", "content": "   "}])),
    ("nul_bytes", with_conversation(90, [{"role": "user", "content": "nul\x00here"}])),
    ("too_long", with_conversation(90, [{"role": "user", "content": "y" * (MAX_CHARS + 1)}])),
    ("no_user_turn", with_conversation(90, [{"role": "assistant", "content": "hi"}])),
    ("no_user_turn", with_conversation(90, [{"role": None, "content": "who?"}])),
    ("missing_id", lmsys_row(90) | {"conversation_id": None}),
    ("wrong_type", with_conversation(90, [None, {"role": "user", "content": "x"}])),
]


@pytest.mark.parametrize(("reason", "bad"), PARQUET_CASES)
def test_parquet_bad_row(store, tmp_path, reason: str, bad: dict[str, Any]) -> None:
    around = [good(i) for i in range(4)]
    path = write_parquet(tmp_path / "rows.parquet", [*around[:2], bad, *around[2:]])
    check(store, path, reason, around)


def test_arrow_first_turns_agree_with_the_row_path() -> None:
    """The column-wise extraction must say what `first_user_turn` says, row by row."""
    import pyarrow as pa

    cases = [conv for _, row in PARQUET_CASES if (conv := row["conversation"]) is not None]
    cases += [
        None,
        [{"role": "system", "content": "rules"}, {"role": "USER", "content": "upper"}],
        [{"role": "human", "content": "a"}, {"role": "user", "content": "b"}],
        [{"role": "assistant", "content": "a"}, {"role": "prompter", "content": "c"}],
        lmsys_row(3)["conversation"],
    ]
    rows = [c for c in cases if c is None or None not in c]
    column = pa.array(rows, pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))
    got = arrowrows._first_turns(column.slice(1), "messages", MAX_CHARS)  # sliced on purpose
    assert got is not None
    for conv, result in zip(rows[1:], got, strict=True):
        try:
            want: Any = first_user_turn(conv, MAX_CHARS)
        except RowError as err:
            want = err.reason
        assert result == want, conv


CSV_CASES: list[tuple[str, str]] = [
    ("invalid_json", '[{"role": "user", "content": broken'),
    ("missing_text", ""),
    ("no_user_turn", '[{"role": "assistant", "content": "only me"}]'),
    ("wrong_type", '{"role": "user", "content": "an object, not a list"}'),
]


@pytest.mark.parametrize(("reason", "cell"), CSV_CASES)
def test_csv_message_cell_bad_row(store, tmp_path, reason: str, cell: str) -> None:
    around = [good(i) for i in range(4)]

    def line(row: dict[str, Any]) -> list[str]:
        return [row["conversation_id"], json.dumps(row["conversation"])]

    body = [line(r) for r in around[:2]] + [["bad", cell]] + [line(r) for r in around[2:]]
    path = write_csv(tmp_path / "rows.csv", ["id", "messages"], body)
    check(store, path, reason, around)


def test_csv_plain_text_bad_rows(store, tmp_path) -> None:
    body = [
        ["a", "first good"],
        ["b", ""],
        ["c", "x" * (MAX_CHARS + 5)],
        ["", "no id"],
        ["d", "ok"],
    ]
    path = write_csv(tmp_path / "plain.csv", ["id", "text"], body)
    info, items = open_source(
        SourceSpec(source="file", file=path, max_chars=MAX_CHARS, skip_long=True)
    )
    summary = run_load(store, items, info)
    assert summary.skipped == {"empty_text": 1, "too_long": 1, "missing_id": 1}
    assert texts(store) == ["first good", "ok"]


def test_all_reasons_in_one_file_through_the_cli(cli_env, tmp_path) -> None:
    """The summary users get: loaded, skipped by reason, good rows all stored."""
    bad_lines = [json.dumps(b) if isinstance(b, dict) else b for _, b in JSONL_CASES]
    lines: list[Any] = []
    for i, bad in enumerate(bad_lines):
        lines += [good(2 * i), bad, good(2 * i + 1)]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    res = run_cli(
        [
            "--headless",
            "load",
            "--file",
            str(path),
            "--max-chars",
            str(MAX_CHARS),
            "--skip-long",
            "--json",
        ],
        cli_env,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    want: dict[str, int] = {}
    for reason, _ in JSONL_CASES:
        want[reason] = want.get(reason, 0) + 1
    assert out["skipped"] == dict(sorted(want.items()))
    # every reason is exercised (invalid bytes and CSV quoting: in test_bad_documents.py)
    assert set(want) == {r.value for r in BadReason} - {"invalid_utf8", "malformed_csv"}
    assert (out["loaded"], out["skipped_total"]) == (2 * len(bad_lines), len(bad_lines))
    conn = sqlite3.connect(out["db_path"])
    stored = [r[0] for r in conn.execute("SELECT conversation_id FROM queries ORDER BY id")]
    assert stored == [good(i)["conversation_id"] for i in range(2 * len(bad_lines))]
    plain = run_cli(
        ["--headless", "load", "--file", str(path), "--max-chars", "200", "--skip-long"], cli_env
    )
    assert "skipped (empty_text 1, invalid_json 3," in plain.stderr
