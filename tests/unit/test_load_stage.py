"""The load stage on the real ShareGPT data: dedup, reload, force-reload, cancel and resume."""

from __future__ import annotations

import sqlite3
from itertools import islice

import pytest

from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources import sharegpt
from lmsys_tui.core.sources.base import BadReason, BadRow, Conversation, SourceInfo
from lmsys_tui.core.text import text_hash
from lmsys_tui.errors import Cancelled

INFO = sharegpt.info()


def _good_in_first(n: int) -> int:
    """Conversations among the first n items the real reader yields (the rest are bad rows)."""
    return sum(isinstance(item, Conversation) for item in islice(sharegpt.read(), n))


def _count(store, sql: str, *args) -> int:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def test_sharegpt_first_turns_are_stored_with_metadata(store) -> None:
    summary = run_load(store, sharegpt.read(), INFO, limit=1500, batch_size=400)
    assert summary.status == "done"
    assert summary.loaded == 1500
    assert _count(store, "SELECT COUNT(*) FROM queries") == 1500
    assert _count(store, "SELECT COUNT(*) FROM queries WHERE language IS NULL") == 0
    assert _count(store, "SELECT COUNT(DISTINCT language) FROM queries") > 3
    # continuation chunks never start a conversation: ids carry no _N suffix
    assert _count(store, "SELECT COUNT(*) FROM queries WHERE conversation_id GLOB '*_[0-9]*'") == 0
    conn = sqlite3.connect(store.path)
    text, digest = conn.execute("SELECT query_text, text_hash FROM queries LIMIT 1").fetchone()
    assert digest == text_hash(text)
    status, count = conn.execute("SELECT status, query_count FROM datasets").fetchone()
    assert (status, count) == ("done", 1500)


def test_second_load_adds_nothing_and_says_so(store) -> None:
    run_load(store, sharegpt.read(), INFO, limit=600)
    again = run_load(store, sharegpt.read(), INFO, limit=600)
    assert again.loaded == 0
    assert again.duplicates == 600
    assert "nothing new" in again.message
    assert _count(store, "SELECT COUNT(*) FROM queries") == 600


def test_larger_limit_continues_where_the_first_load_stopped(store) -> None:
    run_load(store, sharegpt.read(), INFO, limit=500)
    more = run_load(store, sharegpt.read(), INFO, limit=1200)
    assert (more.loaded, more.duplicates) == (700, 500)
    assert _count(store, "SELECT COUNT(*) FROM queries") == 1200


def test_force_reload_replaces_in_place(store) -> None:
    items = [Conversation(f"c{i}", f"question number {i}", model="m1") for i in range(50)]
    info = SourceInfo(source="file", ref="t", default_label="t", detect_language=False)
    run_load(store, iter(items), info)
    ids_before = _count(store, "SELECT SUM(id) FROM queries")
    changed = [Conversation(f"c{i}", f"reworded {i}", model="m2") for i in range(50)]
    summary = run_load(store, iter(changed), info, force_reload=True)
    assert (summary.loaded, summary.replaced) == (0, 50)
    assert _count(store, "SELECT SUM(id) FROM queries") == ids_before
    assert _count(store, "SELECT COUNT(*) FROM queries WHERE model = 'm2'") == 50
    assert _count(store, "SELECT COUNT(*) FROM queries WHERE query_text LIKE 'reworded%'") == 50


def test_duplicate_ids_inside_one_source_are_counted_once(store) -> None:
    items = [Conversation("same", "first"), Conversation("same", "second"), Conversation("x", "y")]
    info = SourceInfo(source="file", ref="t", default_label="t", detect_language=False)
    summary = run_load(store, iter(items), info)
    assert (summary.loaded, summary.duplicates) == (2, 1)


def test_bad_rows_are_counted_and_good_rows_kept(store) -> None:
    items = [
        Conversation("a", "good one"),
        BadRow(BadReason.NUL_BYTES, "row 2"),
        BadRow(BadReason.EMPTY_TEXT, "row 3"),
        BadRow(BadReason.NUL_BYTES, "row 4"),
        Conversation("b", "good two"),
    ]
    info = SourceInfo(source="file", ref="t", default_label="t", detect_language=False)
    summary = run_load(store, iter(items), info, batch_size=2)
    assert summary.loaded == 2
    assert summary.skipped == {"empty_text": 1, "nul_bytes": 2}
    assert summary.skipped_total == 3


def test_cancel_keeps_committed_batches_and_rerun_completes(store) -> None:
    calls = {"n": 0}

    def cancel_after_two_batches() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled, match="run the same command again"):
        run_load(
            store, sharegpt.read(), INFO, limit=1000, batch_size=300,
            cancelled=cancel_after_two_batches,
        )  # fmt: skip
    kept = _good_in_first(600)  # two batches of 300 items were committed
    assert _count(store, "SELECT COUNT(*) FROM queries") == kept
    assert _count(store, "SELECT COUNT(*) FROM datasets WHERE status = 'cancelled'") == 1
    resumed = run_load(store, sharegpt.read(), INFO, limit=1000, batch_size=300)
    assert (resumed.loaded, resumed.duplicates) == (1000 - kept, kept)
    assert _count(store, "SELECT COUNT(*) FROM datasets WHERE status = 'done'") == 1


def test_a_source_that_fails_before_its_first_batch_leaves_no_dataset(store) -> None:
    def broken():
        raise OSError("disk went away")
        yield  # pragma: no cover

    with pytest.raises(OSError):
        run_load(store, broken(), SourceInfo(source="file", ref="t", default_label="t"))
    assert _count(store, "SELECT COUNT(*) FROM datasets") == 0


def test_a_failure_mid_load_keeps_earlier_batches_and_marks_failed(store) -> None:
    def flaky():
        yield from islice(sharegpt.read(), 250)
        raise OSError("read error")

    with pytest.raises(OSError):
        run_load(store, flaky(), INFO, batch_size=100)
    assert _count(store, "SELECT COUNT(*) FROM queries") == _good_in_first(200)
    assert _count(store, "SELECT COUNT(*) FROM datasets WHERE status = 'failed'") == 1
