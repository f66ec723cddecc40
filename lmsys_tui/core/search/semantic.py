"""Semantic ranking inside a population: exact (numpy) or Chroma (HNSW), chosen per query.

Measured here at 100k stored queries (tests/bench/test_search_bench.py): a Chroma query with
a metadata `where` took 112 ms for a 0.5% filter and 636 ms for a 70% one, and an `ids`
allow-list of 500 took 246 ms, while the exact dot product over the filtered subset takes well
under a millisecond and is exact. So filters are never pushed into Chroma:

- `exact`: the population's vectors (rows of the space's memory-mapped copy, see
  store/embedding_cache.py, or read from the embedding store; kept in this process) times
  the query vector; always full top-k, recall 1.0.
- `chroma`: for a large population in a long-lived process, an unfiltered HNSW query over-fetched
  by the inverse of the population's share, kept to the population, and widened until k hits
  survive; when it cannot get there it falls back to exact. Chroma only holds vectors the
  embedding store holds, so both rank the same vectors.

A one-shot process (the headless CLI) always ranks exactly: it would pay Chroma's import (about
1 s here) and its index load on top of reading the same vectors.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import Cancelled, LmsysError
from lmsys_tui.stage import CancelCheck

if TYPE_CHECKING:
    import sqlite3

    import numpy as np

    from lmsys_tui.core.embed.space import Space
    from lmsys_tui.core.store.db import Store

EXACT_MAX = 25_000  # populations up to this size are always ranked exactly
CHROMA_MAX_FETCH = 4_000  # widest unfiltered HNSW fetch before falling back to exact
CACHE_BYTES = 1 << 30  # vectors kept in process across searches (LRU by population)
COUNT_TTL = 10.0  # seconds a Chroma collection's count is trusted
COPY_SHARE = 8  # from 1/8 of the space on, make its mapped copy (reading it costs a full scan)


@dataclass
class Ranked:
    ids: np.ndarray  # int64, nearest first
    distances: np.ndarray  # float32 cosine distances
    engine: str  # exact | chroma
    searched: int  # vectors the population has (queries without a vector cannot be ranked)


def _best(ids: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of (ids, similarities): nearest first, equal similarity -> lower id first."""
    import numpy as np

    n = len(ids)
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
    best = part[np.lexsort((ids[part], -sims[part]))]
    return ids[best], (1.0 - sims[best]).astype(np.float32)


def top_k(ids: np.ndarray, matrix: Any, qvec: np.ndarray, k: int) -> Ranked:
    """Exact cosine top-k (vectors are L2-normalised: distance = 1 - dot)."""
    got, dist = _best(ids, matrix @ qvec if len(ids) else qvec[:0], k)
    return Ranked(got, dist, "exact", len(ids))


class Rows:
    """Some rows of a memory-mapped matrix (a space's cached copy), never copied out whole.

    A population's vectors as the rows of the space's copy that hold them: `@` multiplies the
    whole mapped matrix once and picks the rows' results (no n x dim array is made, so a cold
    process pays neither the copy nor the page faults of fresh memory), or gathers the rows
    first when they are few.
    """

    def __init__(self, base: np.ndarray, rows: np.ndarray) -> None:
        self.base, self.rows = base, rows

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:  # what this process holds: the mapped file is the OS's cache
        return int(self.rows.nbytes)

    def __getitem__(self, pos: Any) -> Rows:
        return Rows(self.base, self.rows[pos])

    def __matmul__(self, qvec: np.ndarray) -> np.ndarray:
        if len(self.rows) * 4 < len(self.base):
            return self.base[self.rows] @ qvec
        return (self.base @ qvec)[self.rows]


def _locate(all_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in sorted `all_ids`, mask of ids found there)."""
    import numpy as np

    if len(all_ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    pos = np.clip(np.searchsorted(all_ids, ids), 0, len(all_ids) - 1)
    return pos, all_ids[pos] == ids


def load_population(store_path: Path, space: Space, ids: np.ndarray | None) -> tuple[Any, Any]:
    """(sorted ids that have a vector, their matrix) from the embedding store, never the model.

    Search ranks what is embedded: queries loaded after the last embedding run are left out
    (and the output's `matched` says how many of the population have a vector).
    """
    import numpy as np

    from lmsys_tui.core.embed import MissingVectorsError, load_vectors
    from lmsys_tui.core.store.db import Store

    store = Store.read_only(store_path)
    wanted = None if ids is None else ids.tolist()
    mapped = _mapped(store, space, wanted)
    if mapped is not None:
        return mapped
    try:
        got_ids, matrix = load_vectors(store, space, wanted)
    except MissingVectorsError:
        got_ids, matrix = load_vectors(store, space, _embedded(store_path, space, wanted))
    if len(got_ids) < 2 or bool((got_ids[1:] > got_ids[:-1]).all()):
        return got_ids, matrix  # already in id order (load_vectors keeps the order asked)
    order = np.argsort(got_ids, kind="stable")
    return got_ids[order], np.ascontiguousarray(matrix[order])


def _mapped(store: Store, space: Space, wanted: list[int] | None) -> tuple[Any, Rows] | None:
    """`load_population` from the space's memory-mapped copy (store/embedding_cache.py), made
    first when the population is a large share of the space; None when there is none."""
    import numpy as np

    from lmsys_tui.core.embed.stage import query_keys
    from lmsys_tui.core.store.embedding_cache import open_cache
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    with EmbeddingStore(embeddings_path(store.path)) as vectors:
        sid = vectors.find_space(space)
        if sid is None:
            return None
        large = wanted is None or len(wanted) * COPY_SHARE >= vectors.count(sid)
        cache = open_cache(vectors, sid, space.dim, build=large)
    if cache is None:
        return None
    ids, keys = query_keys(store, wanted)
    rows = cache.locate(keys)  # empty and unreadable texts have no vector: -1, left out
    keep = rows >= 0
    ids, rows = ids[keep], rows[keep]
    if len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all()):
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
    return ids, Rows(cache.vectors, rows)


def _embedded(store_path: Path, space: Space, ids: list[int] | None) -> list[int]:
    """The ids (of `ids`, or of every query) whose text has a vector in the space."""
    from lmsys_tui.core.store.db import Store
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    with sql.connection(Store.read_only(store_path)) as conn:
        if ids is None:
            rows = sql.tuples(conn, "SELECT id, text_hash FROM queries")
        else:
            rows = sql.tuples(
                conn,
                f"SELECT id, text_hash FROM queries WHERE id {sql.IN_IDS}",
                (sql.id_list(ids),),
            )
    with EmbeddingStore(embeddings_path(store_path)) as store:
        sid = store.find_space(space)
        have = store.stored(sid, {h for _, h in rows}) if sid is not None else set()
    return sorted(int(i) for i, h in rows if h in have)


class VectorCache:
    """Vectors of one store kept in this process until the store changes.

    Entries are (space key, population key) -> (sorted ids, matrix); "*" is every vector of
    the space. Freshness is checked with `PRAGMA data_version` on both SQLite files, which
    changes whenever another connection commits, so a load or an embedding run in another
    process (or a TUI worker) drops stale entries.
    """

    def __init__(self, db_path: Path, max_bytes: int = CACHE_BYTES) -> None:
        from lmsys_tui.core.store.embeddings import embeddings_path

        self.db_path = Path(db_path)
        self.emb_path = embeddings_path(self.db_path)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._token: tuple[int, ...] = ()

    def _version(self) -> tuple[int, ...]:
        if len(self._conns) < 2:  # the embedding store may appear after the first search
            for conn in self._conns:
                conn.close()
            self._conns = [
                sql.open_reader(p, any_thread=True)
                for p in (self.db_path, self.emb_path)
                if p.exists()
            ]
        versions = [sql.data_version(c) for c in self._conns]
        return (*versions, len(self._conns))

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns = []
            self._entries.clear()

    def refresh(self) -> None:
        """Drop everything when either file changed since the last look."""
        with self._lock:
            now = self._version()
            if now != self._token:
                self._entries.clear()
                self._token = now

    def peek(self, space: Space, key: str) -> tuple[Any, Any] | None:
        with self._lock:
            entry = self._entries.get((space.key, key))
            if entry is not None:
                self._entries.move_to_end((space.key, key))
            return entry

    def put(self, space: Space, key: str, entry: tuple[Any, Any]) -> tuple[Any, Any]:
        with self._lock:
            self._entries[(space.key, key)] = entry
            self._entries.move_to_end((space.key, key))
            while len(self._entries) > 1 and self._bytes() > self.max_bytes:
                self._entries.popitem(last=False)
        return entry

    def _bytes(self) -> int:
        return sum(m.nbytes + i.nbytes for i, m in self._entries.values())


class ExactRanker:
    """Exact ranking over the population's vectors (cached between searches)."""

    def __init__(self, cache: VectorCache, keep_full: bool) -> None:
        self.cache = cache
        self.keep_full = keep_full  # long-lived process: hold every vector of the space

    def full(self, space: Space) -> tuple[Any, Any]:
        found = self.cache.peek(space, "*")
        if found is None:
            found = self.cache.put(space, "*", load_population(self.cache.db_path, space, None))
        return found

    def prepare(self, space: Space, key: str, allowed: np.ndarray | None) -> None:
        """Load (and cache) the vectors `rank` will read. Runs in a thread while the search
        text is embedded: SQLite reads and numpy copies release the GIL, and so does ONNX."""
        full = self.cache.peek(space, "*")
        if allowed is None or (full is None and self.keep_full and len(allowed) > EXACT_MAX):
            self.full(space)
        elif full is None and self.cache.peek(space, key) is None:
            self.cache.put(space, key, load_population(self.cache.db_path, space, allowed))

    def rank(
        self, space: Space, qvec: np.ndarray, k: int, key: str, allowed: np.ndarray | None
    ) -> Ranked:
        """Top-k inside `allowed` (sorted ids; None = every vector of the space)."""
        self.prepare(space, key, allowed)
        if allowed is None:
            ids, matrix = self.full(space)
            return top_k(ids, matrix, qvec, k)
        full = self.cache.peek(space, "*")
        if full is not None:
            all_ids, matrix = full
            pos, ok = _locate(all_ids, allowed)
            pos = pos[ok]
            if len(pos) * 8 < len(all_ids):  # few rows: gather them
                return top_k(all_ids[pos], matrix[pos], qvec, k)
            got, dist = _best(all_ids[pos], (matrix @ qvec)[pos], k)  # many: one pass
            return Ranked(got, dist, "exact", len(pos))
        entry = self.cache.peek(space, key)
        if entry is None:  # evicted between prepare and here (a tiny cache): load it again
            entry = load_population(self.cache.db_path, space, allowed)
        return top_k(entry[0], entry[1], qvec, k)


class ChromaRanker:
    """The queries collection of a space, queried without filters and kept to the population."""

    def __init__(self, path: Path | None, host: str | None = None, port: int | None = None) -> None:
        self.path, self.host, self.port = path, host, port
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._counts: dict[str, tuple[int, float]] = {}

    def collection(self, space: Space) -> Any | None:
        """The space's collection, or None when Chroma has none (search falls back to exact)."""
        if space.key in self._collections:
            return self._collections[space.key]
        from lmsys_tui.core.store import vectors

        if self.host is None and (self.path is None or not Path(self.path).exists()):
            return None
        if self._client is None:
            self._client = vectors.open_chroma(self.path, self.host, self.port)
        try:
            found = vectors.queries_collection(self._client, space, create=False)
        except LmsysError:
            found = None
        self._collections[space.key] = found
        return found

    def count(self, space: Space) -> int:
        """Documents in the space's collection; asked again after COUNT_TTL seconds (a count
        costs ~20 ms here, and another process may be backfilling meanwhile)."""
        import time

        now = time.monotonic()
        known = self._counts.get(space.key)
        if known is not None and now - known[1] < COUNT_TTL:
            return known[0]
        col = self.collection(space)
        n = int(col.count()) if col is not None else 0
        self._counts[space.key] = (n, now)
        return n

    def rank(
        self,
        space: Space,
        qvec: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        total: int,
        cancelled: CancelCheck,
    ) -> Ranked | None:
        """Top-k inside `allowed` (sorted ids; None = everything), or None if it cannot."""
        import numpy as np

        col = self.collection(space)
        if col is None:
            return None
        share = 1.0 if allowed is None else max(len(allowed), 1) / max(total, 1)
        fetch = min(total, math.ceil(k / share * 1.25) + 16)
        while True:
            if cancelled():
                raise Cancelled("search cancelled")
            if fetch > CHROMA_MAX_FETCH and fetch < total:
                return None
            res = col.query(query_embeddings=qvec[None, :], n_results=fetch, include=["distances"])
            got = np.array([int(s.split("_", 1)[1]) for s in res["ids"][0]], dtype=np.int64)
            dist = np.asarray(res["distances"][0], dtype=np.float32)
            if allowed is not None:
                pos = np.clip(np.searchsorted(allowed, got), 0, max(len(allowed) - 1, 0))
                keep = allowed[pos] == got if len(allowed) else np.zeros(len(got), bool)
                got, dist = got[keep], dist[keep]
            if len(got) >= k or fetch >= total:
                order = np.lexsort((got, dist))[:k]
                searched = total if allowed is None else len(allowed)
                return Ranked(got[order], dist[order], "chroma", searched)
            fetch = min(total, fetch * 2)
