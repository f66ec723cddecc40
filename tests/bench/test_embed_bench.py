"""Embedding throughput and vector reads, against the bare libraries in the same run.

Run: pytest tests/bench/test_embed_bench.py -s  (LMSYS_BENCH_TEXTS=5000 for the issue's size)

1. Texts/s on N real ShareGPT first turns (default 2,000): bare `SentenceTransformer.encode`
   (the baseline), our stage with --backend torch, onnx (fp32) and onnx-int8, each into a
   fresh store; then a warm re-run (nothing to embed). Targets (issue 3): stage torch
   >= 0.95x bare; ONNX >= 2x bare torch; warm re-run >= 100x faster than cold.
2. Agreement with torch on the same texts: per-text cosine (min, mean) and whether k-means
   (k=20, same seed) finds the same clusters (adjusted Rand index), next to the ARI of
   k-means with another seed on the torch vectors (what k-means alone changes).
3. Reading vectors: 100k synthetic vectors written through the store API in 64-vector
   batches (as the stage writes them), read back with `load_vectors` (all, and a random 10%),
   against `np.load` of the same matrix from a .npy file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from lmsys_tui.core.embed import embed_queries, load_vectors, resolve_space
from lmsys_tui.core.embed.encoders import get_encoder
from lmsys_tui.core.embed.model import load_sentence_transformer
from lmsys_tui.core.embed.space import model_source
from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources import sharegpt
from lmsys_tui.core.sources.base import Conversation
from lmsys_tui.core.store.db import open_store
from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
from lmsys_tui.core.text import normalise

N = int(os.environ.get("LMSYS_BENCH_TEXTS", "2000"))
SYNTHETIC = int(os.environ.get("LMSYS_BENCH_VECTORS", "100000"))
RESULTS: dict[str, object] = {}


def _conversations(n: int) -> list[Conversation]:
    return [c for c in islice(sharegpt.read(), n * 2) if isinstance(c, Conversation)][:n]


def _store(folder: Path, convs: list[Conversation]):
    store = open_store(folder / "queries.db")
    run_load(store, iter(convs), sharegpt.info())
    return store


def _report(name: str, value: object) -> None:
    RESULTS[name] = value
    print(f"  {name}: {value}")


@pytest.fixture(scope="module")
def texts_and_convs():
    convs = _conversations(N)
    # what the stage embeds: one per distinct normalised text
    distinct = list(dict.fromkeys(normalise(c.text) for c in convs))
    return distinct, convs


def test_embedding_throughput_and_agreement(tmp_path, texts_and_convs) -> None:
    texts, convs = texts_and_convs
    space = resolve_space()
    cache = tmp_path / "cache"
    # warm-ups outside the timings: model loads, the one-time ONNX export and quantisation
    st = load_sentence_transformer(model_source(space), "cpu")
    st.encode(texts[:8])
    for backend in ("torch", "onnx", "onnx-int8"):
        get_encoder(space, backend, cache)[0].encode(texts[:8])

    def bare_encode() -> tuple[np.ndarray, float]:
        t = time.perf_counter()
        out = st.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return out, time.perf_counter() - t

    def stage(backend: str, name: str) -> tuple[float, object]:
        folder = tmp_path / name
        folder.mkdir()
        store = _store(folder, convs)
        t = time.perf_counter()
        summary = embed_queries(store, space, backend=backend, cache_dir=cache)
        seconds = time.perf_counter() - t
        assert summary.embedded == len(texts)
        return seconds, store

    # bare torch and our torch stage alternate, best of two each: the machine is shared
    bare, bare_s = bare_encode()
    torch_s, torch_store = stage("torch", "torch")
    bare_s = min(bare_s, bare_encode()[1])
    torch_store.close()
    torch_s = min(torch_s, stage("torch", "torch-2")[0])
    bare_rate = len(texts) / bare_s
    print(f"\n{len(texts)} distinct real ShareGPT first turns")
    _report("bare SentenceTransformer.encode texts/s", round(bare_rate, 1))
    rates = {"torch": len(texts) / torch_s}
    vectors = {"torch": load_vectors(open_store(tmp_path / "torch" / "queries.db"), space)}
    _report(
        "stage --backend torch texts/s",
        f"{rates['torch']:.1f} ({rates['torch'] / bare_rate:.2f}x bare torch)",
    )
    for backend in ("onnx", "onnx-int8"):
        cold, store = stage(backend, backend)
        rates[backend] = len(texts) / cold
        vectors[backend] = load_vectors(store, space)
        _report(
            f"stage --backend {backend} texts/s",
            f"{rates[backend]:.1f} ({rates[backend] / bare_rate:.2f}x bare torch)",
        )
        if backend == "onnx":
            t = time.perf_counter()
            warm = embed_queries(store, space, backend=backend, cache_dir=cache)
            warm_s = time.perf_counter() - t
            assert warm.embedded == 0
            _report("warm re-run seconds", f"{warm_s:.3f} ({cold / warm_s:.0f}x faster than cold)")
            RESULTS["warm_ratio"] = cold / warm_s
        store.close()

    # agreement, on the same queries in the same order
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    ids_t, X_t = vectors["torch"]
    labels_t = KMeans(20, n_init=4, random_state=0).fit_predict(X_t)
    # how much k-means itself moves: the same torch vectors, another seed
    noise = adjusted_rand_score(labels_t, KMeans(20, n_init=4, random_state=1).fit_predict(X_t))
    _report("k-means(20) ARI torch vs torch, other seed (baseline)", round(noise, 3))
    for backend in ("onnx", "onnx-int8"):
        ids_b, X_b = vectors[backend]
        assert np.array_equal(ids_t, ids_b)
        cos = (X_t * X_b).sum(axis=1)
        ari = adjusted_rand_score(labels_t, KMeans(20, n_init=4, random_state=0).fit_predict(X_b))
        _report(
            f"{backend} vs torch",
            f"cosine min {cos.min():.4f} mean {cos.mean():.5f}; k-means(20) ARI {ari:.3f}",
        )
        RESULTS[f"{backend}_cos_min"] = float(cos.min())
        RESULTS[f"{backend}_ari"] = ari
    base = (X_t * bare[_order(texts, ids_t, tmp_path / "torch" / "queries.db")]).sum(axis=1)
    _report("stage torch vs bare encode cosine min", f"{base.min():.6f}")

    # targets met here; the ">= 2x bare torch via ONNX" is not (see the README):
    # fp32 ONNX runs at ~1x torch on these long texts, int8 at ~1.5x but below the agreement bar
    assert rates["torch"] >= 0.95 * bare_rate
    assert RESULTS["warm_ratio"] >= 100
    assert RESULTS["onnx_cos_min"] >= 0.99


def _order(texts: list[str], ids: np.ndarray, db: Path) -> list[int]:
    """Row of `texts` for each loaded query id."""
    where = {t: i for i, t in enumerate(texts)}
    conn = sqlite3.connect(db)
    by_id = dict(conn.execute("SELECT id, query_text FROM queries"))
    conn.close()
    return [where[normalise(by_id[int(q)])] for q in ids]


def test_reading_stored_vectors(tmp_path) -> None:
    import hashlib

    dim = 384
    store = open_store(tmp_path / "queries.db")
    store.close()
    rng = np.random.default_rng(0)
    hashes = [
        hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest() for i in range(SYNTHETIC)
    ]
    conn = sqlite3.connect(tmp_path / "queries.db")
    conn.execute(
        "INSERT INTO datasets (id, label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES (1, 'synthetic', 'file', 'done', 0, '{}', '2025-01-01', '2025-01-01')"
    )
    conn.executemany(
        "INSERT INTO queries (dataset_id, conversation_id, query_text, text_hash, created_at)"
        " VALUES (1, ?, ?, ?, '2025-01-01')",
        ((str(i), f"synthetic query {i} " + "x" * int(rng.integers(20, 2000)), h)
         for i, h in enumerate(hashes)),
    )  # fmt: skip
    conn.commit()
    conn.close()
    space = resolve_space()
    matrix = rng.standard_normal((SYNTHETIC, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    t = time.perf_counter()
    with EmbeddingStore(embeddings_path(tmp_path / "queries.db")) as vs:
        sid = vs.ensure_space(space)
        for i in range(0, SYNTHETIC, 64):
            vs.put(sid, hashes[i : i + 64], matrix[i : i + 64])
    write_s = time.perf_counter() - t
    npy = tmp_path / "m.npy"
    np.save(npy, matrix)
    np.load(npy)  # page cache warm, and the process holds the memory both will fill
    store = open_store(tmp_path / "queries.db")
    load_vectors(store, space, [1, 2, 3])
    t = time.perf_counter()
    ref = np.load(npy)
    npy_s = time.perf_counter() - t
    t = time.perf_counter()
    ids, X = load_vectors(store, space)
    all_s = time.perf_counter() - t
    assert len(ids) == SYNTHETIC and np.array_equal(X, ref)
    pick = rng.choice(np.arange(1, SYNTHETIC + 1), SYNTHETIC // 10, replace=False).tolist()
    t = time.perf_counter()
    ids10, X10 = load_vectors(store, space, pick)
    some_s = time.perf_counter() - t
    assert ids10.tolist() == pick and np.array_equal(X10, ref[np.asarray(pick) - 1])
    store.close()
    size = embeddings_path(tmp_path / "queries.db").stat().st_size / 2**20
    print(f"\n{SYNTHETIC:,} x {dim} synthetic vectors ({size:.0f} MiB embedding store)")
    _report("write through the store API, 64 per batch, s", round(write_s, 2))
    _report("load_vectors all, s", f"{all_s:.3f} ({SYNTHETIC / all_s:,.0f} vectors/s)")
    _report("load_vectors random 10% in given order, s", round(some_s, 3))
    _report("np.load of the same matrix, s", f"{npy_s:.3f} (load_vectors {all_s / npy_s:.1f}x)")
