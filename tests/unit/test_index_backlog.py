"""Indexes built after a load (schema v8): the marker's invariant under every kind of write, the
same store as a load that keeps them up row by row, and a v7 store migrated to the new triggers.

The invariant checked throughout: the keyword index holds exactly the stored queries below the
marker's from_id (FTS5's own integrity check, given the content table, fails otherwise).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_store_schema import GOLDEN_SCHEMA, schema_dump

from lmsys_tui.core import load
from lmsys_tui.core.load import run_load
from lmsys_tui.core.search import filters as flt
from lmsys_tui.core.search import keyword
from lmsys_tui.core.sources.base import BadReason, BadRow, Conversation, Item, SourceInfo
from lmsys_tui.core.store import index_backlog, schema
from lmsys_tui.core.store.db import open_store
from lmsys_tui.errors import Cancelled

INFO = SourceInfo("file", None, "backlog-test", detect_language=False)
WORDS = ("llama", "alpaca", "rust", "python", "bread", "tax", "poem", "sql")


def _conversations(n: int, start: int = 0, tag: str = "") -> list[Conversation]:
    return [
        Conversation(
            conversation_id=f"c{i}",
            text=f"question {i} about {WORDS[i % len(WORDS)]} {tag}".strip(),
            language=("English", "German")[i % 2],
            model=("gpt-4", "vicuna")[i % 3 == 0],
        )
        for i in range(start, start + n)
    ]


def _integrity(conn: sqlite3.Connection, *, against_content: bool = True) -> None:
    """FTS5's check of its own structure; `against_content`: and that it indexes exactly the
    content table (which it does not, by design, while a backlog is open)."""
    fts = schema.FTS_TABLE
    rank = ", 1" if against_content else ""
    conn.execute(
        f"INSERT INTO {fts}({fts}{', rank' if rank else ''}) VALUES ('integrity-check'{rank})"
    )


def _indexed_ids(conn: sqlite3.Connection) -> set[int]:
    return {r[0] for r in conn.execute(f"SELECT rowid FROM {schema.FTS_TABLE}_docsize")}


def _below_marker(conn: sqlite3.Connection) -> set[int]:
    start = index_backlog.from_id(conn)
    bound = start if start is not None else 2**62
    return {r[0] for r in conn.execute("SELECT id FROM queries WHERE id < ?", (bound,))}


def _behind(conn: sqlite3.Connection) -> int:
    """Stored queries the keyword index does not hold yet (those at or above the marker)."""
    start = index_backlog.from_id(conn)
    if start is None:
        return 0
    return conn.execute("SELECT COUNT(*) FROM queries WHERE id >= ?", (start,)).fetchone()[0]


def _query_indexes(conn: sqlite3.Connection) -> set[str]:
    return {r[1] for r in conn.execute("PRAGMA index_list('queries')")} & set(schema.QUERY_INDEXES)


def _matches(conn: sqlite3.Connection, text: str) -> set[str]:
    ids = [i for i, _ in keyword.ranked(conn, text, flt.Filters(), 10_000)]
    marks = ",".join("?" * len(ids))
    sql = f"SELECT conversation_id FROM queries WHERE id IN ({marks})"
    return {r[0] for r in conn.execute(sql, ids)}


def test_query_index_ddl_is_what_a_new_store_has(home: Path) -> None:
    """finish() builds the indexes a new store gets from the models, to the letter."""
    db = home / "queries.db"
    open_store(db).close()
    conn = sqlite3.connect(db)
    made = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    conn.close()
    assert {n: made[n] for n in schema.QUERY_INDEXES} == {
        n: sql.replace(" IF NOT EXISTS", "") for n, sql in schema.QUERY_INDEXES.items()
    }


def test_marker_invariant_holds_under_inserts_updates_and_deletes(home: Path) -> None:
    """Other writers while a backlog is open: rows below the marker stay indexed by the
    triggers, rows at or above it wait, and finish() leaves the index exact."""
    db = home / "queries.db"
    store = open_store(db)
    run_load(store, iter(_conversations(40)), INFO, build_indexes="during")
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)
    start = index_backlog.begin(conn)
    assert start == 41 and _query_indexes(conn) == set()
    assert index_backlog.begin(conn) == start  # a second begin keeps the lower marker
    conn.execute("BEGIN")
    conn.execute(  # new rows: skipped by the insert trigger
        "INSERT INTO queries (dataset_id, conversation_id, query_text, text_hash, created_at)"
        " SELECT 1, 'n' || value, 'fresh llama question ' || value, 'h', '2026' FROM"
        " json_each('[1,2,3,4,5]')"
    )
    conn.execute("UPDATE queries SET query_text = 'now about zebras' WHERE id IN (3, 42)")
    conn.execute("DELETE FROM queries WHERE id IN (5, 43)")
    conn.execute("COMMIT")
    assert _indexed_ids(conn) == _below_marker(conn)
    _integrity(conn, against_content=False)
    assert _behind(conn) == 4  # 41..45 less the deleted 43
    assert "c2" in _matches(conn, "zebras") and "n2" not in _matches(conn, "zebras")
    conn.execute("BEGIN")
    assert index_backlog.catch_up(conn.cursor()) == 4
    conn.execute("COMMIT")
    assert _behind(conn) == 0 and _indexed_ids(conn) == _below_marker(conn)
    assert _matches(conn, "zebras") == {"c2", "n2"}
    assert index_backlog.finish(conn) == 0
    assert index_backlog.from_id(conn) is None
    assert _query_indexes(conn) == set(schema.QUERY_INDEXES)
    _integrity(conn)
    assert index_backlog.finish(conn) == 0  # nothing owed: nothing done
    conn.close()


def _store_of(home: Path, name: str, items: list[Conversation], mode: str) -> Path:
    db = home / f"{name}.db"
    store = open_store(db)
    try:
        summary = run_load(store, iter(items), INFO, batch_size=7, build_indexes=mode)
    finally:
        store.close()
    assert summary.indexes == mode and summary.loaded == len(items)
    return db


def _content(db: Path) -> tuple[object, ...]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT id, conversation_id, query_text, text_hash, model, language FROM queries"
            " ORDER BY id"
        ).fetchall()
        found = tuple(sorted(_matches(conn, w)) for w in WORDS)
        _integrity(conn)
        assert index_backlog.from_id(conn) is None
        assert _query_indexes(conn) == set(schema.QUERY_INDEXES)
    finally:
        conn.close()
    return rows, found


def test_after_gives_the_store_that_during_gives(home: Path) -> None:
    items = _conversations(60)
    during = _store_of(home, "during", items, "during")
    after = _store_of(home, "after", items, "after")
    assert _content(after) == _content(during)
    assert schema_dump(after) == schema_dump(during)


def test_auto_builds_after_only_for_a_load_no_smaller_than_the_store(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "AUTO_AFTER_ROWS", 20)
    info = SourceInfo("file", None, "auto", detect_language=False, total=30)
    store = open_store(home / "queries.db")
    try:
        small = SourceInfo("file", None, "auto", detect_language=False, total=10)
        assert run_load(store, iter(_conversations(10)), small).indexes == "during"
        assert run_load(store, iter(_conversations(30, 10)), info).indexes == "after"
        # 30 rows into a store of 40: rebuilding every index would cost more than it saves
        assert run_load(store, iter(_conversations(30, 40)), info).indexes == "during"
    finally:
        store.close()
    conn = sqlite3.connect(home / "queries.db")
    assert _indexed_ids(conn) == _below_marker(conn) and len(_indexed_ids(conn)) == 70
    conn.close()


def test_auto_switches_to_after_when_a_source_of_unknown_size_turns_out_big(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No total up front (JSONL, CSV): the first rows keep the indexes up, the rest go in with
    the backlog once the load has passed the threshold; the store is the one `during` makes."""
    monkeypatch.setattr(load, "AUTO_AFTER_ROWS", 20)
    unknown = SourceInfo("file", None, "unknown", detect_language=False)
    items = _conversations(55)
    db = home / "switched.db"
    store = open_store(db)
    seen: list[bool] = []
    real_begin = index_backlog.begin

    def begin(conn: object) -> int:
        seen.append(True)
        start = real_begin(conn)
        assert start == 21  # after the second batch of 10 reached the threshold
        return start

    monkeypatch.setattr(index_backlog, "begin", begin)
    try:
        summary = run_load(store, iter(items), unknown, batch_size=10)
        small = run_load(store, iter(_conversations(15, 100)), unknown, batch_size=10)
    finally:
        store.close()
    assert summary.indexes == "after" and seen == [True]
    assert small.indexes == "during"  # 15 rows into a store of 55: never
    during = _store_of(home, "during", [*items, *_conversations(15, 100)], "during")
    assert _content(db) == _content(during)


def _failing(items: list[Conversation], after: int, error: BaseException) -> Iterator[Item]:
    for i, item in enumerate(items):
        if i == after:
            raise error
        yield item
        if i == 2:
            yield BadRow(BadReason.EMPTY_TEXT, "row 2b")


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError("the disk went away")])
def test_a_load_that_stops_still_builds_its_indexes(home: Path, error: BaseException) -> None:
    """Ctrl-C or a failing source: the committed batches are kept and indexed in full."""
    db = home / "queries.db"
    store = open_store(db)
    try:
        with pytest.raises(Cancelled if isinstance(error, KeyboardInterrupt) else OSError):
            run_load(
                store, _failing(_conversations(50), 33, error), INFO, batch_size=10,
                build_indexes="after",
            )  # fmt: skip
    finally:
        store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0] == 29  # 3 batches
    assert index_backlog.from_id(conn) is None
    assert _query_indexes(conn) == set(schema.QUERY_INDEXES)
    assert len(_indexed_ids(conn)) == 29
    _integrity(conn)
    conn.close()


def test_a_backlog_left_behind_is_carried_on_and_finished_by_the_next_load(home: Path) -> None:
    """As after a kill: the marker stays and the indexes are gone; keyword search still finds
    every committed row; the next load (of any size) carries the backlog on and finishes it."""
    db = home / "queries.db"
    store = open_store(db)
    run_load(store, iter(_conversations(25)), INFO, build_indexes="during")
    conn = sqlite3.connect(db, isolation_level=None)
    index_backlog.begin(conn)  # what a killed `--build-indexes after` load leaves
    assert _matches(conn, "llama") == {"c0", "c8", "c16", "c24"}
    summary = run_load(store, iter(_conversations(5, 25)), INFO, build_indexes="during")
    store.close()
    assert summary.indexes == "after" and summary.index_seconds > 0
    assert index_backlog.from_id(conn) is None
    assert _query_indexes(conn) == set(schema.QUERY_INDEXES)
    assert _indexed_ids(conn) == _below_marker(conn) and len(_indexed_ids(conn)) == 30
    _integrity(conn)
    conn.close()


def _as_v7(db: Path) -> None:
    """Rewrite a new store into what schema v7 made: no backlog table, unconditional triggers."""
    fts = schema.FTS_TABLE
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(f"DROP TABLE {schema.BACKLOG_TABLE}")
    for suffix in ("ai", "ad", "au"):
        conn.execute(f"DROP TRIGGER {fts}_{suffix}")
    conn.execute(
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON queries BEGIN"
        f" INSERT INTO {fts}(rowid, query_text) VALUES (new.id, new.query_text); END"
    )
    conn.execute(
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON queries BEGIN INSERT INTO {fts}({fts},"
        " rowid, query_text) VALUES ('delete', old.id, old.query_text); END"
    )
    conn.execute(
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF query_text ON queries BEGIN INSERT INTO"
        f" {fts}({fts}, rowid, query_text) VALUES ('delete', old.id, old.query_text);"
        f" INSERT INTO {fts}(rowid, query_text) VALUES (new.id, new.query_text); END"
    )
    conn.execute("UPDATE schema_info SET value = '7' WHERE key = ?", (schema.VERSION_KEY,))
    conn.execute("COMMIT")
    conn.close()


def test_a_v7_store_migrates_to_the_new_triggers_and_keeps_its_index(home: Path) -> None:
    db = home / "queries.db"
    store = open_store(db)
    run_load(store, iter(_conversations(12)), INFO)
    store.close()
    _as_v7(db)
    assert schema.read_version(db) == 7
    conn = sqlite3.connect(db)
    assert index_backlog.from_id(conn) is None  # (no table yet: no backlog)
    conn.close()
    store = open_store(db)
    run_load(store, iter(_conversations(8, 12)), INFO, build_indexes="after")
    store.close()
    assert schema.read_version(db) == schema.SCHEMA_VERSION
    assert schema_dump(db) == GOLDEN_SCHEMA.read_text(encoding="utf-8")
    conn = sqlite3.connect(db)
    assert len(_indexed_ids(conn)) == 20
    _integrity(conn)
    conn.close()
