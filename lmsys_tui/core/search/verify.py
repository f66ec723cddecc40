"""`verify sync RUN`: do SQLite (the source of truth) and Chroma agree for one run?

The reference compared one number (summary counts). Here, in the run's embedding space:

- the space: the collections are the run's space's (name, recorded space key, dimension, cosine);
- queries, by id: every query of the run that has a stored vector is in Chroma, and no Chroma
  document points at a query SQLite no longer has;
- queries, by content: each document's metadata equals the SQLite row and its vector equals the
  stored vector of the query's current text (a re-loaded text has a new hash, so a stale vector
  shows up here);
- summaries, by id and content: one document per run + cluster + summary pass, with the pass's
  current title/description, its `summary_run_id` (the version), and the cluster's current size
  (membership moved by curation shows up here); none left over for deleted clusters or passes.

`--fix` repairs Chroma from SQLite: stale and orphaned documents are deleted, missing and stale
ones written again from the embedding store (summary texts missing there are embedded once).
Then everything is checked again and the report says what was fixed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.options import Options, option
from lmsys_tui.errors import Cancelled, LmsysError, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.embed.space import Space

CHUNK = 2000
VECTOR_TOLERANCE = 1e-4  # float32 round trip through Chroma is exact; anything above is stale
EXAMPLES = 5
_META = ("query_id", "model", "language", "conversation_id", "dataset_id")


@dataclass
class _Found:
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


def _sample(ids: list[Any]) -> str:
    shown = ", ".join(map(str, ids[:EXAMPLES]))
    return shown + (", ..." if len(ids) > EXAMPLES else "")


class _Chroma:
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
    from lmsys_tui.core.browse import get_run
    from lmsys_tui.core.embed.space import Space

    conn.row_factory = sqlite3.Row
    try:
        run = get_run(conn, run_id)
    finally:
        conn.row_factory = None
    if not run["embedding_provider"] or not run["embedding_model"] or not run["embedding_dim"]:
        raise UsageError(f"run {run_id!r} does not record its embedding space")
    return Space(
        str(run["embedding_provider"]), str(run["embedding_model"]), int(run["embedding_dim"])
    )


def _all_ids(collection: Any, where: dict[str, Any] | None = None) -> list[str]:
    out: list[str] = []
    offset = 0
    while True:
        got = collection.get(include=[], where=where, limit=10_000, offset=offset)["ids"]
        out.extend(got)
        if len(got) < 10_000:
            return out
        offset += len(got)


def _check_space(collection: Any, space: Space, kind: str, found: _Found) -> None:
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
    found: _Found,
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


def _check_summaries(conn: sqlite3.Connection, run_id: str, col: Any | None, found: _Found) -> None:
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


def _report(
    run_id: str, space: Space, found: _Found, queries_col: Any | None, summaries_col: Any | None
) -> dict[str, Any]:
    from lmsys_tui.core.store.vectors import queries_collection_name, summaries_collection_name

    issues = list(found.space_issues)
    if queries_col is None and found.expected:
        issues.append(f"no Chroma collection {queries_collection_name(space)} for {space.key}")
    elif found.missing:
        issues.append(
            f"{len(found.missing):,} queries of the run are not in Chroma: {_sample(found.missing)}"
        )
    if found.meta_mismatch:
        issues.append(
            f"{len(found.meta_mismatch):,} queries have metadata that differs from SQLite:"
            f" {_sample(found.meta_mismatch)}"
        )
    if found.vector_mismatch:
        issues.append(
            f"{len(found.vector_mismatch):,} queries have a vector that is not their text's"
            f" stored vector{' (wrong dimension)' if found.wrong_dim else ''}:"
            f" {_sample(found.vector_mismatch)}"
        )
    if found.extra:
        issues.append(
            f"{len(found.extra):,} Chroma documents point at queries SQLite does not have:"
            f" {_sample(found.extra)}"
        )
    if summaries_col is None and found.sum_expected:
        issues.append(
            f"run_id {run_id} not present in Chroma summaries collection"
            f" {summaries_collection_name(space)}"
        )
    elif found.sum_missing:
        issues.append(
            f"{len(found.sum_missing):,} summaries are not in Chroma: {_sample(found.sum_missing)}"
        )
    if found.sum_stale:
        issues.append(
            f"{len(found.sum_stale):,} summaries differ from SQLite (text, pass or cluster size):"
            f" {_sample(found.sum_stale)}"
        )
    if found.sum_extra:
        issues.append(
            f"{len(found.sum_extra):,} Chroma summaries have no row in SQLite:"
            f" {_sample(found.sum_extra)}"
        )
    return {
        "run_id": run_id,
        "space": {
            "embedding_provider": space.provider,
            "embedding_model": space.model,
            "embedding_dimension": space.dim,
            "key": space.key,
        },
        "sqlite": {
            "summary_count": len(found.sum_expected),
            "query_count": found.expected + found.not_embedded,
            "queries_with_vectors": found.expected,
            "queries_without_vectors": found.not_embedded,
        },
        "chroma": {
            "summary_count": found.sum_present,
            "runs_in_summaries": found.runs_in_summaries,
            "summaries_collection": summaries_col.name if summaries_col is not None else None,
            "queries_collection": queries_col.name if queries_col is not None else None,
            "queries_present": found.present,
            "missing_queries": len(found.missing),
            "extra_queries": len(found.extra),
            "metadata_mismatch": len(found.meta_mismatch),
            "vector_mismatch": len(found.vector_mismatch),
            "missing_summaries": len(found.sum_missing),
            "stale_summaries": len(found.sum_stale),
            "extra_summaries": len(found.sum_extra),
        },
        "status": "ok" if not issues else "mismatch",
        "issues": issues,
    }


def _inspect(
    conn: sqlite3.Connection,
    db_path: Path,
    run_id: str,
    chroma: _Chroma,
    progress: Progress,
    cancelled: CancelCheck,
) -> tuple[Space, _Found, Any, Any]:
    space = _run_space(conn, run_id)
    found = _Found()
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


def _repair(
    db_path: Path,
    run_id: str,
    space: Space,
    found: _Found,
    chroma: _Chroma,
    cancelled: CancelCheck,
    backend: str,
) -> dict[str, int]:
    """Make Chroma agree with SQLite for this run (see the module docstring)."""
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
            Store(path=db_path, engine=None),
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


@dataclass(frozen=True)
class VerifyOptions(Options):
    """`verify sync`'s options (its run is the command's argument)."""

    fix: bool = option(False)
    chroma_host: str | None = option()
    chroma_port: int | None = option()
    embed_backend: str = option("auto")  # for the summary texts --fix must embed


def verify_sync(
    db_path: Path,
    run_id: str,
    *,
    chroma_path: Path | None = None,
    chroma_host: str | None = None,
    chroma_port: int | None = None,
    fix: bool = False,
    backend: str = "auto",
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> dict[str, Any]:
    """The sync report of one run (reference keys first); with `fix`, repaired and re-checked."""
    from lmsys_tui.core.store import schema

    started = time.perf_counter()
    if schema.ensure_current(db_path) is None:
        raise NotFoundError(f"no lmsys-tui store at {db_path}")
    chroma = _Chroma(chroma_path, chroma_host, chroma_port)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        space, found, qcol, scol = _inspect(conn, db_path, run_id, chroma, progress, cancelled)
        report = _report(run_id, space, found, qcol, scol)
        if fix and report["status"] != "ok":
            try:
                fixed = _repair(db_path, run_id, space, found, chroma, cancelled, backend)
            except LmsysError:
                raise
            except Exception as exc:  # Chroma raises its own kinds; say which step failed
                raise LmsysError(f"repair failed: {type(exc).__name__}: {exc}") from exc
            before = report["issues"]
            space, found, qcol, scol = _inspect(conn, db_path, run_id, chroma, progress, cancelled)
            report = _report(run_id, space, found, qcol, scol)
            report["fixed"] = fixed | {"issues_before": before}
    finally:
        conn.close()
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report
