"""The memory-mapped copy of a space's vectors (core/store/embedding_cache.py) is never stale.

A real store (the load stage, the real embedding store, SQLite files in a temp home); vectors are
random unit vectors of a small test space, so no model runs. After every kind of change that
moves vectors or texts (new vectors, a text replaced by a load, the store made anew at the same
path) a search ranks exactly what a fresh read of the segments gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lmsys_tui.core.embed.space import Space
from lmsys_tui.core.embed.stage import load_vectors
from lmsys_tui.core.load import run_load
from lmsys_tui.core.search.semantic import ExactRanker, Rows, VectorCache, load_population
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store.db import Store
from lmsys_tui.core.store.embedding_cache import cache_dir, open_cache
from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
from lmsys_tui.core.text import text_hash

SPACE = Space("sentence-transformers", "cache-test", 8)
RNG = np.random.default_rng(7)


def _load(store: Any, texts: dict[str, str], *, replace: bool = False) -> None:
    items = [Conversation(conversation_id=cid, text=t) for cid, t in texts.items()]
    info = SourceInfo("file", None, "t", total=len(items), detect_language=False)
    run_load(store, iter(items), info, force_reload=replace)


def _embed(db: Path, texts: list[str]) -> None:
    """Store a random unit vector for each text (one segment, as the embedding stage does)."""
    vecs = RNG.normal(size=(len(texts), SPACE.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with EmbeddingStore(embeddings_path(db)) as store:
        store.put(store.ensure_space(SPACE), [text_hash(t) for t in texts], vecs)


def _fresh(db: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every query's vector read from the segments (no cached copy involved)."""
    import shutil

    shutil.rmtree(cache_dir(embeddings_path(db)), ignore_errors=True)
    return load_vectors(Store.read_only(db), SPACE)


def _rank(db: Path, qvec: np.ndarray, allowed: np.ndarray | None = None) -> list[int]:
    """What a one-shot search ranks (a new process: a new cache, the exact engine)."""
    ranker = ExactRanker(VectorCache(db), keep_full=False)
    got = ranker.rank(SPACE, qvec, 5, "key", allowed)
    ranker.cache.close()
    return got.ids.tolist()


def _same_as_fresh(db: Path) -> None:
    ids, matrix = load_population(db, SPACE, None)
    assert isinstance(matrix, Rows)  # served from the mapped copy
    copied_ids, copied = load_vectors(Store.read_only(db), SPACE)  # gathered from the copy
    fresh_ids, fresh = _fresh(db)
    assert ids.tolist() == fresh_ids.tolist() == copied_ids.tolist()
    np.testing.assert_array_equal(copied, fresh)
    for q in RNG.normal(size=(5, SPACE.dim)).astype(np.float32):
        np.testing.assert_allclose(matrix @ q, fresh @ q, rtol=1e-6, atol=1e-6)
    # the first search after the fresh read above builds the copy again, the second reuses it
    qvec = fresh[0]
    expected = fresh_ids[np.argsort(-(fresh @ qvec), kind="stable")[:5]].tolist()
    assert _rank(db, qvec) == expected
    assert _rank(db, qvec) == expected


@pytest.fixture
def db(store: Any) -> Path:
    texts = {f"c{i}": f"query number {i}" for i in range(40)}
    texts["dup"] = "query number 3"  # the same text twice: one vector, two queries
    texts["empty"] = ""  # no vector, never ranked
    _load(store, texts)
    _embed(store.path, [f"query number {i}" for i in range(40)])
    return Path(store.path)


def test_the_copy_is_made_once_and_reused(db: Path) -> None:
    ids, matrix = load_population(db, SPACE, None)
    assert len(ids) == 41 and isinstance(matrix, Rows)
    files = sorted(p.name for p in cache_dir(embeddings_path(db)).iterdir())
    assert len(files) == 2 and all(f.startswith("space-1-") for f in files)
    with EmbeddingStore(embeddings_path(db)) as store:
        again = open_cache(store, 1, SPACE.dim, build=False)
    assert again is not None and isinstance(again.vectors, np.memmap)
    _same_as_fresh(db)


def test_new_vectors_are_never_missed(db: Path, store: Any) -> None:
    load_population(db, SPACE, None)  # the copy of the first state
    before = sorted(cache_dir(embeddings_path(db)).iterdir())
    _load(store, {f"n{i}": f"new text {i}" for i in range(10)})
    # loaded but not embedded: left out of the ranking, as without the copy
    assert len(load_population(db, SPACE, None)[0]) == 41
    _embed(db, [f"new text {i}" for i in range(10)])
    _same_as_fresh(db)
    after = sorted(cache_dir(embeddings_path(db)).iterdir())
    assert len(load_population(db, SPACE, None)[0]) == 51
    assert not set(before) & set(after)  # the stale copy is gone, not just unused


def test_a_replaced_text_ranks_with_its_new_vector(db: Path, store: Any) -> None:
    load_population(db, SPACE, None)
    _load(store, {"c5": "a different text now"}, replace=True)
    _embed(db, ["a different text now"])
    _same_as_fresh(db)
    # a text replaced but not yet embedded drops out instead of keeping its old vector
    _load(store, {"c6": "not embedded yet"}, replace=True)
    ids, _ = load_population(db, SPACE, None)
    assert 7 not in ids.tolist()  # c6 is query id 7


def test_a_store_made_anew_at_the_same_path_is_never_served_the_old_copy(db: Path) -> None:
    load_population(db, SPACE, None)
    epath = embeddings_path(db)
    for path in (epath, epath.with_name(epath.name + "-wal"), epath.with_name(epath.name + "-shm")):
        path.unlink(missing_ok=True)  # a new file: its segment ids start at 1 again
    _embed(db, [f"query number {i}" for i in range(40)])  # new random vectors, segment 1 again
    _same_as_fresh(db)


def test_a_filtered_population_reads_its_rows_from_the_copy(db: Path) -> None:
    load_population(db, SPACE, None)
    allowed = np.array([2, 4, 41, 42], dtype=np.int64)  # 42: the empty text, no vector
    ids, matrix = load_population(db, SPACE, allowed)
    assert ids.tolist() == [2, 4, 41] and isinstance(matrix, Rows)
    fresh_ids, fresh = _fresh(db)
    assert fresh_ids[[1, 3, 40]].tolist() == [2, 4, 41]
    q = fresh[1]
    np.testing.assert_allclose(matrix @ q, fresh[[1, 3, 40]] @ q, rtol=1e-6)


def test_no_copy_is_made_for_a_few_rows(db: Path) -> None:
    ids, matrix = load_population(db, SPACE, np.array([1, 2], dtype=np.int64))
    assert ids.tolist() == [1, 2] and isinstance(matrix, np.ndarray)
    assert not cache_dir(embeddings_path(db)).exists()


def test_clear_removes_the_copies_with_the_vectors(db: Path, home: Path) -> None:
    from lmsys_tui.core.delete import clear_store

    load_population(db, SPACE, None)
    folder = cache_dir(embeddings_path(db))
    clear_store(db, home / "chroma", keep_embeddings=True)
    assert folder.is_dir()  # kept vectors keep their (still current) copy
    assert str(folder) in clear_store(db, home / "chroma")
    assert not folder.exists()
