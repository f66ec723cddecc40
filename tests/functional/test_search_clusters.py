"""`search-cluster`: one summary pass at a time, top-k always k, and before any summary the
cluster centroids and keywords."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from search_fixtures import BACKEND, Seed, private_copy

from lmsys_tui.core.search import ClusterSearch, Searcher
from lmsys_tui.errors import NotFoundError


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """A copy with a second summary pass whose titles differ from the first one's."""
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    seed = private_copy(tmp_path_factory.mktemp("clusters") / "home", with_chroma=False)
    store = open_store(seed.db)
    try:
        second = run_summarize(store, seed.run_id, SummarizeOptions(alias="second"))
    finally:
        store.close()
    conn = sqlite3.connect(seed.db)
    conn.execute(  # as another model would have named them
        "UPDATE cluster_summaries SET title = 'B: ' || title WHERE summary_run_id = ?",
        (second.summary_run_id,),
    )
    conn.commit()
    conn.close()
    return seed


@pytest.fixture(scope="module")
def searcher(seed: Seed):  # type: ignore[no-untyped-def]
    with Searcher(seed.db, backend=BACKEND) as s:
        yield s


def _sql(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _clusters(seed: Seed, run_id: str) -> int:
    return _sql(
        seed.db, "SELECT COUNT(*) FROM clusters WHERE run_id = ? AND cluster_id >= 0", (run_id,)
    )[0][0]


def test_the_pass_filter_is_inside_the_query(seed: Seed, searcher: Searcher) -> None:
    n = _clusters(seed, seed.run_id)
    passes = _sql(
        seed.db,
        "SELECT summary_run_id, alias FROM summary_runs WHERE run_id = ? ORDER BY created_at",
        (seed.run_id,),
    )
    assert len(passes) == 2
    for srid, alias in passes:
        titles = dict(
            _sql(
                seed.db,
                "SELECT cluster_id, title FROM cluster_summaries WHERE summary_run_id = ?",
                (srid,),
            )
        )
        for req in (
            ClusterSearch(text="code", run_id=seed.run_id, summary_run_id=srid, top_k=n),
            ClusterSearch(text="code", run_id=seed.run_id, alias=alias, top_k=n),
        ):
            got = searcher.search_clusters(req)
            assert got.summary_run_id == srid and got.source == "summaries"
            assert len(got.hits) == n  # top-k is k: nothing of the other pass crowds it out
            assert {h.title for h in got.hits} == set(titles.values())
            assert sorted(h.cluster_id for h in got.hits) == sorted(titles)
    newest = searcher.search_clusters(ClusterSearch(text="code", run_id=seed.run_id, top_k=3))
    assert newest.summary_run_id == passes[-1][0]
    assert all(h.title.startswith("B: ") for h in newest.hits)


def test_a_summary_ranks_its_own_cluster_first(seed: Seed, searcher: Searcher) -> None:
    srid, cid, title, desc = _sql(
        seed.db,
        "SELECT summary_run_id, cluster_id, title, description FROM cluster_summaries"
        " WHERE run_id = ? ORDER BY summary_run_id, cluster_id LIMIT 1",
        (seed.run_id,),
    )[0]
    got = searcher.search_clusters(
        ClusterSearch(text=f"{title}\n{desc}", run_id=seed.run_id, summary_run_id=srid, top_k=3)
    )
    assert got.hits[0].cluster_id == cid and got.hits[0].distance < 0.01
    sizes = dict(_sql(seed.db, "SELECT cluster_id, size FROM clusters WHERE run_id = ?",
                      (seed.run_id,)))  # fmt: skip
    assert all(h.num_queries == sizes[h.cluster_id] for h in got.hits)


def test_before_any_summary_centroids_and_keywords(seed: Seed, searcher: Searcher) -> None:
    run = seed.bare_run_id
    assert not _sql(seed.db, "SELECT 1 FROM cluster_summaries WHERE run_id = ?", (run,))
    rows = _sql(
        seed.db,
        "SELECT cluster_id, keywords FROM clusters WHERE run_id = ? AND cluster_id >= 0"
        " ORDER BY size DESC",
        (run,),
    )
    n = len(rows)
    got = searcher.search_clusters(ClusterSearch(text="anything", run_id=run, top_k=n + 5))
    assert got.source == "centroids" and got.summary_run_id is None
    assert len(got.hits) == n and all(h.cluster_id != -1 for h in got.hits)  # noise is no topic
    cid, keywords = rows[0]
    words = json.loads(keywords)
    got = searcher.search_clusters(ClusterSearch(text=", ".join(words), run_id=run, top_k=3))
    assert got.hits[0].cluster_id == cid
    assert got.hits[0].title == ", ".join(words[:5]) and got.hits[0].description is None
    distances = [h.distance for h in got.hits]
    assert distances == sorted(distances)


def test_summary_vectors_are_embedded_once(seed: Seed, searcher: Searcher) -> None:
    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    searcher.search_clusters(ClusterSearch(text="first", run_id=seed.run_id))
    with EmbeddingStore(embeddings_path(seed.db)) as store:
        before = store.count(store.find_space(resolve_space()))
    searcher.search_clusters(ClusterSearch(text="second", run_id=seed.run_id))
    with EmbeddingStore(embeddings_path(seed.db)) as store:
        assert store.count(store.find_space(resolve_space())) == before


def test_unknown_pass_or_alias_is_not_found(seed: Seed, searcher: Searcher) -> None:
    with pytest.raises(NotFoundError, match="alias"):
        searcher.search_clusters(ClusterSearch(text="x", run_id=seed.run_id, alias="nope"))
    with pytest.raises(NotFoundError, match="summary pass"):
        searcher.search_clusters(ClusterSearch(text="x", run_id=seed.run_id, summary_run_id="nope"))
