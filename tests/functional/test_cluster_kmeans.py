"""`cluster kmeans` on real ShareGPT first turns embedded with the real bundled MiniLM.

Vectors come from the embedding store (the seed embeds them once per session); every run here
reads them back with `load_vectors`, and re-running a clustering embeds nothing new.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cluster_seed import N_QUERIES, SAMPLE
from conftest import db_rows, run_cli

from lmsys_tui.core.cluster import runs
from lmsys_tui.core.cluster.kmeans import KMeansParams, assign, fit_kmeans, run_kmeans
from lmsys_tui.core.cluster.stage import Selection
from lmsys_tui.core.embed import load_vectors, resolve_space
from lmsys_tui.errors import Cancelled, ExitCode, NotFoundError, UsageError


@pytest.fixture
def vectors(seeded):  # type: ignore[no-untyped-def]
    ids, X = load_vectors(seeded, resolve_space())
    return ids, X


def test_a_run_stores_assignments_centroids_keywords_and_metrics(seeded, home) -> None:
    summary = run_kmeans(seeded, KMeansParams(n_clusters=12, mb_batch_size=256))
    assert summary.embedded["embedded"] == 0  # the seed embedded everything; nothing again
    db = home / "queries.db"
    run = db_rows(
        db,
        "SELECT status, num_clusters, embedding_provider, embedding_model, embedding_dim,"
        " metrics, parameters FROM clustering_runs WHERE run_id = ?",
        summary.run_id,
    )[0]
    assert run[:5] == ("done", 12, "sentence-transformers", "all-MiniLM-L6-v2", 384)
    metrics, params = json.loads(run[5]), json.loads(run[6])
    assert params["n_clusters"] == 12 and params["mb_batch_size"] == 256
    assert metrics["converged"] and metrics["epochs"] >= 2
    assert -1.0 <= metrics["silhouette"] <= 1.0 and metrics["silhouette_sample"] > 0
    ids, X = load_vectors(seeded, resolve_space())
    assigned = db_rows(
        db,
        "SELECT query_id, cluster_id, distance, confidence_score FROM query_clusters"
        " WHERE run_id = ? ORDER BY query_id",
        summary.run_id,
    )
    assert [r[0] for r in assigned] == sorted(ids.tolist())
    clusters = db_rows(
        db,
        "SELECT cluster_id, size, centroid, keywords FROM clusters WHERE run_id = ?"
        " ORDER BY cluster_id",
        summary.run_id,
    )
    assert [c[0] for c in clusters] == list(range(12))
    assert [c[1] for c in clusters] == sorted((c[1] for c in clusters), reverse=True)
    assert sum(c[1] for c in clusters) == len(ids)
    centroids = np.stack([np.frombuffer(c[2], dtype="<f4") for c in clusters])
    assert centroids.shape == (12, 384)
    # each stored distance is the distance to the stored centroid of the stored cluster,
    # and that centroid is the nearest one
    order = np.argsort(ids)
    x = X[order]
    labels = np.array([r[1] for r in assigned])
    dist = np.array([r[2] for r in assigned])
    all_d = np.linalg.norm(x[:, None, :] - centroids[None, :, :], axis=2)
    np.testing.assert_allclose(dist, all_d[np.arange(len(x)), labels], atol=1e-4)
    assert (labels == all_d.argmin(axis=1)).mean() > 0.999
    conf = np.array([r[3] for r in assigned])
    assert ((conf >= 0) & (conf <= 1)).all() and conf.std() > 0
    assert metrics["inertia"] == pytest.approx(float((dist**2).sum()), rel=1e-3)
    # keywords are words of the cluster's own texts
    texts = dict(db_rows(db, "SELECT id, lower(query_text) FROM queries"))
    for cid, _, _, kw in clusters:
        words = json.loads(kw)
        assert words, cid
        members = [texts[q] for q, lab, _, _ in assigned if lab == cid]
        assert all(any(w in t for t in members) for w in words[:3])


def test_second_run_embeds_nothing_and_ids_differ(seeded) -> None:
    first = run_kmeans(seeded, KMeansParams(n_clusters=5))
    second = run_kmeans(seeded, KMeansParams(n_clusters=5))
    assert second.embedded["embedded"] == 0
    assert first.run_id != second.run_id
    assert first.run_id.startswith("kmeans-5-")


def test_run_ids_never_collide(seeded, monkeypatch) -> None:
    ids = {
        runs.start_run(seeded, algorithm="kmeans", size=3, num_clusters=3, dataset_id=None,
                       space={}, parameters={}, description=None)
        for _ in range(40)
    }  # fmt: skip
    assert len(ids) == 40  # all within a second or two, all distinct
    taken = next(iter(ids))
    draws = iter([taken, taken, "kmeans-3-fresh"])
    monkeypatch.setattr(runs, "new_id", lambda *a, **k: next(draws))
    fresh = runs.start_run(seeded, algorithm="kmeans", size=3, num_clusters=3, dataset_id=None,
                           space={}, parameters={}, description=None)  # fmt: skip
    assert fresh == "kmeans-3-fresh"


def test_fitting_options_each_change_the_fit(vectors) -> None:
    _, X = vectors
    base = KMeansParams(n_clusters=10, mb_batch_size=128, chunk_size=256, random_state=7)

    def fit(**changes):  # type: ignore[no-untyped-def]
        calls: list[str] = []
        params = KMeansParams(**(base.to_dict() | changes))
        f = fit_kmeans(X, params, progress=lambda d, t, note="": calls.append(note))
        return f, calls

    ref, ref_calls = fit()
    again, _ = fit()
    np.testing.assert_array_equal(ref.centers, again.centers)  # same seed, same data, same fit

    seed, _ = fit(random_state=8)
    assert not np.allclose(seed.centers, ref.centers)
    bigger, _ = fit(mb_batch_size=512)
    assert bigger.steps < ref.steps and not np.allclose(bigger.centers, ref.centers)
    one_epoch, _ = fit(max_iter=1, tol=0.0)
    assert one_epoch.epochs == 1 and not one_epoch.converged
    assert ref.epochs > 1
    loose, _ = fit(tol=0.5)
    strict, _ = fit(tol=0.0, max_iter=6)
    assert loose.epochs == 2 < strict.epochs
    seeds5, calls5 = fit(n_init=5)
    assert seeds5.init_inertia <= ref.init_inertia  # best of 5 includes the same first draw
    assert calls5.count("k-means++ seeding") == 5 and ref_calls.count("k-means++ seeding") == 1
    _, coarse = fit(chunk_size=1024)
    assert len(coarse) < len(ref_calls)  # fewer progress / cancel checkpoints per epoch
    # chunking the assignment changes nothing in its result
    a = assign(X, ref.centers, chunk_size=37)
    b = assign(X, ref.centers, chunk_size=5000)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.distances, b.distances, rtol=1e-6)


def test_n_clusters_limit_dataset_and_description_shape_the_run(seeded, home) -> None:
    few = run_kmeans(seeded, KMeansParams(n_clusters=4), description="four")
    assert few.num_clusters == 4
    limited = run_kmeans(seeded, KMeansParams(n_clusters=4), selection=Selection(limit=150))
    assert limited.n_queries <= 150
    db = home / "queries.db"
    first_ids = [r[0] for r in db_rows(db, "SELECT id FROM queries ORDER BY id LIMIT 150")]
    got = [r[0] for r in db_rows(db, "SELECT query_id FROM query_clusters WHERE run_id = ?",
                                 limited.run_id)]  # fmt: skip
    assert set(got) <= set(first_ids)
    sample = run_kmeans(seeded, KMeansParams(n_clusters=3), selection=Selection(dataset="sample"))
    assert sample.n_queries <= SAMPLE < N_QUERIES
    datasets = db_rows(
        db,
        "SELECT DISTINCT d.label FROM query_clusters qc JOIN queries q ON q.id = qc.query_id"
        " JOIN datasets d ON d.id = q.dataset_id WHERE qc.run_id = ?",
        sample.run_id,
    )
    assert datasets == [("sample",)]
    assert sample.embedded["embedded"] == 0  # same texts as in `sharegpt`: embedded once
    assert db_rows(db, "SELECT description FROM clustering_runs WHERE run_id = ?",
                   few.run_id) == [("four",)]  # fmt: skip
    with pytest.raises(NotFoundError):
        run_kmeans(seeded, KMeansParams(n_clusters=3), selection=Selection(dataset="nope"))
    with pytest.raises(UsageError):
        run_kmeans(seeded, KMeansParams(n_clusters=10), selection=Selection(limit=5))


def test_cancelled_or_failed_runs_are_marked_and_show_no_rows(seeded, home) -> None:
    db = home / "queries.db"
    for phase in ("fit:", "write:"):  # cancel once this phase has reported progress
        seen = {"on": False}

        def progress(done: int, total: int | None, note: str = "") -> None:
            seen["on"] = seen["on"] or note.startswith(phase)  # noqa: B023

        with pytest.raises(Cancelled):
            run_kmeans(seeded, KMeansParams(n_clusters=6, mb_batch_size=64, chunk_size=16),
                       progress=progress, cancelled=lambda: seen["on"])  # noqa: B023  # fmt: skip
    with pytest.raises(UsageError):
        run_kmeans(seeded, KMeansParams(n_clusters=5000))
    rows = db_rows(db, "SELECT run_id, status, error FROM clustering_runs ORDER BY created_at")
    assert [r[1] for r in rows] == ["cancelled", "cancelled", "failed"]
    assert "5000" in rows[2][2]
    assert db_rows(db, "SELECT COUNT(*) FROM query_clusters") == [(0,)]
    assert db_rows(db, "SELECT COUNT(*) FROM clusters") == [(0,)]


def test_cli_kmeans_json_and_errors(seeded, cli_env) -> None:
    res = run_cli(["--headless", "cluster", "kmeans", "--n-clusters", "6", "--limit", "300",
                   "--random-state", "3", "--json"], cli_env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["status"] == "done" and data["num_clusters"] == 6 and data["n_queries"] <= 300
    assert data["embedded"]["embedded"] == 0
    assert data["parameters"]["random_state"] == 3 and data["embedding"]["dim"] == 384
    latest = json.loads(run_cli(["--headless", "runs", "--latest", "--json"], cli_env).stdout)
    assert latest["runs"][0]["run_id"] == data["run_id"]
    bad = run_cli(["--headless", "cluster", "kmeans", "--n-clusters", "0"], cli_env)
    assert bad.returncode == ExitCode.USAGE and bad.stderr.count("\n") == 1
    missing = run_cli(["--headless", "cluster", "kmeans", "--dataset", "nope"], cli_env)
    assert missing.returncode == ExitCode.NOT_FOUND and "nope" in missing.stderr
    provider = run_cli(["--headless", "cluster", "kmeans", "--embedding-provider", "x"], cli_env)
    assert provider.returncode == ExitCode.USAGE
    assert "Traceback" not in bad.stderr + missing.stderr + provider.stderr


def test_use_chroma_fills_the_spaces_collection_from_stored_vectors(seeded, home) -> None:
    from lmsys_tui.core.cluster.stage import EmbedOptions

    opts = EmbedOptions(use_chroma=True, chroma_path=str(home / "chroma"))
    first = run_kmeans(seeded, KMeansParams(n_clusters=4), embed_opts=opts)
    chroma = first.metrics["chroma"]
    assert chroma["added"] == first.n_queries == chroma["collection_count"]
    assert first.embedded["embedded"] == 0  # Chroma got stored vectors, nothing re-embedded
    again = run_kmeans(seeded, KMeansParams(n_clusters=4), embed_opts=opts)
    assert again.metrics["chroma"]["added"] == 0
    assert again.metrics["chroma"]["already_present"] == again.n_queries
    plain = run_kmeans(seeded, KMeansParams(n_clusters=4))
    assert "chroma" not in plain.metrics
