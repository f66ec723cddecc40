"""The summarize stage on real ShareGPT clusters: offline, and through a local LLM server.

The clustered store comes from tests/summary_fixtures.py (real queries, the real MiniLM model,
sklearn KMeans). LLM passes use the real SDKs over HTTP to tests/llm_server.py.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import summary_fixtures as fx
from conftest import run_cli
from llm_server import LLMServer
from summary_fixtures import N_CLUSTERS

from lmsys_tui.core.store.db import open_store
from lmsys_tui.core.summarize import (
    ClusterSummaryAnswer,
    SummarizeOptions,
    budgeted,
    build_jobs,
    build_messages,
    clean_answer,
    load_clusters,
    nearest_neighbours,
    run_summarize,
    sample_ids,
    summaries_for_pass,
)
from lmsys_tui.errors import Cancelled


def _llm_env(cli_env: dict[str, str], server: LLMServer) -> dict[str, str]:
    return cli_env | {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.openai_url,
        "LMSYS_TUI_LLM_RETRY_BASE": "0.05",
    }


# ----------------------------------------------------------------------------- sampling


def test_sample_is_central_half_plus_seeded_spread_of_the_rest() -> None:
    ranked = list(range(1000, 1100))  # already most-central first
    ids = sample_ids(ranked, 20, "s1")
    central, diverse = ids[0::2], ids[1::2]
    assert central == ranked[:10]
    assert all(i in ranked[10:] for i in diverse) and len(set(diverse)) == 10
    # stratified over the rest: one draw per tenth of the remaining distance order
    assert [(ranked.index(i) - 10) // 9 for i in diverse] == list(range(10))
    assert ids == sample_ids(ranked, 20, "s1")
    assert ids != sample_ids(ranked, 20, "s2")
    assert sample_ids(ranked[:5], 20, "s1") == ranked[:5]


def test_token_budget_and_duplicates() -> None:
    texts = {1: ("a" * 400, "h1"), 2: ("same", "h2"), 3: ("same", "h2"), 4: ("b" * 400, "h4")}
    assert budgeted([1, 2, 3, 4], texts, budget_tokens=150) == ["a" * 400, "same"]
    assert budgeted([1, 2, 3, 4], texts, budget_tokens=1000) == ["a" * 400, "same", "b" * 400]


def test_contrast_comes_from_the_nearest_centroids(cstore) -> None:
    clusters = load_clusters(cstore, fx.RUN_ID)
    neighbours = nearest_neighbours(clusters, 2)
    mat = np.vstack([np.frombuffer(c.centroid, dtype=np.float32) for c in clusters])
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    sims = mat @ mat.T
    np.fill_diagonal(sims, -9)
    for c in clusters:
        expected = [int(j) for j in np.argsort(-sims[c.cluster_id])[:2]]
        assert [n for n, _ in neighbours[c.cluster_id]] == expected
    job = build_jobs(cstore, fx.RUN_ID, clusters, [0], SummarizeOptions(max_queries=10))[0]
    prompt = build_messages(job, 1500)[1]["content"]
    assert "NOT part of this cluster" in prompt and "nearest to this one" in prompt
    assert [c[0] for c in job.contrast] == [n for n, _ in neighbours[0]]
    for _, _, examples in job.contrast:  # neighbour examples really are in the prompt
        assert all(e.replace("&", "&amp;").replace("<", "&lt;")[:40] in prompt for e in examples)


def test_two_runs_that_group_alike_summarise_from_the_same_samples(cstore, db) -> None:
    """The draw is seeded by the pass's seed and the cluster's members, not the run's name: a
    re-run with the same seed (or a run finished after a kill, whose name differs) gets the same
    samples, hence the same offline titles; another seed draws otherwise."""
    conn = sqlite3.connect(db)
    copied = conn.execute(
        "SELECT cluster_id, size, centroid, keywords, metrics FROM clusters WHERE run_id = ?",
        (fx.RUN_ID,),
    ).fetchall()
    conn.execute(
        "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, embedding_provider,"
        " embedding_model, embedding_dim, parameters, metrics, status, created_at)"
        " SELECT 'twin', algorithm, num_clusters, embedding_provider, embedding_model,"
        " embedding_dim, parameters, metrics, status, created_at FROM clustering_runs"
        " WHERE run_id = ?",
        (fx.RUN_ID,),
    )
    conn.executemany(
        "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
        " VALUES ('twin', ?, ?, ?, ?, ?)",
        copied,
    )
    conn.execute(
        "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score, distance)"
        " SELECT 'twin', query_id, cluster_id, confidence_score, distance FROM query_clusters"
        " WHERE run_id = ?",
        (fx.RUN_ID,),
    )
    conn.commit()
    conn.close()
    todo = list(range(N_CLUSTERS))

    def samples(run_id: str, seed: int = 0) -> list[list[str]]:
        opts = SummarizeOptions(max_queries=6, seed=seed)  # a draw from every cluster's rest
        clusters = load_clusters(cstore, run_id)
        return [j.sample for j in build_jobs(cstore, run_id, clusters, todo, opts)]

    assert samples("twin") == samples(fx.RUN_ID)
    assert samples(fx.RUN_ID, seed=1) != samples(fx.RUN_ID)
    titles = {
        r: {
            c: row["title"]
            for c, row in summaries_for_pass(
                cstore,
                r,
                summary_run_id=run_summarize(cstore, r, SummarizeOptions()).summary_run_id,
            )[1].items()
        }
        for r in (fx.RUN_ID, "twin")
    }
    assert titles["twin"] == titles[fx.RUN_ID]


def test_incoherent_titles_say_so() -> None:
    low = clean_answer(
        ClusterSummaryAnswer(title="Cooking and code", description="x. y.", coherence=1)
    )
    assert low[0] == "Mixed: Cooking and code"
    kept = clean_answer(
        ClusterSummaryAnswer(title="Miscellaneous: chat", description="d", coherence=2)
    )
    assert kept[0] == "Miscellaneous: chat"
    assert (
        clean_answer(ClusterSummaryAnswer(title="Python", description="d", coherence=5))[0]
        == "Python"
    )


# ----------------------------------------------------------------------------- offline


def test_offline_pass_summarises_every_cluster_deterministically(cstore, db) -> None:
    a = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="a"))
    assert (a.model, a.done, a.failed, a.status) == ("offline/ctfidf", N_CLUSTERS, 0, "done")
    # without the clustering run's keywords the summariser computes c-TF-IDF itself
    conn = sqlite3.connect(db)
    stored = dict(conn.execute("SELECT cluster_id, keywords FROM clusters"))
    conn.execute("UPDATE clusters SET keywords = '[]'")
    conn.commit()
    conn.close()
    b = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="b"))
    c = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="c"))
    rows = {k: summaries_for_pass(cstore, fx.RUN_ID, alias=k)[1] for k in "abc"}
    assert [r["title"] for r in rows["b"].values()] == [r["title"] for r in rows["c"].values()]
    assert len({r["title"] for r in rows["b"].values()}) > N_CLUSTERS * 0.8
    for cid in rows["a"]:
        assert rows["a"][cid]["parameters"]["keywords"] == json.loads(stored[cid])[:10]
    for cid, row in rows["b"].items():
        assert row["model"] == "offline/ctfidf" and 1 <= row["coherence"] <= 5
        assert row["description"].count(". ") >= 1
        keywords = row["parameters"]["keywords"]
        assert row["title"].startswith("Mixed:") == (row["coherence"] <= 2 and bool(keywords))
        members = fx.query(
            db,
            "SELECT lower(q.query_text) FROM queries q JOIN query_clusters qc"
            " ON qc.query_id = q.id WHERE qc.run_id = ? AND qc.cluster_id = ?",
            fx.RUN_ID,
            cid,
        )
        assert sum(keywords[0] in m[0] for m in members) >= 1, (cid, keywords)
    assert len({a.summary_run_id, b.summary_run_id, c.summary_run_id}) == 3


def test_a_resumed_offline_pass_titles_as_one_uninterrupted_pass(cstore, db) -> None:
    """Killed half-way (half its summaries saved), the resumed pass gives the titles one run
    gives: a title is judged against every cluster (phrases, no title twice), not only the
    ones left to do."""
    whole = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="whole"))
    cut = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="cut"))
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "DELETE FROM cluster_summaries WHERE summary_run_id = ? AND cluster_id % 2 = 1",
            (cut.summary_run_id,),
        )
        conn.execute(
            "UPDATE summary_runs SET status = 'running' WHERE summary_run_id = ?",
            (cut.summary_run_id,),
        )
    conn.close()
    resumed = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(resume=cut.summary_run_id))
    assert (resumed.done, resumed.skipped) == (N_CLUSTERS // 2, N_CLUSTERS - N_CLUSTERS // 2)
    titles = {k: summaries_for_pass(cstore, fx.RUN_ID, alias=k)[1] for k in ("whole", "cut")}
    assert {c: r["title"] for c, r in titles["cut"].items()} == {
        c: r["title"] for c, r in titles["whole"].items()
    }
    assert whole.done == N_CLUSTERS


def test_pass_selection_returns_exactly_one_pass(cstore) -> None:
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="all"))
    only = run_summarize(
        cstore, fx.RUN_ID, SummarizeOptions(alias="few", cluster_ids=[1, 2], max_queries=5)
    )
    srid, rows = summaries_for_pass(cstore, fx.RUN_ID, alias="all")
    assert len(rows) == N_CLUSTERS and {r["summary_run_id"] for r in rows.values()} == {srid}
    srid2, rows2 = summaries_for_pass(cstore, fx.RUN_ID, summary_run_id=only.summary_run_id)
    assert sorted(rows2) == [1, 2] and srid2 == only.summary_run_id
    newest, rows3 = summaries_for_pass(cstore, fx.RUN_ID)
    assert newest == only.summary_run_id and sorted(rows3) == [1, 2]  # never a mix


# ----------------------------------------------------------------------------- with an LLM


def test_llm_pass_saves_each_summary_and_records_a_failed_cluster(db, cli_env, server) -> None:
    env = _llm_env(cli_env, server) | {"LMSYS_TUI_LLM_MAX_ATTEMPTS": "2"}
    # cluster 3's prompt fails twice (all its attempts); everything else succeeds
    store = open_store(db)
    job = build_jobs(store, fx.RUN_ID, load_clusters(store, fx.RUN_ID), [3], SummarizeOptions())[0]
    store.close()
    first = job.sample[0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:60]
    # its own queries, not the same text shown as a contrast example to its neighbours
    marker = f'<cluster_queries count="{len(job.sample)}">\n<query>{first}'
    server.fail_next("500", times=2, match=marker)
    server.fail_next("429", retry_after=0.5)
    out = run_cli(
        [
            "--headless",
            "summarize",
            fx.RUN_ID,
            "--model",
            "openai/gpt-4o-mini",
            "--alias",
            "llm",
            "--concurrency",
            "4",
            "--json",
        ],
        env,
    )
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "--resume" in out.stderr
    data = json.loads(out.stdout)
    assert (data["done"], data["failed"]) == (N_CLUSTERS - 1, 1)
    rows = fx.query(db, "SELECT cluster_id, status, title, coherence, error FROM cluster_summaries")
    failed = [r for r in rows if r[1] == "failed"]
    assert [r[0] for r in failed] == [3] and "500" in failed[0][4]
    assert all(r[2].endswith("requests") and r[3] == 4 for r in rows if r[1] == "done")
    srid = data["summary_run_id"]
    # resume pays only for the failed cluster
    before = len(server.hits)
    again = run_cli(["--headless", "summarize", fx.RUN_ID, "--resume", srid, "--json"], env)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert (resumed["clusters"], resumed["done"], resumed["skipped"]) == (1, 1, N_CLUSTERS - 1)
    assert len(server.hits) - before == 1
    assert fx.query(
        db, "SELECT status, error FROM summary_runs WHERE summary_run_id = ?", srid
    ) == [("done", None)]


def test_killed_pass_resumes_without_paying_any_prompt_twice(db, cli_env, server) -> None:
    env = _llm_env(cli_env, server)
    server.hold_after(8)  # the 9th request onwards waits: the process dies with them in flight
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmsys_tui",
            "--headless",
            "summarize",
            fx.RUN_ID,
            "--model",
            "openai/gpt-4o-mini",
            "--concurrency",
            "3",
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fx.query(db, "SELECT COUNT(*) FROM cluster_summaries")[0][0] >= 8:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    server.release()
    assert fx.query(db, "SELECT COUNT(*) FROM llm_calls WHERE status = 'ok'")[0][0] == 8
    [(srid, status)] = fx.query(db, "SELECT summary_run_id, status FROM summary_runs")
    assert status == "running"  # killed: nobody could mark it
    out = run_cli(["--headless", "summarize", fx.RUN_ID, "--resume", srid, "--json"], env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["skipped"], data["done"], data["llm"]["cached"]) == (8, N_CLUSTERS - 8, 0)
    paid = server.paid()
    assert len(paid) == N_CLUSTERS and max(paid.values()) == 1  # measured at the server
    hashes = fx.query(
        db, "SELECT prompt_hash, COUNT(*) FROM llm_calls WHERE status = 'ok' GROUP BY prompt_hash"
    )
    assert len(hashes) == N_CLUSTERS and {n for _, n in hashes} == {1}
    assert (
        fx.query(db, "SELECT COUNT(*) FROM cluster_summaries WHERE status = 'done'")[0][0]
        == N_CLUSTERS
    )


def test_cancelled_pass_keeps_its_summaries_and_a_repeat_pays_nothing(
    cstore, db, server, monkeypatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
    saved = lambda: fx.query(db, "SELECT COUNT(*) FROM cluster_summaries")[0][0]  # noqa: E731
    opts = SummarizeOptions(model="anthropic/claude-haiku-4-5", concurrency=2)
    with pytest.raises(Cancelled):
        run_summarize(cstore, fx.RUN_ID, opts, cancelled=lambda: saved() >= 5)
    [(srid, status)] = fx.query(db, "SELECT summary_run_id, status FROM summary_runs")
    assert status == "cancelled" and 5 <= saved() < N_CLUSTERS
    done = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(resume=srid, concurrency=4))
    assert done.done + done.skipped == N_CLUSTERS
    fresh = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model="anthropic/claude-haiku-4-5"))
    assert fresh.llm["cached"] == N_CLUSTERS and fresh.llm["requests"] == 0
    assert max(server.paid().values()) == 1


def test_rpm_option_is_enforced_end_to_end(db, cli_env, server) -> None:
    env = _llm_env(cli_env, server)
    out = run_cli(
        [
            "--headless",
            "summarize",
            fx.RUN_ID,
            "--model",
            "openai/gpt-4o-mini",
            "--rpm",
            "120",
            "--concurrency",
            "8",
            "--json",
            *[a for c in range(4) for a in ("--cluster-id", str(c))],
        ],
        env,
    )
    assert out.returncode == 0, out.stderr
    starts = sorted(h.t for h in server.hits)
    assert len(starts) == 4
    # 120 rpm = one request per 0.5 s, spaced at send time; the server's clock sees transit
    # jitter on a loaded machine, so check the span of all four and that none came in a burst
    assert starts[-1] - starts[0] >= 3 * 0.5 * 0.9
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.25


def test_use_chroma_keeps_each_pass_apart(cstore, db, home) -> None:
    from lmsys_tui.core.embed import Space, embed_texts
    from lmsys_tui.core.store.vectors import open_chroma, summaries_collection

    chroma = str(home / "chroma")
    opts = {"use_chroma": True, "chroma_path": chroma, "embed_backend": "torch"}
    a = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="a", **opts))
    b = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="b", max_queries=6, **opts))
    assert a.chroma["written"] == b.chroma["written"] == N_CLUSTERS
    space = Space("sentence-transformers", "all-MiniLM-L6-v2", 384)
    col = summaries_collection(open_chroma(chroma), space, create=False)
    assert col.count() == 2 * N_CLUSTERS  # the second pass did not overwrite the first
    got = col.get(where={"summary_run_id": a.summary_run_id}, include=["metadatas", "documents"])
    titles = dict(fx.query(db, "SELECT cluster_id, title FROM cluster_summaries"
                         " WHERE summary_run_id = ?", a.summary_run_id))  # fmt: skip
    assert {m["cluster_id"]: m["title"] for m in got["metadatas"]} == titles
    assert all(m["alias"] == "a" and m["run_id"] == fx.RUN_ID for m in got["metadatas"])
    # searching a pass by one of its summaries finds that cluster first
    cid = 4
    doc = next(d for d, m in zip(got["documents"], got["metadatas"], strict=True)
               if m["cluster_id"] == cid)  # fmt: skip
    hit = col.query(query_embeddings=embed_texts(space, [doc], backend="torch"), n_results=1,
                    where={"summary_run_id": a.summary_run_id})  # fmt: skip
    assert hit["metadatas"][0][0]["cluster_id"] == cid


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_an_exit_code(db, cli_env) -> None:
    cases = [
        (["summarize", "nope"], 3, "no clustering run"),
        (["summarize", fx.RUN_ID, "--max-queries", "0"], 2, "--max-queries"),
        (["summarize", fx.RUN_ID, "--model", "openai/gpt-4o-mini"], 4, "OPENAI_API_KEY"),
        (["summarize", fx.RUN_ID, "--use-chroma", "--chroma-port", "9"], 2, "--chroma-host"),
        (["summarize", fx.RUN_ID, "--cluster-id", "999"], 3, "no cluster 999"),
        (["summarize", fx.RUN_ID, "--resume", "nope"], 3, "no summary pass"),
    ]
    for args, code, text in cases:
        out = run_cli(["--headless", *args, "--json"], cli_env)
        assert out.returncode == code, (args, out.stderr)
        assert out.stdout == "" and text in out.stderr and out.stderr.count("\n") == 1, args
    # the refused passes left no pass behind except the one that failed on its cluster id
    assert fx.query(db, "SELECT status FROM summary_runs") == [("failed",)]
