"""A clustered store on real data for the summary and hierarchy tests.

Built the way a user builds it: real ShareGPT first turns through the real load stage, then the
real `cluster kmeans` stage (which embeds them with the bundled MiniLM model, offline, and
writes clustering_runs / clusters with centroids and c-TF-IDF keywords / query_clusters with
distances). Embedding takes a while here, so the store is built once per session and copied
(queries.db and its embeddings.db) into each test's home; `RUN_ID` is set by the build.

`write_run` writes the same rows directly; only the benchmark uses it, for runs whose
vectors are made more cheaply than with the model (see tests/bench/test_llm_bench.py).
`query` reads the store back for the assertions of both test modules.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

N_QUERIES = 400
N_CLUSTERS = 30
RUN_ID = ""  # set when the session's store is built (the stage names its runs)
_TEMPLATE: Path | None = None


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    """Every row of `sql` on the store at `db`, as tuples."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _build(path: Path) -> str:
    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.cluster.stage import EmbedOptions
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.store.db import open_store

    store = open_store(path)
    try:
        run_load(store, sharegpt.read(), sharegpt.info(), limit=N_QUERIES)
        # torch: an ONNX export would cost more than these few hundred texts
        run = run_kmeans(
            store,
            KMeansParams(n_clusters=N_CLUSTERS, n_init=3),
            embed_opts=EmbedOptions(embed_backend="torch"),
        )
    finally:
        store.close()
    for db in (path, path.with_name("embeddings.db")):
        if db.exists():
            conn = sqlite3.connect(db)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
    return run.run_id


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

    from lmsys_tui.core.store.sql import db_timestamp

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
    global _TEMPLATE, RUN_ID
    if _TEMPLATE is None:
        folder = Path(tempfile.mkdtemp(prefix="lmsys-tui-summary-fixture-"))
        RUN_ID = _build(folder / "queries.db")
        _TEMPLATE = folder / "queries.db"
    home.mkdir(parents=True, exist_ok=True)
    for name in ("queries.db", "embeddings.db"):
        if (_TEMPLATE.parent / name).exists():
            shutil.copyfile(_TEMPLATE.parent / name, home / name)
    return home / "queries.db"
