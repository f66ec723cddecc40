"""The persistent float32 embedding store: one vector per (space, normalised-text hash).

Every vector we paid for is kept here and never computed again: identical texts share one
vector, and clustering, Chroma backfill and search read from here, never from the model.

It is its own SQLite file beside the query store (`queries.db` -> `embeddings.db`,
`other.db` -> `other.embeddings.db`), so the query store's schema stays small and the vectors
can be copied or dropped on their own. Per space there are two tables:

- `seg_<id>(id, n, hashes, vectors)`: one row per committed batch; `hashes` is n x 16 bytes,
  `vectors` n x dim little-endian float32 (L2-normalised). Reading 1M vectors is then a
  sequential read of ~16k large blobs instead of 1M small rows (5x faster from Python here).
- `idx_<id>(text_hash, seg, pos)`: where each text's vector is, for membership checks and
  reading a few vectors (one `substr` of a segment each).

Writers hold an IMMEDIATE transaction and store only hashes not yet indexed, so two processes
embedding the same space never store a text twice. WAL: readers never block the writer.
One module (~400 lines): the segments and their index are one file format, consistent only
when written and read together.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.embed.space import Space

FORMAT_VERSION = "1"
PAGE_SIZE = 8192
HASH_BYTES = 16
_LOOKUP_SHARE = 8  # read vectors one by one below 1/8 of the space, else scan all segments

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spaces (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
    " provider TEXT NOT NULL, model TEXT NOT NULL, dim INTEGER NOT NULL,"
    " backends TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)",
    # texts that normalise to something but give the model nothing to read (e.g. only
    # zero-width or control characters): remembered so no run tries them again
    "CREATE TABLE IF NOT EXISTS excluded (space_id INTEGER NOT NULL, text_hash TEXT NOT NULL,"
    " reason TEXT NOT NULL, PRIMARY KEY (space_id, text_hash)) WITHOUT ROWID",
)


def embeddings_path(db_path: Path) -> Path:
    """The embedding store that belongs to the query store at `db_path`."""
    db_path = Path(db_path)
    if db_path.name == "queries.db":
        return db_path.with_name("embeddings.db")
    return db_path.with_name(f"{db_path.stem}.embeddings.db")


def hash_keys(hashes: Sequence[str]) -> np.ndarray:
    """32-hex-char text hashes as an (n, 2) uint64 array: the bytes segments store."""
    import numpy as np

    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype="<u8").reshape(-1, 2)


def _match(stored: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each stored hash, the output row that wants it (-1: none), by a sort-merge.

    Matches on the first 8 bytes (sorted, vectorised) and confirms on the last 8. Should two
    different hashes share their first 8 bytes (~never below billions of texts), it matches
    whole hashes with a dict instead.
    """
    import numpy as np

    target = np.full(len(stored), -1, dtype=np.int64)
    s_order = np.argsort(stored[:, 0], kind="stable")
    k_order = np.argsort(keys[:, 0], kind="stable")
    s_head, k_head = stored[s_order, 0], keys[k_order, 0]
    if (len(s_head) > 1 and (s_head[1:] == s_head[:-1]).any()) or (
        len(k_head) > 1 and (k_head[1:] == k_head[:-1]).any()
    ):
        want = {k.tobytes(): int(r) for k, r in zip(keys, rows, strict=True)}
        for i, k in enumerate(stored):
            target[i] = want.get(k.tobytes(), -1)
        return target
    pos = np.searchsorted(k_head, s_head).clip(0, len(k_head) - 1)  # sorted needles: fast
    idx = k_order[pos]
    hit = (k_head[pos] == s_head) & (keys[idx, 1] == stored[s_order, 1])
    target[s_order[hit]] = rows[idx[hit]]
    return target


def _chunks(items: Sequence[Any], size: int = 900) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def check_embedding_store(path: Path) -> None:
    """Raise UsageError unless `path` is an lmsys-tui embedding store (read only, so a file
    of another tool is never changed, not even by a journal mode switch)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM store_info WHERE key = 'format'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise UsageError(f"{path} is not an lmsys-tui embedding store ({exc})") from exc
    if row is None:
        raise UsageError(f"{path} is not an lmsys-tui embedding store (no format mark)")


class EmbeddingStore:
    """A connection to one embedding store file; created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"cannot open the embedding store {self.path}: {exc}") from exc
        try:
            self.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only takes on a new file
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self._create()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise UsageError(f"{self.path} is not an lmsys-tui embedding store ({exc})") from exc

    def _create(self) -> None:
        with self._write():
            for sql in _SCHEMA:
                self.conn.execute(sql)
            row = self.conn.execute("SELECT value FROM store_info WHERE key = 'format'").fetchone()
            if row is None:
                self.conn.execute(
                    "INSERT INTO store_info (key, value) VALUES ('format', ?)", (FORMAT_VERSION,)
                )
            elif row[0] != FORMAT_VERSION:
                raise UsageError(
                    f"{self.path} has embedding store format {row[0]}; this version reads"
                    f" {FORMAT_VERSION} (move the file aside to start a new one)"
                )
            # names this file's vectors in the cached copies (embedding_cache.py): a store
            # made anew at the same path (after `clear`) must not match an old copy
            self.conn.execute(
                "INSERT OR IGNORE INTO store_info (key, value) VALUES ('uuid', ?)",
                (secrets.token_hex(8),),
            )

    @contextmanager
    def _write(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def uuid(self) -> str:
        """This file's random id, set when it was made (or first opened by this version)."""
        row = self.conn.execute("SELECT value FROM store_info WHERE key = 'uuid'").fetchone()
        return str(row[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- spaces ----------------------------------------------------------------------------

    def find_space(self, space: Space) -> int | None:
        row = self.conn.execute("SELECT id FROM spaces WHERE key = ?", (space.key,)).fetchone()
        return int(row[0]) if row else None

    def ensure_space(self, space: Space) -> int:
        """The space's id, creating its row and tables the first time."""
        found = self.find_space(space)
        if found is not None:
            return found
        with self._write():
            self.conn.execute(
                "INSERT OR IGNORE INTO spaces (key, provider, model, dim, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (space.key, space.provider, space.model, space.dim, sql.db_timestamp(sql.utcnow())),
            )
            sid = int(
                self.conn.execute("SELECT id FROM spaces WHERE key = ?", (space.key,)).fetchone()[0]
            )
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS seg_{sid} (id INTEGER PRIMARY KEY,"
                " n INTEGER NOT NULL, hashes BLOB NOT NULL, vectors BLOB NOT NULL)"
            )
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS idx_{sid} (text_hash TEXT PRIMARY KEY,"
                " seg INTEGER NOT NULL, pos INTEGER NOT NULL) WITHOUT ROWID"
            )
        return sid

    def note_backend(self, sid: int, backend: str) -> None:
        """Remember which backends wrote into a space (shown with the space's counts)."""
        row = self.conn.execute("SELECT backends FROM spaces WHERE id = ?", (sid,)).fetchone()
        known = [b for b in (row[0] if row else "").split(",") if b]
        if backend not in known:
            known.append(backend)
            with self._write():
                self.conn.execute(
                    "UPDATE spaces SET backends = ? WHERE id = ?", (",".join(known), sid)
                )

    def spaces(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, key, provider, model, dim, backends, created_at FROM spaces ORDER BY id"
        ).fetchall()
        return [
            {
                "key": key,
                "provider": provider,
                "model": model,
                "dim": dim,
                "vectors": self.count(sid),
                "excluded": self.conn.execute(
                    "SELECT COUNT(*) FROM excluded WHERE space_id = ?", (sid,)
                ).fetchone()[0],
                "backends": [b for b in backends.split(",") if b],
                "created_at": created,
            }
            for sid, key, provider, model, dim, backends, created in rows
        ]

    # -- membership --------------------------------------------------------------------------

    def count(self, sid: int) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM idx_{sid}").fetchone()[0])

    def stored(self, sid: int, hashes: Collection[str]) -> set[str]:
        """Which of `hashes` have a vector in the space."""
        if len(hashes) * _LOOKUP_SHARE >= self.count(sid):
            want = hashes if isinstance(hashes, AbstractSet) else set(hashes)
            return {
                h for (h,) in self.conn.execute(f"SELECT text_hash FROM idx_{sid}") if h in want
            }
        found: set[str] = set()
        for chunk in _chunks(list(hashes)):
            marks = ",".join("?" * len(chunk))
            found.update(
                h
                for (h,) in self.conn.execute(
                    f"SELECT text_hash FROM idx_{sid} WHERE text_hash IN ({marks})", chunk
                )
            )
        return found

    def excluded(self, sid: int) -> set[str]:
        """Texts the model could not read in this space (few: kept in memory)."""
        return {
            h
            for (h,) in self.conn.execute(
                "SELECT text_hash FROM excluded WHERE space_id = ?", (sid,)
            )
        }

    # -- writing -----------------------------------------------------------------------------

    def put(
        self,
        sid: int,
        hashes: Sequence[str],
        vectors: np.ndarray,
        excluded: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Store one batch as one segment in one transaction; returns how many were new."""
        import numpy as np

        if len(hashes) != len(vectors):
            raise ValueError("one vector per hash")
        data = np.ascontiguousarray(vectors, dtype="<f4")
        with self._write():
            known = set()
            for chunk in _chunks(list(hashes)):
                marks = ",".join("?" * len(chunk))
                known.update(
                    h
                    for (h,) in self.conn.execute(
                        f"SELECT text_hash FROM idx_{sid} WHERE text_hash IN ({marks})", chunk
                    )
                )
            first_row: dict[str, int] = {}
            for i, h in enumerate(hashes):
                first_row.setdefault(h, i)
            new = [h for h in first_row if h not in known]
            if new:
                cur = self.conn.execute(
                    f"INSERT INTO seg_{sid} (n, hashes, vectors) VALUES (?, ?, ?)",
                    (
                        len(new),
                        b"".join(bytes.fromhex(h) for h in new),
                        data[[first_row[h] for h in new]].tobytes(),
                    ),
                )
                self.conn.executemany(
                    f"INSERT INTO idx_{sid} (text_hash, seg, pos) VALUES (?, ?, ?)",
                    [(h, cur.lastrowid, pos) for pos, h in enumerate(new)],
                )
            self.conn.executemany(
                "INSERT OR IGNORE INTO excluded (space_id, text_hash, reason) VALUES (?, ?, ?)",
                [(sid, h, reason) for h, reason in excluded],
            )
        return len(new)

    # -- reading -----------------------------------------------------------------------------

    def iter_segments(self, sid: int, dim: int) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored vector, segment by segment: (hashes, n x dim float32 matrix)."""
        import numpy as np

        for n, hb, vb in self.conn.execute(f"SELECT n, hashes, vectors FROM seg_{sid}"):
            hashes = [hb[i : i + HASH_BYTES].hex() for i in range(0, n * HASH_BYTES, HASH_BYTES)]
            yield hashes, np.frombuffer(vb, dtype="<f4").reshape(n, dim)

    def fill(self, sid: int, dim: int, want: dict[str, int], out: np.ndarray) -> np.ndarray:
        """Write the vector of each hash in `want` into row `want[hash]` of `out`.

        Returns a bool mask of the rows filled. Large requests scan every segment once
        (sequential, vectorised); small ones read each vector where the index says it is.
        """
        import numpy as np

        filled = np.zeros(len(out), dtype=bool)
        if not want:
            return filled
        if len(want) * _LOOKUP_SHARE >= self.count(sid):
            keys = hash_keys(list(want))
            rows = np.fromiter(want.values(), np.int64, len(want))
            return self.scan_into(sid, dim, keys, rows, out)
        width = dim * 4
        for chunk in _chunks(list(want)):
            marks = ",".join("?" * len(chunk))
            found = self.conn.execute(
                f"SELECT text_hash, seg, pos FROM idx_{sid} WHERE text_hash IN ({marks})", chunk
            ).fetchall()
            # incremental blob I/O reads only the pages of each vector: substr() would
            # first load the whole segment blob (n x dim x 4 bytes) for every lookup
            found.sort(key=lambda r: (r[1], r[2]))
            blob, open_seg = None, None
            try:
                for h, seg, pos in found:
                    if seg != open_seg:
                        if blob is not None:
                            blob.close()
                        blob = self.conn.blobopen(f"seg_{sid}", "vectors", seg, readonly=True)
                        open_seg = seg
                    blob.seek(pos * width)
                    row = want[h]
                    out[row] = np.frombuffer(blob.read(width), dtype="<f4")
                    filled[row] = True
            finally:
                if blob is not None:
                    blob.close()
        return filled

    def scan_into(
        self, sid: int, dim: int, keys: np.ndarray, rows: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """One sequential pass over the space's segments: vector of `keys[i]` -> `out[rows[i]]`.

        `keys` are distinct 16-byte hashes as an (m, 2) uint64 array (see `hash_keys`). First
        the segments' hash columns (16 bytes a vector) are read and matched to `keys` with one
        sort-merge in numpy, giving each stored vector its output row; then the vectors are
        streamed segment by segment straight into `out`. Both reads share one snapshot, so a
        concurrent writer cannot shift the positions. No per-vector Python work.
        """
        import numpy as np

        filled = np.zeros(len(out), dtype=bool)
        if len(keys) == 0:
            return filled
        self.conn.execute("BEGIN")  # one read snapshot for both passes
        try:
            parts = [hb for (hb,) in self.conn.execute(f"SELECT hashes FROM seg_{sid} ORDER BY id")]
            stored = np.frombuffer(b"".join(parts), dtype="<u8").reshape(-1, 2)
            del parts
            target = _match(stored, keys, rows)
            offset = 0
            for n, blob in self.conn.execute(f"SELECT n, vectors FROM seg_{sid} ORDER BY id"):
                rows_here = target[offset : offset + n]
                offset += n
                hit = rows_here >= 0
                if hit.all():
                    out[rows_here] = np.frombuffer(blob, dtype="<f4").reshape(n, dim)
                elif hit.any():
                    matrix = np.frombuffer(blob, dtype="<f4").reshape(n, dim)
                    out[rows_here[hit]] = matrix[hit]
        finally:
            self.conn.execute("COMMIT")
        got = target[target >= 0]
        filled[got] = True
        return filled

    def get(self, sid: int, dim: int, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors for a few hashes (search, spot checks), by hash."""
        import numpy as np

        unique = list(dict.fromkeys(hashes))
        out = np.zeros((len(unique), dim), dtype=np.float32)
        filled = self.fill(sid, dim, {h: i for i, h in enumerate(unique)}, out)
        return {h: out[i] for i, h in enumerate(unique) if filled[i]}
