"""A memory-mapped copy of one space's vectors beside the embedding store, for fast full reads.

Why: a one-shot process (a headless `search`) needs every vector of a space. Read from the
SQLite segments that is blobs copied out of SQLite, hashes matched and rows copied (0.28 s at
100k here, 6-7 s at 1M); mapped from a flat `.npy` file it costs only the pages the rank
touches, straight from the OS file cache.

Files, in `<embedding store stem>.cache/` beside the store (`embeddings.cache/`):
`space-<sid>-<marker>.vectors.npy` (n x dim float32, in segment order) and
`space-<sid>-<marker>.keys.npy` (n x 3 uint64: the two words of each text hash and the row
of its vector, sorted by the first word, so a lookup is one `searchsorted`).

Never stale: `<marker>` is the store file's uuid (a new file after `clear` gets a new one) and
its newest segment id. Segments are append-only: every write of new vectors adds one and
nothing rewrites or deletes one, so a file whose name carries the current marker holds exactly
what the store holds, and any other file is never opened. Which queries have which text is not
cached: callers map query ids to hashes from the query store every time. The files are written
under temporary names, synced and renamed (vectors first: a keys file present means its vectors
are complete); the space's older files are removed after.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.embeddings import EmbeddingStore


def cache_dir(embeddings_file: Path) -> Path:
    """The folder of the cached copies that belong to the embedding store at `embeddings_file`."""
    return embeddings_file.with_name(f"{embeddings_file.stem}.cache")


@dataclass(frozen=True)
class SpaceCache:
    """A space's vectors (memory-mapped) and their hash keys, sorted for lookups."""

    keys: np.ndarray  # (n, 3) uint64: hash word 0, hash word 1, row in `vectors`
    vectors: np.ndarray  # (n, dim) float32, read only

    def locate(self, keys: np.ndarray) -> np.ndarray:
        """For (m, 2) uint64 hash keys, the row of each one's vector in `vectors` (-1: none)."""
        import numpy as np

        if len(self.keys) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        head = self.keys[:, 0]
        at = np.searchsorted(head, keys[:, 0]).clip(0, len(head) - 1)
        hit = (head[at] == keys[:, 0]) & (self.keys[at, 1] == keys[:, 1])
        return np.where(hit, self.keys[at, 2].astype(np.int64), -1)


def marker(store: EmbeddingStore, sid: int) -> str:
    """The space's vector state: store uuid + newest segment id (read inside the caller's
    transaction when it must match a read)."""
    newest = store.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM seg_{sid}").fetchone()[0]
    return f"{store.uuid()}-{int(newest)}"


def _names(folder: Path, sid: int, mark: str) -> tuple[Path, Path]:
    stem = f"space-{sid}-{mark}"
    return folder / f"{stem}.keys.npy", folder / f"{stem}.vectors.npy"


def open_cache(store: EmbeddingStore, sid: int, dim: int, *, build: bool) -> SpaceCache | None:
    """The space's current cached copy; made first when `build` (None: none, or it cannot be
    made, e.g. a read-only folder or two hashes sharing their first 8 bytes)."""
    import numpy as np

    folder = cache_dir(store.path)
    keys_path, vectors_path = _names(folder, sid, marker(store, sid))
    try:
        return SpaceCache(np.load(keys_path), np.load(vectors_path, mmap_mode="r"))
    except (OSError, ValueError):  # absent (or removed by a newer writer meanwhile)
        pass
    if not build:
        return None
    try:
        return _build(store, sid, dim, folder)
    except OSError:
        return None


def _build(store: EmbeddingStore, sid: int, dim: int, folder: Path) -> SpaceCache | None:
    """Copy the space out of SQLite in one read snapshot, then publish the two files.

    Plain sequential writes, not a writable map: a full disk is then an OSError (no copy, the
    caller reads the segments) instead of a SIGBUS."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    tag = f".tmp-{os.getpid()}"
    written: list[Path] = []
    try:
        store.conn.execute("BEGIN")  # the marker and the segments from one snapshot
        try:
            mark = marker(store, sid)
            keys_path, vectors_path = _names(folder, sid, mark)
            segments = f"FROM seg_{sid} WHERE id <= {int(mark.rsplit('-', 1)[1])}"
            count = int(store.conn.execute(f"SELECT COALESCE(SUM(n), 0) {segments}").fetchone()[0])
            tmp_vectors = vectors_path.with_name(vectors_path.name + tag)
            written.append(tmp_vectors)
            parts = []
            with open(tmp_vectors, "wb") as fh:
                header = {"descr": "<f4", "fortran_order": False, "shape": (count, dim)}
                np.lib.format.write_array_header_1_0(fh, header)
                for hb, vb in store.conn.execute(f"SELECT hashes, vectors {segments} ORDER BY id"):
                    fh.write(vb)
                    parts.append(hb)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            store.conn.execute("COMMIT")
        stored = np.frombuffer(b"".join(parts), dtype="<u8").reshape(-1, 2)
        order = np.argsort(stored[:, 0], kind="stable")
        keys = np.empty((len(stored), 3), dtype=np.uint64)
        keys[:, :2] = stored[order]
        keys[:, 2] = order
        if len(keys) > 1 and (keys[1:, 0] == keys[:-1, 0]).any():
            return None  # two hashes share their first word: a lookup would be ambiguous
        tmp_keys = keys_path.with_name(keys_path.name + tag)
        written.append(tmp_keys)
        with open(tmp_keys, "wb") as fh:
            np.save(fh, keys)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_vectors, vectors_path)
        os.replace(tmp_keys, keys_path)
    finally:
        for tmp in written:
            tmp.unlink(missing_ok=True)
    for old in folder.glob(f"space-{sid}-*"):
        if old not in (keys_path, vectors_path) and ".tmp-" not in old.name:
            with contextlib.suppress(OSError):  # still mapped where that locks it: next time
                old.unlink(missing_ok=True)
    return SpaceCache(keys, np.load(vectors_path, mmap_mode="r"))


def remove_cache(embeddings_file: Path) -> list[str]:
    """Delete the cached copies of an embedding store (with the store itself: `clear`)."""
    import shutil

    folder = cache_dir(embeddings_file)
    if not folder.is_dir():
        return []
    shutil.rmtree(folder)
    return [str(folder)]
