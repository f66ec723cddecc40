"""`search-cluster`: rank one run's clusters against a text, inside ONE summary pass.

Every cluster of the run (noise excluded) is ranked exactly, so top-k always means top-k: the
reference asked Chroma for k summaries across all passes and runs and filtered afterwards.

- With a summary pass (explicit, by alias, or the newest with summaries), a cluster's document
  is its title + description, as the reference embeds it; a cluster the pass has no summary for
  is ranked by its keywords instead of vanishing.
- Before any summary exists, a cluster is ranked by its centroid (the mean of its members'
  vectors) and its c-TF-IDF keywords: the distance is the mean of the cosine distance to the
  centroid and to the embedded keyword list.

Document vectors go into the embedding store like any text (keyed by space and text hash), so
each document is embedded once; the next search reads it back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.read.tree import cluster_title, pass_summaries
from lmsys_tui.core.search.types import ClusterHit
from lmsys_tui.core.store.sql import loads
from lmsys_tui.core.text import normalise, text_hash

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.embed.space import Space

KEYWORDS_IN_DOC = 12


@dataclass
class ClusterDoc:
    cluster_id: int
    size: int
    title: str
    description: str | None
    doc: str  # the text that is embedded: title + description, or the keyword list
    centroid: np.ndarray | None
    keyword_doc: str


def cluster_docs(
    conn: sqlite3.Connection, run_id: str, summary_run_id: str | None, dim: int
) -> list[ClusterDoc]:
    """Every non-noise cluster of the run with its document (from the pass, else keywords)."""
    import numpy as np

    found = conn.execute(
        "SELECT cluster_id, size, centroid, keywords FROM clusters"
        " WHERE run_id = ? AND cluster_id <> -1 ORDER BY cluster_id",
        (run_id,),
    ).fetchall()
    summaries = pass_summaries(conn, summary_run_id, [int(r[0]) for r in found])
    out = []
    for cid, size, centroid, keywords in found:
        kws = _keywords(keywords)
        keyword_doc = ", ".join(kws[:KEYWORDS_IN_DOC]) or f"cluster {cid}"
        vec = None
        if centroid is not None and len(centroid) == dim * 4:
            vec = np.frombuffer(centroid, dtype="<f4").astype(np.float32)
            norm = float(np.linalg.norm(vec))
            vec = vec / norm if norm > 0 else None
        summary = summaries.get(int(cid)) or {}
        title, desc = summary.get("title"), summary.get("description")
        summary_doc = "\n".join(t for t in (title, desc) if t)
        out.append(
            ClusterDoc(
                cluster_id=int(cid),
                size=int(size),
                title=cluster_title(int(cid), title, kws),
                description=desc,
                doc=summary_doc or keyword_doc,
                centroid=vec,
                keyword_doc=keyword_doc,
            )
        )
    return out


def _keywords(value: Any) -> list[str]:
    got = loads(value, [])
    return [str(k) for k in got] if isinstance(got, list) else []


def doc_vectors(
    store_path: Path, space: Space, texts: list[str], backend: str = "auto"
) -> np.ndarray:
    """Vectors of `texts` from the embedding store; the missing ones embedded once and kept."""
    import numpy as np

    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    clean = [normalise(t) or "-" for t in texts]
    hashes = [text_hash(t) for t in clean]
    out = np.zeros((len(texts), space.dim), dtype=np.float32)
    if not texts:
        return out
    with EmbeddingStore(embeddings_path(store_path)) as store:
        sid = store.ensure_space(space)
        found = store.get(sid, space.dim, hashes)
        todo = list(dict.fromkeys(h for h in hashes if h not in found))
        if todo:
            from lmsys_tui.core.embed import embed_texts

            first = {h: clean[hashes.index(h)] for h in todo}
            new = embed_texts(space, [first[h] for h in todo], backend=backend)
            store.put(sid, todo, new)
            found.update({h: new[i] for i, h in enumerate(todo)})
    for i, h in enumerate(hashes):
        out[i] = found[h]
    return out


def rank_clusters(
    store_path: Path,
    conn: sqlite3.Connection,
    space: Space,
    run_id: str,
    summary_run_id: str | None,
    qvec: np.ndarray,
    top_k: int,
    backend: str = "auto",
) -> list[ClusterHit]:
    """The `top_k` clusters of the run nearest to `qvec` (see the module docstring)."""
    import numpy as np

    docs = cluster_docs(conn, run_id, summary_run_id, space.dim)
    if not docs:
        return []
    if summary_run_id is not None:
        vecs = doc_vectors(store_path, space, [d.doc for d in docs], backend)
        dist = 1.0 - vecs @ qvec
    else:
        kw = 1.0 - doc_vectors(store_path, space, [d.keyword_doc for d in docs], backend) @ qvec
        cen = np.array(
            [1.0 - float(d.centroid @ qvec) if d.centroid is not None else np.nan for d in docs]
        )
        dist = np.where(np.isnan(cen), kw, (cen + kw) / 2.0)
    ids = np.array([d.cluster_id for d in docs])
    order = np.lexsort((ids, dist))[:top_k]
    return [
        ClusterHit(
            cluster_id=docs[i].cluster_id,
            distance=round(float(dist[i]), 6),
            title=docs[i].title,
            description=docs[i].description,
            num_queries=docs[i].size,
        )
        for i in order.tolist()
    ]
