"""Keyword search keeps to the run it is asked about, counts every match per cluster, and a
newer search can abort an older one.

Real store (the shared search seed, copied), the real load stage and the real FTS5 index.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from search_fixtures import BACKEND, private_copy

from lmsys_tui.core.load import run_load
from lmsys_tui.core.search import QuerySearch, Searcher
from lmsys_tui.core.search import searcher as searcher_module
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store.db import open_store
from lmsys_tui.errors import Cancelled

WORD = "zebraphone"  # in no ShareGPT first turn


def test_a_run_over_part_of_the_store_keeps_keyword_hits_to_its_members(tmp_path: Path) -> None:
    seed = private_copy(tmp_path / "home", with_chroma=False)
    with Searcher(seed.db, backend=BACKEND) as searcher:
        before = searcher.search_queries(
            QuerySearch("python", run_id=seed.run_id, mode="keyword", n_results=5)
        )
    store = open_store(seed.db)
    try:  # queries loaded after the run: in the store, not in the run
        extra = [Conversation(f"late-{i}", f"python {WORD} question {i}") for i in range(30)]
        info = SourceInfo(source="file", ref="late", default_label="late", detect_language=False)
        run_load(store, iter(extra), info)
    finally:
        store.close()
    with Searcher(seed.db, backend=BACKEND) as searcher:
        in_run = searcher.search_queries(
            QuerySearch(WORD, run_id=seed.run_id, mode="keyword", n_results=50)
        )
        everywhere = searcher.search_queries(QuerySearch(WORD, mode="keyword", n_results=50))
        python_in_run = searcher.search_queries(
            QuerySearch("python", run_id=seed.run_id, mode="keyword", n_results=5)
        )
        counts = searcher.keyword_counts("python", seed.run_id)
        assert searcher.keyword_counts(WORD, seed.run_id) == {}
    conn = sqlite3.connect(seed.db)
    try:
        expected = dict(
            conn.execute(
                "SELECT qc.cluster_id, COUNT(*) FROM queries_fts f JOIN query_clusters qc"
                " ON qc.query_id = f.rowid AND qc.run_id = ? WHERE queries_fts MATCH 'python'"
                " GROUP BY qc.cluster_id",
                (seed.run_id,),
            ).fetchall()
        )
    finally:
        conn.close()
    assert counts == expected and len(counts) > 1
    assert in_run.hits == [] and in_run.matched is not None and in_run.matched.size == 0
    assert len(everywhere.hits) == 30 and everywhere.matched.size == 30
    assert python_in_run.matched.size == before.matched.size > 0  # the late rows not counted
    assert sum(counts.values()) == before.matched.size
    assert [h.query_id for h in python_in_run.hits] == [h.query_id for h in before.hits]


def test_interrupt_aborts_the_running_statement_as_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = private_copy(tmp_path / "home", with_chroma=False)
    running = threading.Event()

    def slow_ranking(conn, text, filters, limit):  # type: ignore[no-untyped-def]
        # stands in for ranking a million keyword matches: runs until interrupted
        running.set()
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        ).fetchall()
        return []

    monkeypatch.setattr(searcher_module.keyword, "ranked", slow_ranking)
    outcome: list[BaseException] = []
    with Searcher(seed.db, backend=BACKEND) as searcher:

        def search() -> None:
            try:
                searcher.search_queries(QuerySearch("python", run_id=seed.run_id, mode="keyword"))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=search)
        thread.start()
        assert running.wait(30)
        for _ in range(600):  # until the statement has started and is aborted
            searcher.interrupt()
            thread.join(0.05)
            if not thread.is_alive():
                break
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
        monkeypatch.undo()
        # the searcher is still usable afterwards
        again = searcher.search_queries(QuerySearch("python", run_id=seed.run_id, mode="keyword"))
        assert again.hits
