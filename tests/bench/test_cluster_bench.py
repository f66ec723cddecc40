"""Clustering at scale: our stages against bare sklearn / hdbscan on the same stored vectors.

Run: pytest tests/bench/test_cluster_bench.py -s   (LMSYS_BENCH_1M=1 adds the 1M k-means case)

Data: synthetic 384-d unit vectors with synthetic texts, written through the real load stage
and the real embedding store, so `cluster kmeans` / `cluster hdbscan` find every vector stored
and embed nothing. The vectors mimic sentence embeddings: 1,000 topics of Zipf-like sizes; a
query is its topic's direction plus a spread along 8 topic-specific directions and a little
isotropic noise, so same-topic cosine is ~0.6 and cross-topic ~0 (MiniLM on ShareGPT: ~0.5-0.7
within a k-means cluster). Density clustering time depends on such structure: structureless
noise is its worst case. Each measurement runs in its own process so peak memory (ru_maxrss)
belongs to that measurement alone.

Targets (issue 3): k-means k=200 on 100k x 384 <= 1.2x the time of bare `MiniBatchKMeans`
fit + predict on the same matrix (our fit + assign, as the run records them; the whole stage's
time is printed beside it); 1M x 384 with peak memory <= 2.5 GB; HDBSCAN on 50k
real-dimension vectors <= 20 s. HDBSCAN after PCA-50 (the default before `--reduce-dims 5`)
grew about as n^2 on these vectors (Prim's on a KD-tree, 10k: 6 s, 20k: 21 s here), so 50k met
the target only through the fit-sample path (`--fit-sample 10000`); over 5 dims the fit is
about linear here (20k: 12.3 s, 50k: 31.8 s on a busy machine), so a sample saves little (see
test_hdbscan_sample_bench.py). The default (fit on all 50k) is measured and printed too. 200k
runs the fit-sample path with 20k.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

DIM = 384
TOPICS = 1000
SPREAD_DIMS = 8


def _word(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    i += 26 * 26  # at least three letters
    while i:
        i, r = divmod(i, 26)
        out = letters[r] + out
    return out


def build(home: Path, n: int) -> None:
    """n synthetic queries in the store, their vectors in the embedding store."""
    import numpy as np

    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
    from lmsys_tui.core.text import text_hash

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    bases = rng.normal(size=(TOPICS, SPREAD_DIMS, DIM)).astype(np.float32)
    bases /= np.linalg.norm(bases, axis=2, keepdims=True)
    weights = 1.0 / np.arange(1, TOPICS + 1) ** 0.8
    topics = rng.choice(TOPICS, size=n, p=weights / weights.sum())
    topic_words = [[_word(t * 3 + k) for k in range(3)] for t in range(TOPICS)]

    def vectors(rows: np.ndarray) -> np.ndarray:
        t = topics[rows]
        z = rng.normal(size=(len(rows), SPREAD_DIMS)).astype(np.float32) / np.sqrt(SPREAD_DIMS)
        spread = np.einsum("nk,nkd->nd", z, bases[t]) * np.sqrt(0.5)
        noise = rng.normal(size=(len(rows), DIM)).astype(np.float32) / np.sqrt(DIM)
        x = centers[t] + spread + noise * np.sqrt(0.17)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def text(i: int) -> str:
        return f"{' '.join(topic_words[topics[i]])} request {_word(10_000 + i)}"

    info = SourceInfo(source="file", ref="synthetic", default_label="synthetic",
                      detect_language=False)  # fmt: skip
    store = open_store(home / "queries.db")
    items = (Conversation(conversation_id=str(i), text=text(i), model="m") for i in range(n))
    run_load(store, items, info, batch_size=50_000)
    store.close()
    space = resolve_space()
    with EmbeddingStore(embeddings_path(home / "queries.db")) as es:
        sid = es.ensure_space(space)
        step = 50_000
        for s in range(0, n, step):
            rows = np.arange(s, min(n, s + step))
            es.put(sid, [text_hash(text(int(i))) for i in rows], vectors(rows))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours_kmeans(home: Path) -> dict:
    import sklearn.cluster  # noqa: F401 - both sides pay the import outside the timing

    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.store.db import open_store

    store = open_store(home / "queries.db")
    t = time.perf_counter()
    s = run_kmeans(store, KMeansParams(n_clusters=200))
    seconds = time.perf_counter() - t
    m = s.metrics
    return {"seconds": seconds, "fit": m["fit_seconds"], "assign": m["assign_seconds"],
            "inertia": m["inertia"], "epochs": m["epochs"], "embedded": s.embedded["embedded"],
            "peak_mb": _peak_mb()}  # fmt: skip


def bare_kmeans(home: Path) -> dict:
    from sklearn.cluster import MiniBatchKMeans

    from lmsys_tui.core.embed import load_vectors, resolve_space
    from lmsys_tui.core.store.db import open_store

    store = open_store(home / "queries.db")
    t = time.perf_counter()
    _, X = load_vectors(store, resolve_space())
    load = time.perf_counter() - t
    t = time.perf_counter()
    model = MiniBatchKMeans(n_clusters=200, batch_size=4096, random_state=42).fit(X)
    model.predict(X)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "load": load, "inertia": -model.score(X),
            "n_steps": int(model.n_steps_), "peak_mb": _peak_mb()}  # fmt: skip


def ours_hdbscan(home: Path, fit_sample: int = 100_000) -> dict:
    from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan
    from lmsys_tui.core.store.db import open_store

    store = open_store(home / "queries.db")
    t = time.perf_counter()
    s = run_hdbscan(store, HdbscanParams(fit_sample=fit_sample))
    m = s.metrics
    return {"seconds": time.perf_counter() - t, "fit": m["fit_seconds"],
            "predict": m["predict_seconds"], "reduce": m["reduce_seconds"],
            "clusters": m["n_clusters"], "noise": m["noise_fraction"],
            "fit_rows": m["fit_rows"], "peak_mb": _peak_mb()}  # fmt: skip


def _worker(fn: str, home: Path, *args: str) -> dict:
    env = dict(os.environ)
    res = subprocess.run(
        [sys.executable, __file__, fn, str(home), *args],
        env=env, capture_output=True, text=True, timeout=7200, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def homes() -> dict[int, Path]:
    built: dict[int, Path] = {}
    root = Path(tempfile.mkdtemp(prefix="lmsys-tui-cluster-bench-"))
    sizes = [50_000, 100_000, 200_000] + ([1_000_000] if os.environ.get("LMSYS_BENCH_1M") else [])
    for n in sizes:
        home = root / str(n)
        home.mkdir()
        t = time.perf_counter()
        _worker(f"build:{n}", home)
        print(f"\nbuilt {n:,} queries + vectors in {time.perf_counter() - t:.1f}s")
        built[n] = home
    return built


def test_kmeans_100k_against_bare_sklearn(homes) -> None:
    home = homes[100_000]
    runs = [(_worker("bare_kmeans", home), _worker("ours_kmeans", home)) for _ in range(2)]
    bare = min((b for b, _ in runs), key=lambda r: r["seconds"])
    ours = min((o for _, o in runs), key=lambda r: r["seconds"])
    compute = ours["fit"] + ours["assign"]
    ratio = compute / bare["seconds"]
    print(f"\nk-means k=200, 100k x 384: ours fit+assign {compute:.1f}s (fit {ours['fit']:.1f}s "
          f"in {ours['epochs']} epochs with k-means++ seeding, assign {ours['assign']:.2f}s, "
          f"inertia {ours['inertia']:.0f}) vs bare sklearn fit+predict {bare['seconds']:.1f}s "
          f"(inertia {bare['inertia']:.0f}, {bare['n_steps']} steps): ratio {ratio:.2f}x. "
          f"The whole stage: {ours['seconds']:.1f}s, peak {ours['peak_mb']:.0f} MB (it also "
          f"checks every query has its vector, reads them, computes c-TF-IDF keywords and a "
          f"sampled silhouette, and writes 100k memberships; bare's vector read "
          f"{bare['load']:.1f}s is not in its time)")  # fmt: skip
    assert ours["embedded"] == 0
    assert ratio <= 1.2
    assert ours["inertia"] <= bare["inertia"] * 1.01


@pytest.mark.skipif(not os.environ.get("LMSYS_BENCH_1M"), reason="set LMSYS_BENCH_1M=1")
def test_kmeans_1m_peak_memory(homes) -> None:
    home = homes[1_000_000]
    bare = _worker("bare_kmeans", home)
    ours = _worker("ours_kmeans", home)
    print(f"\nk-means k=200, 1M x 384: ours {ours['seconds']:.0f}s, peak {ours['peak_mb']:.0f} MB "
          f"(fit {ours['fit']:.0f}s, {ours['epochs']} epochs); bare sklearn fit+predict "
          f"{bare['seconds']:.0f}s, peak {bare['peak_mb']:.0f} MB; "
          f"ratio {ours['seconds'] / bare['seconds']:.2f}x")  # fmt: skip
    assert ours["peak_mb"] <= 2.5 * 1024


def _hdbscan_line(n: int, r: dict) -> str:
    return (f"hdbscan, {n:,} x 384, fit on {r['fit_rows']:,}: {r['seconds']:.1f}s end to "
            f"end (reduce {r['reduce']:.1f}s, fit {r['fit']:.1f}s, approximate_predict "
            f"{r['predict']:.1f}s), {r['clusters']} clusters, noise {r['noise']:.1%}, peak "
            f"{r['peak_mb']:.0f} MB")  # fmt: skip


def test_hdbscan_50k(homes) -> None:
    """Defaults (fit on all 50k) and with --fit-sample 10000."""
    sampled = _worker("ours_hdbscan", homes[50_000], "10000")
    print("\n" + _hdbscan_line(50_000, sampled))
    full = _worker("ours_hdbscan", homes[50_000])
    print("\n" + _hdbscan_line(50_000, full))
    assert sampled["fit_rows"] == 10_000 and full["fit_rows"] == 50_000
    assert sampled["seconds"] <= 20


def test_hdbscan_200k_fit_sample_path(homes) -> None:
    r = _worker("ours_hdbscan", homes[200_000], "20000")
    print("\n" + _hdbscan_line(200_000, r))
    assert r["fit_rows"] == 20_000


if __name__ == "__main__":
    what, where = sys.argv[1], Path(sys.argv[2])
    if what.startswith("build:"):
        build(where, int(what.split(":")[1]))
        print(json.dumps({"ok": True}))
    else:
        extra = [int(a) for a in sys.argv[3:]]
        print(json.dumps(globals()[what](where, *extra)))
