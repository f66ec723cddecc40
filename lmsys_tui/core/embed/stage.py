"""The embedding stage and the vector reads every later stage uses.

`embed_queries` embeds each distinct normalised text (queries.text_hash) of the selected
queries once per space: what the embedding store already holds is skipped, the rest is
embedded longest first (like sentence-transformers' own encode, so padding is minimal and a
memory problem shows at once) and committed batch by batch. Cancel, Ctrl-C or a kill keep every
finished batch; the next run continues with what is missing. Empty texts are never embedded.

`load_vectors` reads the vectors of a selection from the embedding store only, never the model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.embed.space import Space
from lmsys_tui.core.store import sql
from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path, hash_keys
from lmsys_tui.core.store.queries import select_query_ids as select_query_ids  # core.embed's
from lmsys_tui.core.text import text_hash
from lmsys_tui.errors import Cancelled, NotFoundError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store

EMPTY_HASH = text_hash("")
_FULL_SCAN_OVER = 20_000  # id lists longer than this read (id, hash) from the index scan
_CONCAT_MAX = 20_000_000
_SCAN_SHARE = 8  # read vectors by a scan of all segments from 1/8 of the space on
GPU_BATCH_SCALE = 8


class MissingVectorsError(NotFoundError):
    """Some selected queries with a readable text have no vector in the space yet."""


@dataclass
class EmbedSummary:
    """What one embedding run did.

    requested: queries selected. distinct_texts: distinct non-empty normalised texts among
    them; each is either already_stored (before this run), embedded (by this run: the texts
    the model was called on), or unreadable. empty_excluded: selected queries that get no
    vector because their text is empty or has nothing the model can read.
    """

    space: Space
    requested: int = 0
    distinct_texts: int = 0
    already_stored: int = 0
    embedded: int = 0
    empty_excluded: int = 0
    seconds: float = 0.0
    texts_per_second: float = 0.0
    backend: str = "none"
    batches: int = 0
    status: str = "done"
    embeddings_path: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"space": self.space.to_dict()}

    @property
    def message(self) -> str:
        parts = [
            f"{self.embedded:,} texts embedded ({self.backend})"
            if self.embedded
            else "nothing to embed",
            f"{self.already_stored:,} already stored",
        ]
        if self.empty_excluded:
            parts.append(f"{self.empty_excluded:,} queries without embeddable text")
        rate = f", {self.texts_per_second:,.1f} texts/s" if self.embedded else ""
        return (
            f"{self.requested:,} queries, {self.distinct_texts:,} distinct texts in"
            f" {self.space.key}: " + "; ".join(parts) + f" in {self.seconds:.1f}s{rate}"
        )


def select_hashes(conn: Any, query_ids: Sequence[int] | None) -> tuple[np.ndarray, list[str]]:
    """(ids, hashes) of the selection: by id, or in the given order (unknown ids: error)."""
    import numpy as np

    if query_ids is None or len(query_ids) > _FULL_SCAN_OVER:
        # no ORDER BY: SQLite then scans the (text_hash) index, which covers the id, and
        # never reads the query texts (3x faster at 1M rows than a table scan)
        rows = conn.execute("SELECT id, text_hash FROM queries").fetchall()
        if query_ids is None:
            if not rows:
                return np.zeros(0, dtype=np.int64), []
            id_col, hash_col = zip(*rows, strict=True)
            del rows
            all_ids = np.asarray(id_col, dtype=np.int64)
            order = np.argsort(all_ids, kind="stable")
            return all_ids[order], [hash_col[i] for i in order.tolist()]
        ids = np.asarray(query_ids, dtype=np.int64)
        wanted = set(ids.tolist())
        found = {qid: h for qid, h in rows if qid in wanted}
        del rows
    else:
        ids = np.asarray(query_ids, dtype=np.int64)
        found = dict(
            sql.tuples(
                conn,
                f"SELECT id, text_hash FROM queries WHERE id {sql.IN_IDS}",
                (sql.id_list(dict.fromkeys(ids.tolist())),),
            )
        )
    missing = [int(q) for q in ids.tolist() if q not in found]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise NotFoundError(f"{len(missing):,} query ids are not in the store: {shown}")
    return ids, [found[int(q)] for q in ids.tolist()]


def _all_keys(conn: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every query's (id, 16-byte hash key), by id, as two numpy arrays.

    Two group_concat aggregates over one index scan give the ids and hashes as two strings
    (in the same row order), parsed by numpy: no Python object per query (3x faster at 1M).
    """
    import numpy as np

    count = conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype="<u8")
    if count > _CONCAT_MAX:  # keep the strings well under SQLite's 1 GB value limit
        ids, hashes = select_hashes(conn, None)
        return ids, hash_keys(hashes)
    id_text, hash_text = conn.execute(
        "SELECT group_concat(id), group_concat(text_hash, '') FROM queries"
    ).fetchone()
    ids = np.array(id_text.split(","), dtype=np.int64)
    keys = hash_keys([hash_text])
    order = np.argsort(ids, kind="stable")
    return ids[order], keys[order]


def _texts(conn: Any, qids: list[int]) -> dict[int, str]:
    return dict(
        sql.tuples(
            conn, f"SELECT id, query_text FROM queries WHERE id {sql.IN_IDS}", (sql.id_list(qids),)
        )
    )


def _lengths(conn: Any, qids: list[int]) -> dict[int, int]:
    return dict(
        sql.tuples(
            conn,
            f"SELECT id, LENGTH(query_text) FROM queries WHERE id {sql.IN_IDS}",
            (sql.id_list(qids),),
        )
    )


def embed_queries(
    store: Store,
    space: Space,
    query_ids: Sequence[int] | None = None,
    *,
    batch_size: int = 64,
    backend: str = "auto",
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
    cache_dir: Path | None = None,
    device: str = "auto",
) -> EmbedSummary:
    """Embed the texts of `query_ids` (all queries if None) missing from the space's store.

    On a GPU each model call takes GPU_BATCH_SCALE x `batch_size` texts (one batch of 64 short
    texts leaves a GPU mostly idle)."""
    from lmsys_tui.core.embed.encoders import get_encoder
    from lmsys_tui.core.embed.space import check_backend
    from lmsys_tui.core.text import normalise

    sql.require_positive(embed_batch_size=batch_size)
    check_backend(backend)
    started = time.perf_counter()
    epath = embeddings_path(store.path)
    summary = EmbedSummary(space=space, embeddings_path=str(epath))
    vectors = EmbeddingStore(epath)
    try:
        with sql.connection(store) as conn:
            sid = vectors.ensure_space(space)
            ids, hashes = select_hashes(conn, query_ids)
            summary.requested = len(ids)
            per_text: dict[str, int] = {}
            first_id: dict[str, int] = {}
            for qid, h in zip(ids.tolist(), hashes, strict=True):
                per_text[h] = per_text.get(h, 0) + 1
                first_id.setdefault(h, qid)
            summary.empty_excluded = per_text.pop(EMPTY_HASH, 0)
            summary.distinct_texts = len(per_text)
            unreadable = vectors.excluded(sid) & per_text.keys()
            summary.empty_excluded += sum(per_text[h] for h in unreadable)
            stored = vectors.stored(sid, per_text.keys())
            summary.already_stored = len(stored)
            todo = [h for h in per_text if h not in stored and h not in unreadable]
            progress(0, len(todo), f"{len(stored):,} already stored")
            if todo:
                lengths = _lengths(conn, [first_id[h] for h in todo])
                todo.sort(key=lambda h: -lengths.get(first_id[h], 0))
                encoder, note = get_encoder(space, backend, cache_dir, device)
                if str(getattr(encoder, "device", "cpu")) != "cpu":
                    batch_size *= GPU_BATCH_SCALE
                summary.backend = encoder.name
                if note:
                    summary.notes.append(note)
                _run_batches(
                    conn, vectors, sid, encoder, todo, first_id, per_text, batch_size,
                    summary, normalise, progress, cancelled, started,
                )  # fmt: skip
                vectors.note_backend(sid, encoder.name)
    finally:
        vectors.close()
        summary.seconds = round(time.perf_counter() - started, 3)
        if summary.embedded and summary.seconds:
            summary.texts_per_second = round(summary.embedded / summary.seconds, 1)
    return summary


def _run_batches(
    conn: Any,
    vectors: EmbeddingStore,
    sid: int,
    encoder: Any,
    todo: list[str],
    first_id: dict[str, int],
    per_text: dict[str, int],
    batch_size: int,
    summary: EmbedSummary,
    normalise: Any,
    progress: Progress,
    cancelled: CancelCheck,
    started: float,
) -> None:
    from lmsys_tui.core.embed.encoders import encode_batches

    def batches() -> Iterator[tuple[list[str], list[str]]]:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            texts = _texts(conn, [first_id[h] for h in batch])
            yield batch, [normalise(texts[first_id[h]]) for h in batch]

    done = 0
    try:
        if cancelled():
            raise Cancelled("cancelled")
        for batch, matrix, ok in encode_batches(encoder, batches()):
            keep = [i for i, good in enumerate(ok) if good]
            unreadable = [(batch[i], "no_tokens") for i, good in enumerate(ok) if not good]
            vectors.put(sid, [batch[i] for i in keep], matrix[keep], excluded=unreadable)
            summary.embedded += len(keep)
            summary.empty_excluded += sum(per_text[h] for h, _ in unreadable)
            summary.batches += 1
            done += len(batch)
            rate = summary.embedded / max(time.perf_counter() - started, 1e-9)
            progress(done, len(todo), f"{rate:,.1f} texts/s")
            if cancelled():  # here, not in batches(): that one runs a batch ahead
                raise Cancelled("cancelled")
    except (KeyboardInterrupt, Cancelled):
        summary.status = "cancelled"
        raise Cancelled(
            f"embedding cancelled after {summary.embedded:,} new texts in {summary.batches}"
            " batches; they are kept, run the same command again to continue"
        ) from None


def query_keys(store: Store, query_ids: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, (n, 2) uint64 hash keys) of the selection: by id if None, else in the given order."""
    with sql.connection(store) as conn:
        if query_ids is None:
            return _all_keys(conn)
        ids, hashes = select_hashes(conn, query_ids)
        return ids, hash_keys(hashes)


def load_vectors(
    store: Store, space: Space, query_ids: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(query ids int64, float32 n x dim L2-normalised) from the embedding store only.

    Order: as `query_ids` (all queries by id if None). Queries whose text is empty or
    unreadable have no vector and are left out (compare the ids to see which). A selected
    query with a readable text but no vector raises MissingVectorsError: run the embedding
    stage first. Memory: the result plus O(n) small arrays; the matrix is never copied whole.
    A large selection is copied from the space's memory-mapped copy when a current one exists
    (store/embedding_cache.py, made by search; 2-3x less CPU than the segments at 100k).
    """
    import numpy as np

    from lmsys_tui.core.store.embedding_cache import open_cache

    ids, keys = query_keys(store, query_ids)
    vectors = EmbeddingStore(embeddings_path(store.path))
    try:
        sid = vectors.find_space(space)
        skip = hash_keys([EMPTY_HASH, *(vectors.excluded(sid) if sid is not None else ())])
        readable = np.ones(len(ids), dtype=bool)
        for k in skip:
            readable &= ~((keys[:, 0] == k[0]) & (keys[:, 1] == k[1]))
        ids, keys = ids[readable], keys[readable]
        n = len(ids)
        out = np.empty((n, space.dim), dtype=np.float32)
        filled = np.zeros(n, dtype=bool)
        cached = None
        if n and sid is not None and n * _SCAN_SHARE >= vectors.count(sid):
            cached = open_cache(vectors, sid, space.dim, build=False)
        if cached is not None:  # duplicate texts simply read the same row
            rows = cached.locate(keys)
            filled = rows >= 0
            if filled.all():
                np.take(cached.vectors, rows, axis=0, out=out)
            else:
                out[filled] = cached.vectors[rows[filled]]
        elif n and sid is not None:
            first, inverse = _first_occurrences(keys)
            uniq = keys[first]
            if len(uniq) * _SCAN_SHARE >= vectors.count(sid):
                filled = vectors.scan_into(sid, space.dim, uniq, first, out)
            else:
                want = {k.tobytes().hex(): int(r) for k, r in zip(uniq, first, strict=True)}
                filled = vectors.fill(sid, space.dim, want, out)
            src = first[inverse]
            dup = np.flatnonzero(src != np.arange(n))
            if len(dup):  # the same text in several queries: one stored vector, copied
                out[dup] = out[src[dup]]
                filled[dup] = filled[src[dup]]
        if not filled.all():
            missing = int((~filled).sum())
            raise MissingVectorsError(
                f"{missing:,} of the {n:,} selected queries with text have no vector"
                f" in {space.key}; run `embed` (or the clustering stage) first"
            )
        return ids, out
    finally:
        vectors.close()


def _first_occurrences(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows of distinct hashes: (row of each hash's first occurrence, hash index per row)."""
    import numpy as np

    _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not np.array_equal(keys[first[inverse], 1], keys[:, 1]):
        # two different hashes share their first 8 bytes (~never): use the whole hash
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    return first, inverse
