"""What `verify sync` checks, run by run: the space, the queries and the summaries in Chroma
against SQLite, collected in `Found` (ids, so `--fix` knows what to repair)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.errors import Cancelled, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress

if TYPE_CHECKING:
    import sqlite3

    from lmsys_tui.core.embed.space import Space

CHUNK = 2000
VECTOR_TOLERANCE = 1e-4  # float32 round trip through Chroma is exact; anything above is stale
_META = ("query_id", "model", "language", "conversation_id", "dataset_id")


@dataclass
class Found:
    """What one pass over the run found (ids, so --fix knows what to repair)."""

    missing: list[int] = field(default_factory=list)
    meta_mismatch: list[int] = field(default_factory=list)
    vector_mismatch: list[int] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    not_embedded: int = 0
    expected: int = 0
    present: int = 0
    wrong_dim: int = 0
    sum_missing: list[str] = field(default_factory=list)
    sum_stale: list[str] = field(default_factory=list)
    sum_extra: list[str] = field(default_factory=list)
    sum_expected: dict[str, dict[str, Any]] = field(default_factory=dict)
    sum_present: int = 0
    runs_in_summaries: list[str] = field(default_factory=list)
    space_issues: list[str] = field(default_factory=list)


class ChromaAccess:
    """The run space's two collections, or None where Chroma has none (never created here
    unless repairing)."""

    def __init__(self, path: Path | None, host: str | None, port: int | None) -> None:
        self.path, self.host, self.port = path, host, port
        self.client: Any = None

    def open(self, create: bool) -> Any:
        from lmsys_tui.core.store import vectors

        if self.client is None:
            if not create and self.host is None and (self.path is None or not self.path.exists()):
                return None
            self.client = vectors.open_chroma(self.path, self.host, self.port)
        return self.client

    def collection(self, space: Space, kind: str, create: bool = False) -> Any | None:
        from lmsys_tui.core.store import vectors

        client = self.open(create)
        if client is None:
            return None
        get = vectors.queries_collection if kind == "queries" else vectors.summaries_collection
        try:
            return get(client, space, create=create)
        except NotFoundError:
            return None


def _run_space(conn: sqlite3.Connection, run_id: str) -> Space:
    from lmsys_tui.core.embed.space import run_space
    from lmsys_tui.core.read.runs import get_run

    space = run_space(get_run(conn, run_id))
    if space is None:
        raise UsageError(f"run {run_id!r} does not record its embedding space")
    return space


def _all_ids(collection: Any, where: dict[str, Any] | None = None) -> list[str]:
    out: list[str] = []
    offset = 0
    while True:
        got = collection.get(include=[], where=where, limit=10_000, offset=offset)["ids"]
        out.extend(got)
        if len(got) < 10_000:
            return out
        offset += len(got)


def _check_space(collection: Any, space: Space, kind: str, found: Found) -> None:
    meta = dict(collection.metadata or {})
    if meta.get("space_key") not in (None, space.key):
        found.space_issues.append(
            f"{kind} collection {collection.name} holds space {meta.get('space_key')},"
            f" not the run's {space.key}"
        )


def _check_queries(
    conn: sqlite3.Connection,
    db_path: Path,
    run_id: str,
    space: Space,
    col: Any | None,
    found: Found,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    import numpy as np

    from lmsys_tui.core.embed.stage import EMPTY_HASH
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
    from lmsys_tui.core.store.vectors import query_doc_id

    rows = conn.execute(
        "SELECT q.id, q.text_hash, q.model, q.language, q.conversation_id, q.dataset_id"
        " FROM query_clusters qc JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = ?"
        " ORDER BY q.id",
        (run_id,),
    ).fetchall()
    with EmbeddingStore(embeddings_path(db_path)) as store:
        sid = store.find_space(space)
        unreadable = store.excluded(sid) if sid is not None else set()
        rows = [r for r in rows if r[1] != EMPTY_HASH and r[1] not in unreadable]
        for start in range(0, len(rows), CHUNK):
            if cancelled():
                raise Cancelled("verify cancelled")
            chunk = rows[start : start + CHUNK]
            want: dict[str, int] = {}
            for r in chunk:
                want.setdefault(r[1], len(want))
            vecs = np.zeros((len(want), space.dim), dtype=np.float32)
            have = (
                store.fill(sid, space.dim, want, vecs)
                if sid is not None
                else np.zeros(len(want), bool)
            )
            unembedded = {int(r[0]) for r in chunk if not have[want[r[1]]]}
            found.not_embedded += len(unembedded)
            found.expected += len(chunk) - len(unembedded)
            if col is None:
                found.missing.extend(int(r[0]) for r in chunk if int(r[0]) not in unembedded)
                continue
            got = col.get(
                ids=[query_doc_id(r[0]) for r in chunk], include=["metadatas", "embeddings"]
            )
            by_id = {
                doc: (meta or {}, emb)
                for doc, meta, emb in zip(
                    got["ids"], got["metadatas"], got["embeddings"], strict=True
                )
            }
            for r in chunk:
                qid = int(r[0])
                doc = by_id.get(query_doc_id(qid))
                if qid in unembedded:
                    if doc is not None:  # its text changed and the new one is not embedded
                        found.vector_mismatch.append(qid)
                    continue
                if doc is None:
                    found.missing.append(qid)
                    continue
                found.present += 1
                meta, emb = doc
                expect = dict(zip(_META, (r[0], r[2], r[3], r[4], r[5]), strict=True))
                if any(meta.get(k) != v for k, v in expect.items()):
                    found.meta_mismatch.append(qid)
                emb = np.asarray(emb, dtype=np.float32)
                if emb.shape != (space.dim,):
                    found.wrong_dim += 1
                    found.vector_mismatch.append(qid)
                elif float(np.abs(emb - vecs[want[r[1]]]).max()) > VECTOR_TOLERANCE:
                    found.vector_mismatch.append(qid)
            progress(min(start + CHUNK, len(rows)), len(rows), "queries")
    if col is not None:
        known = {int(r[0]) for r in conn.execute("SELECT id FROM queries")}
        for doc in _all_ids(col):
            head, _, tail = doc.partition("_")
            if head != "query" or not tail.isdigit() or int(tail) not in known:
                found.extra.append(doc)


def _check_summaries(conn: sqlite3.Connection, run_id: str, col: Any | None, found: Found) -> None:
    from lmsys_tui.core.store.vectors import summary_doc_id, summary_document

    sizes = dict(conn.execute("SELECT cluster_id, size FROM clusters WHERE run_id = ?", (run_id,)))
    for cid, srid, alias, title, desc in conn.execute(
        "SELECT cluster_id, summary_run_id, alias, title, description FROM cluster_summaries"
        " WHERE run_id = ? ORDER BY summary_run_id, cluster_id",
        (run_id,),
    ):
        document = summary_document(title, desc)
        if not document or cid not in sizes:
            continue
        meta = {
            "run_id": run_id,
            "cluster_id": int(cid),
            "summary_run_id": srid,
            "alias": alias,
            "title": title,
            "description": desc,
            "num_queries": int(sizes[cid]),
        }
        found.sum_expected[summary_doc_id(run_id, cid, srid)] = {
            "document": document,
            "metadata": {k: v for k, v in meta.items() if v is not None},
        }
    if col is None:
        found.sum_missing = list(found.sum_expected)
        return
    ids = list(found.sum_expected)
    got: dict[str, tuple[Any, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        res = col.get(ids=ids[start : start + CHUNK], include=["metadatas", "documents"])
        got.update(
            {
                d: (m or {}, doc)
                for d, m, doc in zip(res["ids"], res["metadatas"], res["documents"], strict=True)
            }
        )
    for doc_id, want in found.sum_expected.items():
        if doc_id not in got:
            found.sum_missing.append(doc_id)
            continue
        found.sum_present += 1
        meta, document = got[doc_id]
        if document != want["document"] or any(
            meta.get(k) != v for k, v in want["metadata"].items()
        ):
            found.sum_stale.append(doc_id)
    found.sum_extra = [d for d in _all_ids(col, where={"run_id": run_id}) if d not in got]
    runs: set[str] = set()
    offset = 0
    while True:
        page = col.get(include=["metadatas"], limit=10_000, offset=offset)["metadatas"]
        runs.update(str(m["run_id"]) for m in page if m and m.get("run_id"))
        if len(page) < 10_000:
            break
        offset += len(page)
    found.runs_in_summaries = sorted(runs)


def inspect_run(
    conn: sqlite3.Connection,
    db_path: Path,
    run_id: str,
    chroma: ChromaAccess,
    progress: Progress,
    cancelled: CancelCheck,
) -> tuple[Space, Found, Any, Any]:
    space = _run_space(conn, run_id)
    found = Found()
    try:
        queries_col = chroma.collection(space, "queries")
        summaries_col = chroma.collection(space, "summaries")
    except UsageError as exc:  # e.g. a collection of that name with L2 distance
        found.space_issues.append(exc.message)
        queries_col = summaries_col = None
    for kind, col in (("queries", queries_col), ("summaries", summaries_col)):
        if col is not None:
            _check_space(col, space, kind, found)
    _check_queries(conn, db_path, run_id, space, queries_col, found, progress, cancelled)
    _check_summaries(conn, run_id, summaries_col, found)
    return space, found, queries_col, summaries_col
