"""Summaries in Chroma (`--use-chroma`): what `search-cluster` ranks and `verify sync` checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store


def index_summaries(
    store: Store,
    run_id: str,
    summary_run_id: str,
    *,
    chroma_path: str | None = None,
    chroma_host: str | None = None,
    chroma_port: int | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Embed the pass's summaries in the run's space and upsert them into Chroma.

    One document per run + cluster + summary pass (so passes never overwrite each other),
    title + description embedded through the embedding store (each text once), metadata as
    `verify sync` expects it. Failed clusters have nothing to index.
    """
    import numpy as np

    from lmsys_tui.core.cluster.runs import load_clusters, load_run
    from lmsys_tui.core.embed.space import run_space
    from lmsys_tui.core.search.clusters import doc_vectors
    from lmsys_tui.core.store import vectors
    from lmsys_tui.core.summarize.passes import summaries_for_pass

    space = run_space(load_run(store, run_id))
    if space is None:
        raise UsageError(f"run {run_id!r} records no embedding space: nothing to embed in")
    _, rows = summaries_for_pass(store, run_id, summary_run_id=summary_run_id)
    sizes = {c.cluster_id: c.size for c in load_clusters(store, run_id)}
    ids, docs, metas = [], [], []
    for cid, row in rows.items():
        document = vectors.summary_document(row["title"], row["description"])
        if row["status"] != "done" or not document:
            continue
        meta = {
            "run_id": run_id,
            "cluster_id": int(cid),
            "summary_run_id": summary_run_id,
            "alias": row["alias"],
            "title": row["title"],
            "description": row["description"],
            "num_queries": int(sizes.get(cid, row["num_queries"] or 0)),
        }
        ids.append(vectors.summary_doc_id(run_id, cid, summary_run_id))
        docs.append(document)
        metas.append({k: v for k, v in meta.items() if v is not None})
    client = vectors.open_chroma(chroma_path, chroma_host, chroma_port)
    collection = vectors.summaries_collection(client, space)
    for start in range(0, len(ids), 500):
        part = slice(start, start + 500)
        vecs = doc_vectors(store.path, space, docs[part], backend=backend)
        collection.upsert(
            ids=ids[part],
            embeddings=np.asarray(vecs, dtype=np.float32),
            documents=docs[part],
            metadatas=metas[part],
        )
    return {
        "collection": collection.name,
        "written": len(ids),
        "where": vectors.where(chroma_path, chroma_host, chroma_port),
    }
