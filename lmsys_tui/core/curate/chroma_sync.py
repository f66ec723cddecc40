"""After an edit: the run's summary documents in Chroma follow SQLite for the touched clusters.

Only passes already in Chroma are kept in step (a pass summarised without --use-chroma has no
documents to update, and `verify sync` reports those as it did before the edit). For each
touched cluster: documents of clusters that no longer exist (merged, deleted) are deleted;
the others are written again with the metadata `verify sync` expects (title, size); a text
that did not change keeps its vector, a new text (rename) is embedded once. Anything Chroma
refuses is reported, never raised: the edit is committed, `verify sync --fix` repairs.

An edit owes Chroma this update from its commit on: `mark_pending` records it in the edit's own
transaction and `finish_pending` pays it and drops the marker, so an edit killed (or refused by
Chroma) after its commit is finished by the next edit, undo or `verify sync` of the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError

if TYPE_CHECKING:
    from lmsys_tui.core.curate.frame import Chroma


def _expected(db: Path, run_id: str) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The run's space and every summary document SQLite implies (as `verify sync` builds it)."""
    from lmsys_tui.core.embed.space import run_space
    from lmsys_tui.core.read.runs import get_run
    from lmsys_tui.core.search.verify.checks import Found, _check_summaries

    with sql.reader(db) as conn:
        space = run_space(get_run(conn, run_id, finished=False))
        found = Found()
        _check_summaries(conn, run_id, None, found)
    return space, found.sum_expected


_RUN = "SELECT 1 FROM clustering_runs WHERE run_id = ?"


def mark_pending(conn: Any, run_id: str, clusters: set[int]) -> None:
    """Inside the edit's transaction: its clusters' documents must still follow it."""
    conn.execute(
        "INSERT INTO chroma_pending (run_id, clusters, created_at) VALUES (?, ?, ?)",
        (run_id, json.dumps(sorted(clusters)), sql.db_timestamp(sql.utcnow())),
    )


def finish_pending(db: Path, chroma: Chroma) -> dict[str, dict[str, Any]]:
    """Bring Chroma in step for every edit still marked (each run's clusters at once), then
    drop those markers; a run's result by run id. A run Chroma refused keeps its markers; a
    deleted run's markers are dropped (its documents went with it)."""
    with sql.maybe_reader(db) as conn:
        if conn is None:
            return {}
        marks = sql.tuples(conn, "SELECT id, run_id, clusters FROM chroma_pending ORDER BY id")
        owed: dict[str, tuple[list[int], set[int]]] = {}
        for mark_id, run_id, clusters in marks:
            ids, touched = owed.setdefault(run_id, ([], set()))
            ids.append(int(mark_id))
            touched.update(int(c) for c in sql.loads(clusters, []))
        gone = {r for r in owed if not sql.one(conn, _RUN, (r,))}
    results: dict[str, dict[str, Any]] = {}
    for run_id, (ids, touched) in owed.items():
        if run_id in gone:
            result = {"status": "run deleted"}
        else:
            result = sync_summaries(db, run_id, touched, chroma)
        if result["status"] != "failed":
            with sql.file_transaction(db) as conn:
                done = sql.id_list(ids)
                conn.execute(f"DELETE FROM chroma_pending WHERE id {sql.IN_IDS}", (done,))
        results[run_id] = result
    return results


def finish_edit(db: Path, run_id: str, chroma: Chroma) -> dict[str, Any]:
    """After an edit's commit: what it (and any edit still owed) did to the run's documents."""
    # another command may have paid this edit's marker between its commit and here
    return finish_pending(db, chroma).get(run_id, {"status": "done", "by": "another command"})


def sync_summaries(db: Path, run_id: str, clusters: set[int], chroma: Chroma) -> dict[str, Any]:
    """Bring the touched clusters' summary documents in line; what was done, or why not."""
    if chroma.host is None and (chroma.path is None or not Path(chroma.path).exists()):
        return {"status": "no chroma"}
    try:
        return _sync(db, run_id, clusters, chroma)
    except Exception as exc:  # Chroma raises its own kinds; the edit itself is committed
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "repair": f"verify sync {run_id} --fix"}  # fmt: skip


def _sync(db: Path, run_id: str, clusters: set[int], chroma: Chroma) -> dict[str, Any]:
    import numpy as np

    from lmsys_tui.core.search.clusters import doc_vectors
    from lmsys_tui.core.store import vectors

    space, expected = _expected(db, run_id)
    if space is None:
        return {"status": "no space"}
    client = vectors.open_chroma(chroma.path, chroma.host, chroma.port)
    try:
        col = vectors.summaries_collection(client, space, create=False)
    except NotFoundError:
        return {"status": "no summaries collection"}
    touched = sorted(clusters)
    present = col.get(
        where={"$and": [{"run_id": run_id}, {"cluster_id": {"$in": touched}}]},
        include=["documents", "embeddings"],
    )
    have = {
        d: (doc, emb)
        for d, doc, emb in zip(
            present["ids"], present["documents"], present["embeddings"], strict=True
        )
    }
    passes = {m["metadata"]["summary_run_id"] for m in expected.values()}
    indexed = {
        p for p in passes if col.get(where={"summary_run_id": p}, limit=1, include=[])["ids"]
    }
    want = {
        d: e
        for d, e in expected.items()
        if e["metadata"]["cluster_id"] in clusters and e["metadata"]["summary_run_id"] in indexed
    }
    drop = [d for d in have if d not in want]
    if drop:
        col.delete(ids=drop)
    ids = list(want)
    if ids:
        docs = [want[d]["document"] for d in ids]
        fresh = [i for i, d in enumerate(ids) if d not in have or have[d][0] != docs[i]]
        vecs = [None if i in fresh else have[d][1] for i, d in enumerate(ids)]
        if fresh:
            new = doc_vectors(db, space, [docs[i] for i in fresh], chroma.backend)
            for i, vec in zip(fresh, new, strict=True):
                vecs[i] = vec
        col.upsert(
            ids=ids,
            embeddings=np.asarray(vecs, dtype=np.float32),
            documents=docs,
            metadatas=[want[d]["metadata"] for d in ids],
        )
    return {"status": "done", "written": len(ids), "deleted": len(drop)}
