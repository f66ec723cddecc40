"""HDBSCAN noise (issue 12 item 6): `--assign-noise` on real embedded ShareGPT first turns."""

from __future__ import annotations

import json

import numpy as np
from conftest import db_rows, run_cli

from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan
from lmsys_tui.core.cluster.outliers import assign_noise


def _rows(db, run_id: str) -> dict[int, tuple[int, float | None, float]]:
    found = db_rows(
        db,
        "SELECT query_id, cluster_id, distance, confidence_score FROM query_clusters"
        " WHERE run_id = ?",
        run_id,
    )
    return {r[0]: r[1:] for r in found}


def test_assign_noise_counts_the_rest_apart_and_can_be_undone(seeded, home) -> None:
    db = home / "queries.db"
    bare = run_hdbscan(seeded, HdbscanParams(min_cluster_size=10, assign_noise=False))
    full = run_hdbscan(seeded, HdbscanParams(min_cluster_size=10))  # assigns by default
    before, after = _rows(db, bare.run_id), _rows(db, full.run_id)
    assert before.keys() == after.keys()
    moved = [q for q in before if before[q][0] == -1 and after[q][0] != -1]
    m = full.metrics
    assert m["assigned_noise"] == len(moved) > 0
    assert m["noise_fraction_before_assign"] == bare.metrics["noise_fraction"]
    assert m["noise_fraction"] < m["noise_fraction_before_assign"]
    assert m["noise_count"] == sum(1 for r in after.values() if r[0] == -1)
    # dense members are untouched; assigned rows are exactly those with probability 0
    for q, (cid, dist, conf) in after.items():
        if before[q][0] != -1:
            assert (cid, conf) == (before[q][0], before[q][2])
        elif cid != -1:
            assert conf == 0 and dist is not None and dist > 0
    undone = {q: (-1 if r[0] >= 0 and r[2] == 0 else r[0]) for q, r in after.items()}
    assert undone == {q: r[0] for q, r in before.items()}
    # each cluster records how many it took and the distance it accepted
    metrics = dict(
        db_rows(db, "SELECT cluster_id, metrics FROM clusters WHERE run_id = ?", full.run_id)
    )
    taken = {c: json.loads(v).get("assigned_noise", 0) for c, v in metrics.items() if c >= 0}
    assert sum(taken.values()) == len(moved)
    for cid, raw in metrics.items():
        if cid >= 0:
            limit = json.loads(raw)["assign_limit"]
            assert all(r[1] <= limit + 1e-5 for q, r in after.items() if r[0] == cid and q in moved)


def test_nearest_centroid_under_the_limit() -> None:
    X = np.array([[0, 0], [0.1, 0], [5, 5], [5.1, 5], [0.3, 0], [2.6, 2.5], [9, 9]], np.float32)
    labels = np.array([0, 0, 1, 1, -1, -1, -1])
    dist = np.array([0.05, 0.05, 0.05, 0.05, np.nan, np.nan, np.nan], np.float32)
    cents = {0: np.array([0.05, 0], np.float32), 1: np.array([5.05, 5], np.float32)}
    fixed = assign_noise(X, labels, dist, cents, max_distance=4.0)
    assert fixed.rows.tolist() == [4, 5] and fixed.labels.tolist() == [0, 1]
    assert np.allclose(fixed.distances, [0.25, np.hypot(2.45, 2.5)], atol=1e-5)
    own = assign_noise(X, labels, dist, cents)  # each cluster's own member distances: 0.05
    assert own.rows.tolist() == [] and own.limits == {0: 0.05, 1: 0.05}


def test_cli_assign_noise_flag(seeded, cli_env) -> None:
    def metrics(*args: str) -> dict:
        out = run_cli(
            ["--headless", "cluster", "hdbscan", "--min-cluster-size", "10", *args, "--json"],
            cli_env,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["metrics"]

    # the earlier spelling still parses (the default is on: the in-process test above uses it)
    on = metrics("--assign-noise", "--assign-distance", "0.9")
    off = metrics("--no-assign-noise")
    assert on["assigned_noise"] > 0 and "assigned_noise" not in off
    assert on["noise_fraction"] < off["noise_fraction"]
    assert on["noise_fraction_before_assign"] == off["noise_fraction"]
    bad = run_cli(["--headless", "cluster", "hdbscan", "--assign-distance", "-1"], cli_env)
    assert bad.returncode == 2 and "--assign-distance" in bad.stderr
