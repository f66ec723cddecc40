"""`verify sync --fix`: Chroma made to agree with SQLite (the source of truth) for one run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lmsys_tui.core.search.verify.checks import CHUNK
from lmsys_tui.errors import Cancelled, UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.embed.space import Space
    from lmsys_tui.core.search.verify.checks import ChromaAccess, Found
    from lmsys_tui.stage import CancelCheck


def repair(
    db_path: Path,
    run_id: str,
    space: Space,
    found: Found,
    chroma: ChromaAccess,
    cancelled: CancelCheck,
    backend: str,
) -> dict[str, int]:
    """Make Chroma agree with SQLite for this run: stale and orphaned documents are deleted,
    missing and stale ones written again from the embedding store (summary texts missing there
    are embedded once). Returns what was done, per kind."""
    import numpy as np

    from lmsys_tui.core import chroma as backfill
    from lmsys_tui.core.search.clusters import doc_vectors
    from lmsys_tui.core.store.db import Store
    from lmsys_tui.core.store.vectors import query_doc_id

    if found.space_issues:
        raise UsageError(
            "cannot repair: " + found.space_issues[0] + " (delete that collection and run --fix)"
        )
    fixed = {"queries_deleted": 0, "queries_written": 0, "summaries_deleted": 0,
             "summaries_written": 0}  # fmt: skip
    queries = chroma.collection(space, "queries", create=True)
    stale = sorted(set(found.meta_mismatch) | set(found.vector_mismatch))
    drop = found.extra + [query_doc_id(q) for q in stale]
    for start in range(0, len(drop), CHUNK):
        queries.delete(ids=drop[start : start + CHUNK])
    fixed["queries_deleted"] = len(drop)
    rewrite = sorted(set(found.missing) | set(stale))
    if rewrite:
        if cancelled():
            raise Cancelled("repair cancelled")
        done = backfill.backfill(
            Store.read_only(db_path),
            space,
            rewrite,
            path=chroma.path,
            host=chroma.host,
            port=chroma.port,
            cancelled=cancelled,
        )
        fixed["queries_written"] = done.added
    summaries = chroma.collection(space, "summaries", create=True)
    drop = found.sum_extra + found.sum_stale
    if drop:
        summaries.delete(ids=drop)
    fixed["summaries_deleted"] = len(drop)
    todo = found.sum_missing + found.sum_stale
    for start in range(0, len(todo), CHUNK):
        if cancelled():
            raise Cancelled("repair cancelled")
        ids = todo[start : start + CHUNK]
        docs = [found.sum_expected[i]["document"] for i in ids]
        vecs = doc_vectors(db_path, space, docs, backend)
        summaries.upsert(
            ids=ids,
            embeddings=np.asarray(vecs, dtype=np.float32),
            documents=docs,
            metadatas=[found.sum_expected[i]["metadata"] for i in ids],
        )
        fixed["summaries_written"] += len(ids)
    return fixed
