"""Filling Chroma from the embedding store: never embeds, only copies what is missing.

`backfill` walks the selected queries in chunks, asks Chroma which `query_<id>` it already
has, and adds the rest with their stored vector and metadata (query_id, model, language,
conversation_id, dataset_id). Queries without a stored vector are counted and skipped (run
`embed` first), empty texts are never in Chroma. Each chunk is one Chroma write, so a cancel
keeps what was added and the next run only adds the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.embed.space import Space
from lmsys_tui.core.embed.stage import EMPTY_HASH, select_hashes
from lmsys_tui.core.store import sql
from lmsys_tui.core.store import vectors as chroma_store
from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
from lmsys_tui.errors import Cancelled, LmsysError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

DEFAULT_CHUNK = 5000
_META_COLUMNS = ("id", "model", "language", "conversation_id", "dataset_id")


@dataclass
class BackfillSummary:
    """checked = selected queries; each is already_present, added, empty (no text the model
    can read: never in Chroma) or not_embedded (readable text, no stored vector yet)."""

    collection: str
    space: Space
    chroma: str
    checked: int = 0
    already_present: int = 0
    added: int = 0
    empty: int = 0
    not_embedded: int = 0
    collection_count: int = 0
    seconds: float = 0.0
    status: str = "done"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"space": self.space.to_dict()}

    @property
    def message(self) -> str:
        text = (
            f"{self.added:,} queries added to {self.collection} ({self.already_present:,} were"
            f" there); it now holds {self.collection_count:,}"
        )
        if self.not_embedded:
            text += f"; {self.not_embedded:,} have no stored vector yet (run embed)"
        return text + f" in {self.seconds:.1f}s"


def _metadata(conn: Any, qids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for meta in sql.rows(
        conn,
        f"SELECT {', '.join(_META_COLUMNS)} FROM queries WHERE id {sql.IN_IDS}",
        (sql.id_list(qids),),
    ):
        meta["query_id"] = meta.pop("id")
        out[int(meta["query_id"])] = chroma_store.chroma_metadata(meta)
    return out


def backfill(
    store: Store,
    space: Space,
    query_ids: Sequence[int] | None = None,
    *,
    path: Path | str | None = None,
    host: str | None = None,
    port: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> BackfillSummary:
    """Add to the space's Chroma collection the selected queries it lacks, from stored vectors."""
    import numpy as np

    sql.require_positive(chunk_size=chunk_size)
    started = time.perf_counter()
    client = chroma_store.open_chroma(path, host, port)
    collection = chroma_store.queries_collection(client, space)
    summary = BackfillSummary(
        collection=collection.name,
        space=space,
        chroma=chroma_store.where(path or _default_chroma(), host, port),
    )
    try:
        chunk_size = min(chunk_size, int(client.get_max_batch_size()))
    except Exception:  # older servers do not say; Chroma's usual limit is above 5000
        chunk_size = min(chunk_size, DEFAULT_CHUNK)
    vectors = EmbeddingStore(embeddings_path(store.path))
    try:
        with sql.connection(store) as conn:
            ids, hashes = select_hashes(conn, query_ids)
            sid = vectors.find_space(space)
            unreadable = vectors.excluded(sid) if sid is not None else set()
            summary.checked = len(ids)
            id_list = ids.tolist()
            for start in range(0, len(id_list), chunk_size):
                if cancelled():
                    summary.status = "cancelled"
                    raise Cancelled(
                        f"backfill cancelled after adding {summary.added:,} queries; they are kept"
                    )
                chunk = id_list[start : start + chunk_size]
                chunk_hashes = hashes[start : start + chunk_size]
                doc_ids = [chroma_store.query_doc_id(q) for q in chunk]
                present = set(collection.get(ids=doc_ids, include=[])["ids"])
                summary.already_present += len(present)
                todo = [
                    (q, h)
                    for q, h, d in zip(chunk, chunk_hashes, doc_ids, strict=True)
                    if d not in present
                ]
                readable = [(q, h) for q, h in todo if h != EMPTY_HASH and h not in unreadable]
                summary.empty += len(todo) - len(readable)
                todo = readable
                if todo and sid is not None:
                    want: dict[str, int] = {}
                    for _, h in todo:
                        want.setdefault(h, len(want))
                    matrix = np.zeros((len(want), space.dim), dtype=np.float32)
                    filled = vectors.fill(sid, space.dim, want, matrix)
                    have = [(q, want[h]) for q, h in todo if filled[want[h]]]
                    summary.not_embedded += len(todo) - len(have)
                    if have:
                        meta = _metadata(conn, [q for q, _ in have])
                        _add(
                            collection,
                            [chroma_store.query_doc_id(q) for q, _ in have],
                            matrix[[row for _, row in have]],
                            [meta[q] for q, _ in have],
                        )
                        summary.added += len(have)
                elif todo:
                    summary.not_embedded += len(todo)
                progress(
                    min(start + chunk_size, len(id_list)), len(id_list), f"{summary.added:,} added"
                )
            summary.collection_count = collection.count()
    finally:
        vectors.close()
        summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _default_chroma() -> Path:
    from lmsys_tui.config import Settings

    return Settings().chroma


def _add(collection: Any, ids: list[str], matrix: Any, metadatas: list[dict[str, Any]]) -> None:
    try:
        collection.upsert(ids=ids, embeddings=matrix, metadatas=metadatas)
    except Exception as exc:
        raise LmsysError(f"Chroma refused {len(ids)} vectors: {chroma_store._line(exc)}") from exc


def info(
    path: Path | str | None = None, host: str | None = None, port: int | None = None
) -> dict[str, Any]:
    """`chroma info`: every collection with its count, distance and embedding space."""
    if not host and path is not None and not Path(path).exists():
        return {"collections": []}  # nothing there yet; do not create the folder to say so
    client = chroma_store.open_chroma(path, host, port)
    return {"collections": chroma_store.collections_info(client)}
