"""Benchmarks of the summary and hierarchy stages (issue 4). Not part of the default run.

Run: pytest tests/bench/test_llm_bench.py -s
Targets:
- 200 clusters against the local LLM server with 100 ms latency at --concurrency 20: the pass's
  request phase takes <= 1.3x the ideal 200 x 0.1 s / 20 = 1.0 s. The server runs in its own
  process so its threads do not share the client's GIL; the SDK import (a one-off ~2-4 s per
  process) is paid before the clock starts and reported separately with the whole pass.
- Offline summariser + offline hierarchy on 1,000 clusters: <= 10 s.

Data: 20,000 real ShareGPT first turns (the real load stage). The runs are clustered here on
TF-IDF + SVD vectors with sklearn MiniBatchKMeans: these stages read cluster rows, members and
centroids, never the embedding model, so the cheaper vectors change nothing they measure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from summary_fixtures import write_run

from lmsys_tui.core.store.db import open_store

N_QUERIES = 20_000
LATENCY = 0.1
ROOT = Path(__file__).resolve().parents[1]


def _build(db: Path, runs: dict[str, int]) -> None:
    import sqlite3

    import numpy as np
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources import sharegpt

    store = open_store(db)
    run_load(store, sharegpt.read(), sharegpt.info(), limit=N_QUERIES)
    store.close()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, substr(query_text, 1, 500) FROM queries ORDER BY id").fetchall()
    conn.close()
    ids = [r[0] for r in rows]
    tfidf = TfidfVectorizer(max_features=30_000, stop_words="english").fit_transform(
        [r[1] for r in rows]
    )
    vecs = TruncatedSVD(64, random_state=0).fit_transform(tfidf).astype(np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    for run_id, k in runs.items():
        km = MiniBatchKMeans(k, random_state=0, n_init=1, batch_size=4096).fit(vecs)
        write_run(db, run_id, ids, vecs, km.labels_, km.cluster_centers_, ("bench", "tfidf-svd"))


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("llm-bench") / "queries.db"
    _build(db, {"bench-200": 200, "bench-1000": 1000})
    return db


@pytest.fixture
def server_url():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "llm_server.py"), "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    proc.terminate()
    proc.wait(timeout=10)


def _bare(url: str, prompts: list, model: type) -> float:
    """The same requests through bare instructor + AsyncOpenAI + a semaphore: no ledger, no
    store, no rate limiter. What the libraries themselves cost on this machine right now."""
    import asyncio

    import instructor
    import openai

    async def main() -> float:
        raw = openai.AsyncOpenAI(api_key="bench-key", base_url=url, max_retries=0)
        client = instructor.from_openai(raw)
        sem = asyncio.Semaphore(20)

        async def one(messages: list) -> None:
            async with sem:
                await client.create_with_completion(
                    model="gpt-4o-mini", messages=messages, response_model=model, max_retries=0
                )

        t = time.perf_counter()
        await asyncio.gather(*(one(m) for m in prompts))
        elapsed = time.perf_counter() - t
        await raw.close()
        return elapsed

    return asyncio.run(main())


def test_200_clusters_at_concurrency_20(bench_db, server_url, monkeypatch) -> None:
    from lmsys_tui.core.summarize import (
        ClusterSummaryAnswer,
        SummarizeOptions,
        build_jobs,
        build_messages,
        load_clusters,
        run_summarize,
    )

    monkeypatch.setenv("OPENAI_API_KEY", "bench-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server_url)
    t = time.perf_counter()
    import instructor  # the one-off SDK import (openai loads its resources lazily)
    import openai

    instructor.from_openai(openai.AsyncOpenAI(api_key="x")).client.chat  # noqa: B018
    warm = time.perf_counter() - t
    store = open_store(bench_db)
    try:
        clusters = load_clusters(store, "bench-200")
        jobs = build_jobs(store, "bench-200", clusters, list(range(200)), SummarizeOptions())
        # same prompt shapes, other text: the bare run must not warm the ledger for ours
        prompts = [build_messages(j, 1500) for j in jobs]
        for p in prompts:
            p[1]["content"] = "bare " + p[1]["content"]
        bare = _bare(server_url, prompts, ClusterSummaryAnswer)
        r = run_summarize(
            store, "bench-200", SummarizeOptions(model="openai/gpt-4o-mini", concurrency=20)
        )
    finally:
        store.close()
    ideal = 200 * LATENCY / 20
    llm = r.timings["llm"]
    print(
        f"\n200 clusters, {LATENCY * 1000:.0f} ms latency, concurrency 20: request phase "
        f"{llm:.2f} s = {llm / ideal:.2f}x ideal {ideal:.1f} s (bare instructor+openai with a "
        f"semaphore, same run: {bare:.2f} s = {bare / ideal:.2f}x; ours/bare {llm / bare:.2f}); "
        f"sampling {r.timings['sampling']:.2f} s; whole pass {r.seconds:.2f} s "
        f"(+ SDK import {warm:.2f} s); {r.llm}"
    )
    assert (r.done, r.failed, r.llm["paid"]) == (200, 0, 200)
    assert llm <= 1.3 * ideal


def test_offline_summaries_and_hierarchy_on_1000_clusters(bench_db) -> None:
    from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    store = open_store(bench_db)
    try:
        t = time.perf_counter()
        s = run_summarize(store, "bench-1000", SummarizeOptions())
        t_sum = time.perf_counter() - t
        t = time.perf_counter()
        m = run_merge(store, "bench-1000", MergeOptions())
        t_merge = time.perf_counter() - t
    finally:
        store.close()
    total = t_sum + t_merge
    print(
        f"\noffline on 1,000 clusters: summarize {t_sum:.2f} s ({s.timings}), "
        f"merge {t_merge:.2f} s (levels {m.levels}), total {total:.2f} s"
    )
    assert s.done == 1000 and len(m.levels) == 3 and m.levels[0] == 1000
    assert 4 <= m.levels[-1] <= 30  # the top's size is chosen from the data (4-30 nodes)
    assert total <= 10.0
