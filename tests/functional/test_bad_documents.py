"""One bad document never loses a whole file (issue 14 item 5).

A record nested too deep for the decoder, a record that is not JSON, bytes that are not UTF-8
and CSV with broken quoting are each counted under one reason and skipped, in every format,
while the good rows around them load. Real files, the real reader and load stage.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from lmsys_shaped import write_csv, write_jsonl

from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources.base import BadReason
from lmsys_tui.core.sources.jsonstream import iter_json_array
from lmsys_tui.core.sources.registry import open_source
from lmsys_tui.core.sources.spec import SourceSpec

DEEP = "[" * 10_000 + "]" * 10_000
BAD_UTF8 = b"caf\xe9 in latin-1 \xff\xfe"


def load(store: Any, path: Path) -> Any:
    info, items = open_source(SourceSpec(source="file", file=path))
    return run_load(store, items, info, batch_size=2)


def texts(store: Any) -> list[str]:
    conn = sqlite3.connect(store.path)
    try:
        return [r[0] for r in conn.execute("SELECT query_text FROM queries ORDER BY id")]
    finally:
        conn.close()


def record(i: int) -> bytes:
    return json.dumps({"id": f"q{i}", "text": f"good question {i}"}).encode()


GOOD = [f"good question {i}" for i in range(4)]


def json_array(middle: bytes) -> bytes:
    return b"[" + b",\n".join([record(0), record(1), middle, record(2), record(3)]) + b"]"


@pytest.mark.parametrize(
    ("middle", "reason"),
    [
        (DEEP.encode(), "invalid_json"),
        (b'{"id": "deep", "text": ' + DEEP.encode() + b"}", "invalid_json"),
        (b'{"id": "x", "text": oops}', "invalid_json"),
        (b'{"id": "x", "text": "has ] and } and , inside" "two strings"}', "invalid_json"),
        (b"not_a_literal", "invalid_json"),
        (b'{"id": "x", "text": "' + BAD_UTF8 + b'"}', "invalid_utf8"),
    ],
    ids=["deep-array", "deep-in-record", "syntax", "brackets-in-strings", "bare-word", "utf8"],
)
def test_json_array_bad_record_is_counted_and_the_rest_loads(store, tmp_path, middle, reason):
    path = tmp_path / "rows.json"
    path.write_bytes(json_array(middle))
    summary = load(store, path)
    assert summary.skipped == {reason: 1}
    assert texts(store) == GOOD


def test_deep_array_through_the_cli_exits_0_with_the_good_rows(cli_env, tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(json_array(DEEP.encode()))
    res = run_cli(["--headless", "load", "--file", str(path), "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["loaded"] == 4 and out["skipped"] == {"invalid_json": 1}
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_bad_records_across_chunk_edges(chunk: int) -> None:
    """The skip finds a bad record's end however the reads cut it (and valid ones are kept)."""
    values = [{"a": 1}, "[]", DEEP, {"b": [1, 2, {"c": "x]}"}]}, 3.5, "s"]
    body = ", ".join(v if v in ("[]", DEEP) else json.dumps(v) for v in values)
    body = body.replace('"[]"', "[]")
    body = body.replace(DEEP, DEEP[:-1] + "}")  # unbalanced: a syntax error, 10,000 deep
    from io import StringIO

    got = [v for _, v in iter_json_array(StringIO(f"[{body}, oops, 7]"), chunk_size=chunk)]
    assert got == [
        {"a": 1},
        [],
        BadReason.INVALID_JSON,
        {"b": [1, 2, {"c": "x]}"}]},
        3.5,
        "s",
        BadReason.INVALID_JSON,
        7,
    ]


def test_truncated_json_still_ends_quietly_after_a_bad_record(store, tmp_path) -> None:
    path = tmp_path / "cut.json"
    data = json_array(b"oops")
    path.write_bytes(data[: data.index(record(3)) + 10])  # the last record cut in half
    summary = load(store, path)
    assert summary.skipped == {"invalid_json": 1}
    assert texts(store) == GOOD[:3]


# --- invalid UTF-8: one rule in every format ----------------------------------------------------


def _jsonl(tmp_path: Path) -> Path:
    bad = b'{"id": "x", "text": "' + BAD_UTF8 + b'"}'
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join([record(0), record(1), bad, record(2), record(3)]) + b"\n")
    return path


def _json(tmp_path: Path) -> Path:
    path = tmp_path / "rows.json"
    path.write_bytes(json_array(b'{"id": "x", "text": "' + BAD_UTF8 + b'"}'))
    return path


def _csv(tmp_path: Path) -> Path:
    path = write_csv(tmp_path / "rows.csv", ["id", "text"], [])
    lines = [f"q{i},good question {i}\n".encode() for i in range(4)]
    lines.insert(2, b"x," + BAD_UTF8 + b"\n")
    path.write_bytes(path.read_bytes() + b"".join(lines))
    return path


def _parquet(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = [f"good question {i}".encode() for i in range(4)]
    raw.insert(2, BAD_UTF8)
    binary = pa.array(raw, pa.binary())
    # Arrow refuses to build such a string column, but files written elsewhere hold them
    text = pa.StringArray.from_buffers(len(binary), binary.buffers()[1], binary.buffers()[2])
    ids = pa.array([f"q{i}" for i in range(5)])
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": ids, "text": text}), path)
    return path


@pytest.mark.parametrize("make", [_jsonl, _json, _csv, _parquet], ids=lambda f: f.__name__[1:])
def test_invalid_utf8_is_counted_and_skipped_in_every_format(store, tmp_path, make) -> None:
    summary = load(store, make(tmp_path))
    assert summary.skipped == {"invalid_utf8": 1}
    stored = texts(store)
    assert stored == GOOD
    assert not any("\ufffd" in t for t in stored)  # never guessed with a replacement character


def test_utf8_in_a_nested_parquet_conversation_is_one_row(store, tmp_path) -> None:
    """A bad string deep in a message list costs its row only, not the record batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = [b"first", b"second", BAD_UTF8, b"third", b"fourth"]
    binary = pa.array(raw, pa.binary())
    content = pa.StringArray.from_buffers(len(binary), binary.buffers()[1], binary.buffers()[2])
    message = pa.StructArray.from_arrays([pa.array(["user"] * 5), content], ["role", "content"])
    conversation = pa.ListArray.from_arrays(pa.array(range(6), pa.int32()), message)
    ids = pa.array([f"c{i}" for i in range(5)])
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"conversation_id": ids, "conversation": conversation}), path)
    summary = load(store, path)
    assert summary.skipped == {"invalid_utf8": 1}
    assert texts(store) == ["first", "second", "third", "fourth"]


# --- CSV quoting ---------------------------------------------------------------------------------


def _csv_text(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "quotes.csv"
    path.write_text("id,text,model\n" + body, encoding="utf-8")
    return path


def test_unclosed_quote_is_counted_not_merged_into_the_next_lines(store, tmp_path) -> None:
    body = 'a,first,m\nb,"never closed,m\nc,third,m\nd,"fourth, quoted",m\ne,fifth,m\n'
    summary = load(store, _csv_text(tmp_path, body))
    assert summary.skipped == {"malformed_csv": 1}
    assert texts(store) == ["first", "third", "fourth, quoted", "fifth"]


def test_unclosed_quote_at_the_end_loses_only_its_line(store, tmp_path) -> None:
    body = 'a,first,m\nb,"never closed,m\nc,third,m\n'
    summary = load(store, _csv_text(tmp_path, body))
    assert summary.skipped == {"malformed_csv": 1}
    assert texts(store) == ["first", "third"]


def test_text_after_a_closing_quote_and_extra_cells_are_malformed(store, tmp_path) -> None:
    body = 'a,first,m\nb,"quoted"tail,m\nc,one,m,extra cell\nd,last,m\n'
    summary = load(store, _csv_text(tmp_path, body))
    assert summary.skipped == {"malformed_csv": 2}
    assert texts(store) == ["first", "last"]


def test_well_formed_multiline_and_escaped_quotes_still_load(store, tmp_path) -> None:
    rows = [["a", 'says "hi"\nover two lines', "m"], ["b", "plain", "m"]]
    summary = load(store, write_csv(tmp_path / "ok.csv", ["id", "text", "model"], rows))
    assert summary.skipped == {} and texts(store) == ['says "hi"\nover two lines', "plain"]


def test_malformed_csv_reported_by_the_cli_with_its_line(cli_env, tmp_path) -> None:
    path = _csv_text(tmp_path, 'a,first,m\nb,"broken,m\nc,third,m\n')
    res = run_cli(["--headless", "load", "--file", str(path)], cli_env)
    assert res.returncode == 0, res.stderr
    assert "malformed_csv 1" in res.stdout + res.stderr


def test_bad_jsonl_line_holding_deep_nesting_is_invalid_json(store, tmp_path) -> None:
    path = write_jsonl(tmp_path / "deep.jsonl", [{"text": "one"}, DEEP, {"text": "two"}])
    summary = load(store, path)
    assert summary.skipped == {"invalid_json": 1} and texts(store) == ["one", "two"]


def test_sharegpt_reader_skips_a_bad_record_and_bad_bytes(tmp_path) -> None:
    """The ShareGPT reader (packaged file or `--source sharegpt` path) follows the same rule."""
    from lmsys_tui.core.sources import sharegpt

    def conv(i: int) -> bytes:
        turns = [{"from": "human", "value": f"good question {i}"}]
        return json.dumps({"id": f"s{i}", "conversations": turns}).encode()

    bad_bytes = b'{"id": "x", "conversations": [{"from": "human", "value": "\xff"}]}'
    path = tmp_path / "sg.json"
    path.write_bytes(b"[" + b",".join([conv(0), DEEP.encode(), bad_bytes, conv(1)]) + b"]")
    items = list(sharegpt.read(path))
    assert [getattr(i, "text", None) or i.reason for i in items] == [
        "good question 0",
        BadReason.INVALID_JSON,
        BadReason.INVALID_UTF8,
        "good question 1",
    ]
