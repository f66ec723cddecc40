"""`load --label-column C`: a known class stored with each query, from every tabular source.

Real labelled texts (tests/corpora.py) written as jsonl / json / csv / parquet files and loaded
through the real CLI into real SQLite; an older store (schema v3) gains the column on opening.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import db_rows, run_cli
from corpora import chat_questions
from lmsys_shaped import write_csv, write_json, write_jsonl, write_parquet

from lmsys_tui.core.store import schema
from lmsys_tui.core.store.db import open_store


def _rows(n: int = 40) -> list[dict[str, object]]:
    corpus = chat_questions(per_label=6)
    return [
        {"id": f"c{i}", "prompt": t, "topic": lab}
        for i, (t, lab) in enumerate(zip(corpus.texts[:n], corpus.labels[:n], strict=True))
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_label_column_is_stored_with_each_query(fmt, tmp_path, cli_env, home) -> None:
    rows = _rows()
    path = tmp_path / f"labelled.{fmt}"
    if fmt == "csv":
        write_csv(
            path, ["id", "prompt", "topic"], [[r["id"], r["prompt"], r["topic"]] for r in rows]
        )
    else:
        {"jsonl": write_jsonl, "json": write_json, "parquet": write_parquet}[fmt](path, rows)
    out = run_cli(["--headless", "load", "--file", str(path), "--text-column", "prompt",
                   "--label-column", "topic", "--json"], cli_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    stored = dict(db_rows(home / "queries.db", "SELECT conversation_id, label FROM queries"))
    assert stored == {r["id"]: r["topic"] for r in rows}


def test_label_column_missing_or_absent(tmp_path, cli_env, home) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", _rows(5))
    bad = run_cli(["--headless", "load", "--file", str(path), "--label-column", "nope",
                   "--json"], cli_env)  # fmt: skip
    assert bad.returncode == 2 and "--label-column 'nope': no such column" in bad.stderr
    assert not (home / "queries.db").exists() or not db_rows(
        home / "queries.db", "SELECT 1 FROM queries"
    )
    plain = run_cli(["--headless", "load", "--file", str(path), "--json"], cli_env)
    assert plain.returncode == 0, plain.stderr
    assert {r[0] for r in db_rows(home / "queries.db", "SELECT label FROM queries")} == {None}


def test_numeric_labels_are_one_class_whatever_their_type(tmp_path, cli_env, home) -> None:
    rows = [{"id": "a", "text": "how do I sort a list", "y": 3},
            {"id": "b", "text": "what is inflation", "y": 3.0},
            {"id": "c", "text": "who won the cup", "y": None}]  # fmt: skip
    path = write_jsonl(tmp_path / "n.jsonl", rows)
    out = run_cli(["--headless", "load", "--file", str(path), "--label-column", "y"], cli_env)
    assert out.returncode == 0, out.stderr
    got = dict(db_rows(home / "queries.db", "SELECT conversation_id, label FROM queries"))
    assert got == {"a": "3", "b": "3", "c": None}


def test_v3_store_gains_the_label_column(home) -> None:
    db = home / "queries.db"
    open_store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO datasets (label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES ('old', 'file', 'done', 1, '{}', 'x', 'x')"
    )
    conn.execute("INSERT INTO queries (dataset_id, conversation_id, query_text, text_hash,"
                 " created_at) VALUES (1, 'q1', 'hello there', 'h', 'x')")  # fmt: skip
    conn.execute("ALTER TABLE queries DROP COLUMN label")  # the store as v3 made it
    conn.execute("UPDATE schema_info SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert schema.ensure_current(db) == 3
    assert schema.read_version(db) == schema.SCHEMA_VERSION
    assert db_rows(db, "SELECT conversation_id, label FROM queries") == [("q1", None)]
    assert (home / "queries.db.bak-v3").exists()
