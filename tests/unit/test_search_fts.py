"""The keyword index (schema v2): new stores have it, v1 stores migrate into it, load keeps it
in sync (the raw INSERT ... ON CONFLICT path included), and keyword search reads it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lmsys_tui.core.load import run_load
from lmsys_tui.core.search import filters as flt
from lmsys_tui.core.search import keyword
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store import fts, schema
from lmsys_tui.core.store.db import open_store
from lmsys_tui.errors import UsageError

INFO = SourceInfo("file", None, "fts-test", detect_language=False)


def _items(texts: dict[str, str]) -> list[Conversation]:
    return [
        Conversation(conversation_id=cid, text=t, language="English") for cid, t in texts.items()
    ]


def _matches(db: Path, text: str) -> set[int]:
    conn = sqlite3.connect(db)
    try:
        return {i for i, _ in keyword.ranked(conn, text, flt.Filters(), 100)}
    finally:
        conn.close()


def _ids(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {c: i for i, c in conn.execute("SELECT id, conversation_id FROM queries")}
    finally:
        conn.close()


def _integrity(db: Path) -> None:
    """FTS5 raises if the index disagrees with its content table."""
    conn = sqlite3.connect(db)
    try:
        fts = schema.FTS_TABLE
        conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_new_store_indexes_what_load_writes(home: Path) -> None:
    db = home / "queries.db"
    store = open_store(db)
    run_load(
        store,
        iter(_items({"a": "How do I bake sourdough bread?", "b": "Fix my Rust borrow"})),
        INFO,
    )
    store.close()
    ids = _ids(db)
    assert _matches(db, "sourdough") == {ids["a"]}
    assert _matches(db, "borrow rust") == {ids["b"]}  # AND of words, any order, any case
    assert _matches(db, "sourdough rust") == set()
    _integrity(db)


def test_force_reload_upsert_keeps_the_index_in_sync(home: Path) -> None:
    db = home / "queries.db"
    store = open_store(db)
    run_load(store, iter(_items({"a": "tell me about volcanoes", "b": "kept as it is"})), INFO)
    # the load stage's ON CONFLICT ... DO UPDATE path: the update trigger must move the index
    run_load(store, iter(_items({"a": "tell me about glaciers"})), INFO, force_reload=True)
    store.close()
    ids = _ids(db)
    assert _matches(db, "volcanoes") == set()
    assert _matches(db, "glaciers") == {ids["a"]}
    assert _matches(db, "kept") == {ids["b"]}
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM queries WHERE id = ?", (ids["b"],))
    conn.commit()
    conn.close()
    assert _matches(db, "kept") == set()
    _integrity(db)


def _v1_store(db: Path) -> None:
    """A store as version 1 wrote it: every table, no search index, rows already in it."""
    from sqlmodel import SQLModel, create_engine

    from lmsys_tui.core.store import models  # noqa: F401 - registers the tables

    engine = create_engine(f"sqlite:///{db}")
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_info (key, value) VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO datasets (id, label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES (1, 'old', 'file', 'done', 2, '{}', '2025-01-01', '2025-01-01')"
    )
    for i, text in ((1, "an old question about llamas"), (2, "another about alpacas")):
        conn.execute(
            "INSERT INTO queries (id, dataset_id, conversation_id, query_text, text_hash,"
            " created_at) VALUES (?, 1, ?, ?, 'h', '2025-01-01')",
            (i, f"c{i}", text),
        )
    conn.commit()
    conn.close()


def test_v1_store_migrates_and_its_rows_become_searchable(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    db = home / "queries.db"
    _v1_store(db)
    assert schema.read_version(db) == 1
    with pytest.raises(UsageError, match="no keyword index"):  # none before the migration
        _matches(db, "llamas")
    store = open_store(db)
    assert schema.read_version(db) == schema.SCHEMA_VERSION
    assert (home / "queries.db.bak-v1").exists()
    assert _matches(db, "llamas") == {1}
    assert _matches(db, "alpacas") == {2}
    # rows written after the migration are indexed by the triggers it created
    run_load(store, iter(_items({"new": "a brand new question about llamas"})), INFO)
    store.close()
    assert len(_matches(db, "llamas")) == 2
    conn = sqlite3.connect(db)
    indexes = {r[1] for r in conn.execute("PRAGMA index_list('queries')")}
    conn.close()
    assert {"ix_queries_language", "ix_queries_model"} <= indexes
    _integrity(db)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C++ templates", '"C++" "templates"'),
        ('say "exact phrase here" please', '"exact phrase here" "say" "please"'),
        ("prefix*", '"prefix"*'),
        ('NEAR( AND OR "unbalanced', '"NEAR(" "AND" "OR" "unbalanced"'),
    ],
)
def test_user_text_is_never_fts_syntax(text: str, expected: str) -> None:
    assert fts.fts_query(text) == expected


def test_operators_and_quotes_in_text_search_as_words(home: Path) -> None:
    db = home / "queries.db"
    store = open_store(db)
    run_load(
        store,
        iter(_items({"a": 'use AND or NOT in "SQL" queries', "b": "C++ templates explained"})),
        INFO,
    )
    store.close()
    ids = _ids(db)
    assert _matches(db, "AND NOT") == {ids["a"]}
    assert _matches(db, '"templates explained"') == {ids["b"]}
    assert _matches(db, '"explained templates"') == set()  # a phrase keeps its word order
    assert _matches(db, "templ*") == {ids["b"]}
    with pytest.raises(UsageError, match="nothing to search for"):
        fts.fts_query("?! ...")
