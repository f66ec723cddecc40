"""Search at 100k stored queries: warm latency, filtered recall, and a cold headless process.

Run: pytest tests/bench/test_search_bench.py -s     (builds ~5 min, then measures ~1 min)

Data: 100k queries whose texts are 20 words drawn from the real ShareGPT vocabulary, written by
the real load stage (so the FTS index is filled by its triggers); synthetic 384-d unit vectors
(200 topics, each a centre plus a spread in its own 16-d subspace) written through the real
embedding store; one clustering run (the 200 topics, each ~0.5% of the queries) published by the
real run writer; the vectors put in a real Chroma folder by the embedding stage's backfill.
0.5% of the queries are in "Esperanto".
Search texts are embedded for real by the bundled MiniLM (ONNX, warm).

Targets (issue 5): p50 of `search` including the query embedding <= 50 ms unfiltered and
<= 60 ms with a 0.5% filter; keyword <= 20 ms; recall@10 of the filtered search against exact
brute force (target 1.0); a whole cold `lmsys-tui --headless search ... --json` <= 1.0 s
(issue 15 item 3; the reference: 6.5 s). The cold process is asserted as a ratio to the floor
measured in the same run (`python -c 'import numpy, onnxruntime, typer'`, the imports no
search can skip), <= 4x: on a quiet machine the floor is ~0.20 s, so 4x is 0.8 s, under the
1.0 s target with a margin, and a busy machine slows both alike (an absolute limit would fail
on load alone). The absolute 1.0 s is asserted too when the machine is quiet (load average
below the cores). The processes run like an installed package: with compiled bytecode
(PYTHONDONTWRITEBYTECODE is dropped from their environment; the first run, not counted,
writes it, fills the OS file cache and makes the memory-mapped copy of the vectors).

Also measured, for the engine choice: the same 0.5% filter pushed inside a Chroma query
(metadata `where`, `ids` allow-list) against the exact numpy rank.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

N = 100_000
DIM = 384
TOPICS = 200
SPREAD_DIMS = 16
RARE = "Esperanto"
REPEATS = 30
TEXTS = [
    "how do I sort a list of dictionaries by a key in python",
    "write a cover letter for a junior data analyst job",
    "explain quantum entanglement simply",
    "translate this paragraph into German",
    "what is the capital of Australia",
    "give me a recipe for vegan lasagna",
    "fix this SQL query that returns duplicate rows",
    "summarise the plot of Hamlet",
    "help me plan a trip to Japan in spring",
    "why does my React component render twice",
]


def _vocabulary() -> list[str]:
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.sources.base import Conversation

    words: dict[str, None] = {}
    for item in sharegpt.read():
        if isinstance(item, Conversation):
            words.update(dict.fromkeys(w.lower() for w in re.findall(r"[A-Za-z]{3,12}", item.text)))
        if len(words) > 20_000:
            break
    return list(words)


def _vectors(rng: Any, topics: Any) -> Any:
    """Unit vectors shaped like sentence embeddings: a topic centre, a spread within the
    topic's own low-dimensional subspace, and a little isotropic noise (as the cluster bench)."""
    import numpy as np

    centers = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    bases = rng.normal(size=(TOPICS, SPREAD_DIMS, DIM)).astype(np.float32)
    bases /= np.linalg.norm(bases, axis=2, keepdims=True)
    out = np.empty((len(topics), DIM), dtype=np.float32)
    for start in range(0, len(topics), 10_000):
        t = topics[start : start + 10_000]
        z = rng.normal(size=(len(t), SPREAD_DIMS)).astype(np.float32) / np.sqrt(SPREAD_DIMS)
        spread = np.einsum("nk,nkd->nd", z, bases[t]) * np.sqrt(0.5)
        noise = rng.normal(size=(len(t), DIM)).astype(np.float32) / np.sqrt(DIM)
        x = centers[t] + spread + noise * np.sqrt(0.17)
        out[start : start + len(t)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def build(home: Path) -> str:
    import numpy as np

    from lmsys_tui.core import chroma
    from lmsys_tui.core.cluster import runs
    from lmsys_tui.core.embed import load_vectors, resolve_space
    from lmsys_tui.core.embed.onnx_export import ensure_onnx
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    rng = np.random.default_rng(0)
    vocab = _vocabulary()
    topics = rng.integers(0, TOPICS, size=N)
    rare = rng.random(N) < 0.005
    models = ["gpt-4", "claude-2", "vicuna-13b", "llama-2-13b-chat", "koala-13b"]

    def items():  # type: ignore[no-untyped-def]
        for i in range(N):
            words = " ".join(vocab[w] for w in rng.integers(0, len(vocab), 20))
            yield Conversation(
                conversation_id=f"c{i}",
                text=f"{words} ({i})",
                model=models[i % len(models)],
                language=RARE if rare[i] else "English",
            )

    space = resolve_space()
    ensure_onnx(space, home / "cache")
    store = open_store(home / "queries.db")
    try:
        run_load(store, items(), SourceInfo("file", None, "bench", total=N, detect_language=False))
        conn = store.engine.raw_connection()
        rows = conn.cursor().execute("SELECT id, text_hash FROM queries ORDER BY id").fetchall()
        conn.close()
        matrix = _vectors(rng, topics)
        with EmbeddingStore(embeddings_path(store.path)) as vectors:
            sid = vectors.ensure_space(space)
            for start in range(0, N, 5000):
                vectors.put(
                    sid, [h for _, h in rows[start : start + 5000]], matrix[start : start + 5000]
                )
        ids, matrix = load_vectors(store, space)
        labels = topics[ids - 1].astype(np.int32)
        centroids = {}
        for t in range(TOPICS):
            c = matrix[labels == t].mean(axis=0)
            centroids[t] = c / np.linalg.norm(c)
        result = runs.ClusterResult(
            ids=ids,
            labels=labels,
            distances=(1.0 - (matrix * np.stack([centroids[t] for t in labels])).sum(1)).astype(
                np.float32
            ),
            confidence=np.ones(N, np.float32),
            centroids=centroids,
            keywords={t: [vocab[t], vocab[t + 1]] for t in range(TOPICS)},
        )
        run_id = runs.start_run(
            store, algorithm="kmeans", size=TOPICS, num_clusters=TOPICS, dataset_id=1,
            space=space.to_dict(), parameters={}, description="bench",
        )  # fmt: skip
        runs.publish(store, run_id, result, embedding_dim=DIM)
        chroma.backfill(store, space, path=home / "chroma")
    finally:
        store.close()
    return run_id


@pytest.fixture(scope="module")
def bench() -> tuple[Path, str]:
    """The bench store; LMSYS_SEARCH_BENCH_HOME reuses one an earlier run built (and kept)."""
    reuse = os.environ.get("LMSYS_SEARCH_BENCH_HOME")
    if reuse and (Path(reuse) / "bench-run-id").is_file():
        return Path(reuse), (Path(reuse) / "bench-run-id").read_text().strip()
    home = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="lmsys-tui-search-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run_id = build(home)
    (home / "bench-run-id").write_text(run_id)
    print(f"\nbuilt {N:,} queries + Chroma in {time.perf_counter() - started:.0f} s at {home}")
    return home, run_id


def _p50(fn: Callable[[int], Any], repeats: int = REPEATS) -> float:
    fn(0)  # warm
    samples = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _text(i: int) -> str:
    return f"{TEXTS[i % len(TEXTS)]} {i}"


def test_search_bench(bench: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from lmsys_tui.core.embed import embed_texts, load_vectors, resolve_space
    from lmsys_tui.core.search import QuerySearch, Searcher
    from lmsys_tui.core.store import vectors
    from lmsys_tui.core.store.db import Store

    home, run_id = bench
    monkeypatch.setenv("LMSYS_TUI_HOME", str(home))  # the ONNX export lives in its cache
    db, space = home / "queries.db", resolve_space()
    searcher = Searcher(db, chroma_path=home / "chroma", backend="onnx")
    rare_ids = np.array(
        [
            r[0]
            for r in searcher.conn().execute(
                "SELECT id FROM queries WHERE language = ? ORDER BY id", (RARE,)
            )
        ]
    )
    share = len(rare_ids) / N
    first = searcher.conn().execute("SELECT query_text FROM queries WHERE id = 1").fetchone()[0]
    words = first.split()[:10]  # each in ~100 of the texts
    cluster = 7
    results: dict[str, float] = {}

    def run(**kw: Any) -> Callable[[int], Any]:
        return lambda i: searcher.search_queries(QuerySearch(text=_text(i), run_id=run_id, **kw))

    results["embed the query text only"] = _p50(
        lambda i: embed_texts(space, [_text(i)], backend="onnx")
    )
    results["semantic, unfiltered (auto -> chroma)"] = _p50(run())
    results["semantic, unfiltered, engine=exact"] = _p50(run(engine="exact"))
    results["semantic, 0.5% cluster filter"] = _p50(run(cluster_ids=(cluster,)))
    results[f"semantic, {share:.2%} language filter"] = _p50(run(languages=(RARE,)))
    results["semantic, 0.5% filter + facets"] = _p50(
        run(cluster_ids=(cluster,), facets=("cluster", "language", "model"))
    )
    results["keyword"] = _p50(
        lambda i: searcher.search_queries(
            QuerySearch(text=words[i % len(words)], run_id=run_id, mode="keyword")
        )
    )
    results["keyword, 0.5% filter"] = _p50(
        lambda i: searcher.search_queries(
            QuerySearch(
                text=words[i % len(words)],
                run_id=run_id,
                mode="keyword",
                languages=(RARE,),
            )
        )
    )
    results["hybrid, unfiltered"] = _p50(run(mode="hybrid"))

    # the alternative the engine choice rejected: the filter inside the Chroma query
    collection = vectors.queries_collection(vectors.open_chroma(home / "chroma"), space)
    qvecs = embed_texts(space, [_text(i) for i in range(REPEATS + 1)], backend="onnx")
    allow = [vectors.query_doc_id(int(q)) for q in rare_ids]
    results["(chroma) where language, k=250"] = _p50(
        lambda i: collection.query(query_embeddings=qvecs[i : i + 1], n_results=250,
                                   where={"language": RARE}, include=["distances"]),
        10,
    )  # fmt: skip
    results["(chroma) ids allow-list 0.5%, k=250"] = _p50(
        lambda i: collection.query(query_embeddings=qvecs[i : i + 1], n_results=250, ids=allow,
                                   include=["distances"]),
        10,
    )  # fmt: skip

    # recall@10 against exact brute force over the stored vectors
    ids_all, matrix = load_vectors(Store(db, None), space)
    members = {
        "cluster": np.array(
            [
                r[0]
                for r in searcher.conn().execute(
                    "SELECT query_id FROM query_clusters WHERE run_id = ? AND cluster_id = ?",
                    (run_id, cluster),
                )
            ]
        ),
        "language": rare_ids,
        "none": ids_all,
    }
    recall: dict[str, float] = {}
    for name, kw in (
        ("0.5% cluster filter", {"cluster_ids": (cluster,)}),
        ("0.5% language filter", {"languages": (RARE,)}),
        ("0.5% cluster filter, engine=chroma", {"cluster_ids": (cluster,), "engine": "chroma"}),
        ("unfiltered (auto -> chroma HNSW), text queries", {}),
    ):
        key = "cluster" if "cluster" in name else "language" if "language" in name else "none"
        allowed = np.isin(ids_all, members[key])
        scores = []
        for i in range(20):
            got = searcher.search_queries(QuerySearch(text=_text(i), run_id=run_id, **kw))
            sims = matrix[allowed] @ qvecs[i]
            truth = ids_all[allowed][np.argsort(-sims)[:10]]
            scores.append(len({h.query_id for h in got.hits} & set(truth.tolist())) / 10)
        recall[name] = statistics.mean(scores)
    # the texts above are random directions to the synthetic vectors (no true neighbours to
    # find); in-distribution queries (stored vectors, slightly moved) measure the HNSW itself
    rng = np.random.default_rng(1)
    scores = []
    for row in rng.choice(len(ids_all), 20, replace=False):
        q = matrix[row] + rng.normal(scale=0.02, size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        got = searcher.chroma.rank(space, q, 10, None, N, lambda: False)
        truth = ids_all[np.argsort(-(matrix @ q))[:10]]
        scores.append(len(set(got.ids.tolist()) & set(truth.tolist())) / 10)
    recall["unfiltered chroma HNSW, in-distribution vectors"] = statistics.mean(scores)

    # a whole cold process
    env = dict(os.environ) | {"LMSYS_TUI_HOME": str(home)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    base = [sys.executable, "-m", "lmsys_tui", "--headless", "search"]
    store_args = ["--run-id", run_id, "--db-path", str(db), "--chroma-path", str(home / "chroma"),
                  "--json"]  # fmt: skip
    cold: dict[str, float] = {}
    empty = 0
    for name, extra in (
        ("cold process, unfiltered", []),
        ("cold process, 0.5% cluster filter", ["--cluster-ids", str(cluster)]),
        ("cold process, keyword", ["--mode", "keyword"]),
    ):
        samples = []
        for i in range(6):
            text = _text(i) if "keyword" not in name else words[i % len(words)]
            t = time.perf_counter()
            out = subprocess.run([*base, text, *store_args, *extra], env=env,
                                 capture_output=True, text=True, check=True)  # fmt: skip
            samples.append(time.perf_counter() - t)
            empty += not json.loads(out.stdout)["results"]
        cold[name] = statistics.median(samples[1:])  # the first pays the OS file cache
    # the first search after the vectors changed makes the space's memory-mapped copy
    import shutil

    from lmsys_tui.core.store.embedding_cache import cache_dir
    from lmsys_tui.core.store.embeddings import embeddings_path

    shutil.rmtree(cache_dir(embeddings_path(db)), ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([*base, _text(0), *store_args], env=env, capture_output=True, check=True)
    cold["cold process, first after new vectors (writes the copy)"] = time.perf_counter() - t
    floor = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, onnxruntime, typer"], check=True)
        floor.append(time.perf_counter() - t)
    cold["floor: python -c 'import numpy, onnxruntime, typer'"] = statistics.median(floor)

    embed_ms = results["embed the query text only"]
    print(f"\n{'warm, in process (p50 of 30)':52} {'ms':>8} {'- embed':>8}")
    for name, ms in results.items():
        rest = f"{ms - embed_ms:8.1f}" if name.startswith(("semantic", "hybrid")) else ""
        print(f"{name:52} {ms:8.1f} {rest}")
    print(f"\n{'recall@10 vs exact brute force (20 texts)':52} {'':>8}")
    for name, value in recall.items():
        print(f"{name:52} {value:8.3f}")
    print(f"\n{'whole process (median of 5)':52} {'s':>8}")
    for name, s in cold.items():
        print(f"{name:52} {s:8.2f}")
    print(f"\nload average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    assert empty == 0
    assert recall["0.5% cluster filter"] == 1.0
    assert recall["0.5% language filter"] == 1.0
    assert recall["0.5% cluster filter, engine=chroma"] == 1.0
    assert results["semantic, unfiltered (auto -> chroma)"] <= 50
    assert results["semantic, 0.5% cluster filter"] <= 60
    assert results["keyword"] <= 20
    floor_s = cold["floor: python -c 'import numpy, onnxruntime, typer'"]
    ratio = cold["cold process, unfiltered"] / floor_s
    quiet = os.getloadavg()[0] < (os.cpu_count() or 1)
    print(f"cold unfiltered / floor: {ratio:.2f}x (<= 4x); quiet machine: {quiet}")
    assert ratio <= 4.0
    if quiet:
        assert cold["cold process, unfiltered"] <= 1.0
