"""`cluster hdbscan` on real embedded ShareGPT first turns: noise kept, cosine, fit-sample path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import db_rows, run_cli

from lmsys_tui.core.cluster.density import HdbscanParams, fit_hdbscan, reduce, run_hdbscan
from lmsys_tui.core.embed import load_vectors, resolve_space
from lmsys_tui.errors import ExitCode, UsageError


def test_noise_is_cluster_minus_one_with_its_row_and_probabilities(seeded, home) -> None:
    summary = run_hdbscan(seeded, HdbscanParams(min_cluster_size=10, assign_noise=False))
    assert summary.embedded["embedded"] == 0
    db = home / "queries.db"
    assigned = db_rows(
        db,
        "SELECT cluster_id, distance, confidence_score FROM query_clusters WHERE run_id = ?",
        summary.run_id,
    )
    labels = np.array([r[0] for r in assigned])
    assert len(assigned) == summary.n_queries
    noise = labels == -1
    assert 0 < noise.sum() < len(labels)
    clusters = {
        r[0]: r[1:]
        for r in db_rows(
            db,
            "SELECT cluster_id, size, centroid, keywords, metrics FROM clusters WHERE run_id = ?",
            summary.run_id,
        )
    }
    assert clusters[-1][0] == noise.sum()  # noise has its own row with its size
    assert clusters[-1][1] is None and json.loads(clusters[-1][3])["noise"] is True
    assert json.loads(clusters[-1][2])  # keywords of the noise, too
    assert set(clusters) == set(labels.tolist())
    for cid, (size, centroid, _, _) in clusters.items():
        assert size == (labels == cid).sum()
        if cid != -1:
            assert len(centroid) == 384 * 4
    conf = np.array([r[2] for r in assigned])
    assert (conf[noise] == 0).all()
    assert ((conf[~noise] > 0) & (conf[~noise] <= 1)).all() and conf[~noise].std() > 0
    assert all(r[1] is None for r in assigned if r[0] == -1)
    assert all(r[1] > 0 for r in assigned if r[0] != -1)
    m = summary.metrics
    assert m["noise_count"] == noise.sum()
    assert m["noise_fraction"] == pytest.approx(noise.mean(), abs=1e-6)
    assert m["n_clusters"] == len(clusters) - 1 == summary.num_clusters >= 2
    assert m["reduction"]["method"] == "pca" and m["reduction"]["dims"] == 5
    run = db_rows(db, "SELECT status, num_clusters FROM clustering_runs WHERE run_id = ?",
                  summary.run_id)  # fmt: skip
    assert run == [("done", m["n_clusters"])]


def test_cosine_matches_hdbscans_own_cosine_metric(seeded) -> None:
    """Our cosine = euclidean on re-normalised reduced rows, run with the fast tree algorithm.

    Euclidean distance between unit vectors is a monotone function of cosine distance, so the
    mutual-reachability spanning tree and the condensed tree have the same shape, and leaf
    selection depends only on that shape: hdbscan's own (slow, all-pairs) cosine gives exactly
    the clusters of euclidean on the normalised rows. Our tree algorithm (Prim on a k-d tree)
    agrees with it up to near-ties.
    """
    import hdbscan
    from sklearn.metrics import adjusted_rand_score

    _, X = load_vectors(seeded, resolve_space())
    params = HdbscanParams(min_cluster_size=10, min_samples=3, metric="cosine", selection="leaf")
    Z, _ = reduce(X, params)
    unit = (Z / np.linalg.norm(Z, axis=1, keepdims=True)).astype(np.float64)
    common = {"min_cluster_size": 10, "min_samples": 3, "cluster_selection_method": "leaf",
              "algorithm": "generic"}  # fmt: skip
    cosine = hdbscan.HDBSCAN(metric="cosine", **common).fit(unit).labels_
    euclid_on_unit = hdbscan.HDBSCAN(metric="euclidean", **common).fit(unit).labels_
    # equal in exact arithmetic; in floating point a point whose core distance ties the
    # density threshold may fall either side of it (2 of 600 border points with numpy 2.4)
    assert (cosine != euclid_on_unit).mean() <= 0.01
    assert adjusted_rand_score(cosine, euclid_on_unit) >= 0.98
    ours = fit_hdbscan(Z, params)
    assert ours.metrics["n_clusters"] >= 3
    assert adjusted_rand_score(ours.labels, cosine) > 0.95
    euclid = fit_hdbscan(Z, HdbscanParams(**(params.to_dict() | {"metric": "euclidean"})))
    assert adjusted_rand_score(ours.labels, euclid.labels) < 0.9  # the metric matters


def test_fit_sample_path_assigns_every_query(seeded, home) -> None:
    params = HdbscanParams(min_cluster_size=8, fit_sample=250, reduce_dims=20, assign_noise=False)
    summary = run_hdbscan(seeded, params)
    m = summary.metrics
    assert m["fit_rows"] == 250 and m["predicted_rows"] == summary.n_queries - 250 > 0
    assert m["reduction"]["fit_rows"] == 250 and m["reduction"]["dims"] == 20
    rows = db_rows(
        home / "queries.db",
        "SELECT cluster_id, confidence_score FROM query_clusters WHERE run_id = ?",
        summary.run_id,
    )
    assert len(rows) == summary.n_queries
    labels = np.array([r[0] for r in rows])
    assert (labels >= 0).sum() > 0 and (labels == -1).sum() > 0
    assert all(0.0 <= r[1] <= 1.0 for r in rows)


def test_brute_force_prediction_is_hdbscans_own_tree_prediction(seeded) -> None:
    """The fit-sample path predicts through BLAS neighbours instead of hdbscan's KD-tree (25 s
    -> ~2 s for 40k rows at PCA-50): same neighbour distances, same core distances, and the
    labels and membership strengths of `approximate_predict` on hdbscan's own prediction data
    (up to ties between duplicate texts, which either tree may order either way)."""
    import hdbscan
    from sklearn.neighbors import KDTree

    from lmsys_tui.core.cluster.density import BruteNeighbours, _add_prediction_data

    _, X = load_vectors(seeded, resolve_space())
    Z, _ = reduce(X, HdbscanParams(reduce_dims=20))
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    fit_rows, rest = Z[:250], Z[250:]
    assert len(rest) > 50
    brute, tree = BruteNeighbours(fit_rows), KDTree(fit_rows.astype(np.float64))
    d_brute, i_brute = brute.query(rest, k=6)
    d_tree, i_tree = tree.query(rest.astype(np.float64), k=6)
    # the same distances (to float64 rounding: BLAS sums in another order than the k-d tree;
    # numpy 2.4 differs at 2e-9 here); indices differ only among equidistant rows
    np.testing.assert_allclose(d_brute, d_tree, rtol=0, atol=1e-7)
    exact = np.linalg.norm(rest[:, None, :].astype(np.float64) - fit_rows[i_brute], axis=2)
    np.testing.assert_allclose(exact, d_tree, rtol=0, atol=1e-7)
    assert (i_brute == i_tree).mean() > 0.95

    def fitted():  # type: ignore[no-untyped-def]
        return hdbscan.HDBSCAN(min_cluster_size=8, min_samples=2, algorithm="prims_kdtree").fit(
            fit_rows
        )

    stock = fitted()
    stock.generate_prediction_data()
    ours = fitted()
    _add_prediction_data(ours, fit_rows, "euclidean")
    assert isinstance(ours.prediction_data_.tree, BruteNeighbours)
    # BLAS distances of float32 rows: a duplicate's 0 comes out as ~1.7e-7 (sqrt of rounding)
    np.testing.assert_allclose(
        ours.prediction_data_.core_distances, stock.prediction_data_.core_distances, atol=1e-6
    )
    labels_stock, strength_stock = hdbscan.approximate_predict(stock, rest)
    labels_ours, strength_ours = hdbscan.approximate_predict(ours, rest)
    assert (labels_stock >= 0).sum() > 0
    same = labels_ours == labels_stock
    assert same.mean() > 0.98  # a tie between duplicates may pick another equal neighbour
    np.testing.assert_allclose(strength_ours[same], strength_stock[same], atol=1e-9)


def test_options_change_the_result(seeded) -> None:
    _, X = load_vectors(seeded, resolve_space())
    base = HdbscanParams(min_cluster_size=6)
    Z, _ = reduce(X, base)

    def labels(**changes):  # type: ignore[no-untyped-def]
        p = HdbscanParams(**(base.to_dict() | changes))
        return fit_hdbscan(reduce(X, p)[0] if "reduce_dims" in changes else Z, p).labels

    ref = labels()
    for changes in (
        {"min_cluster_size": 12},
        {"min_samples": 6},
        {"selection": "leaf"},
        {"epsilon": 0.5},
        {"reduce_dims": 10},
    ):
        assert not np.array_equal(labels(**changes), ref), changes
    with pytest.raises(UsageError):
        HdbscanParams(metric="minkowski-ish")


def test_max_cluster_fraction_stops_one_cluster_taking_nearly_everything() -> None:
    """Three close blobs of 100 and a far one of 40: eom alone takes the three as one cluster
    (88% of the rows, as it took 93-98% of real chat turns); the cap makes it pick below."""
    rng = np.random.default_rng(0)
    centres = ((0, 0), (0.45, 0), (0.9, 0))
    Z = np.vstack(
        [rng.normal(c, 0.12, size=(100, 2)) for c in centres]
        + [rng.normal((8, 8), 0.1, size=(40, 2))]
    ).astype(np.float32)

    def sizes(fraction: float) -> np.ndarray:
        p = HdbscanParams(min_cluster_size=20, metric="euclidean", reduce_dims=0,
                          max_cluster_fraction=fraction, assign_noise=False)  # fmt: skip
        labels = fit_hdbscan(Z, p).labels
        return np.bincount(labels[labels >= 0])

    assert sizes(0).max() == 300
    capped = sizes(0.3)
    assert capped.max() <= 0.3 * len(Z) and len(capped) >= 4


def test_cli_hdbscan_cosine_and_bad_options(seeded, cli_env) -> None:
    res = run_cli(["--headless", "cluster", "hdbscan", "--metric", "cosine",
                   "--min-cluster-size", "10", "--json"], cli_env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["algorithm"] == "hdbscan" and data["status"] == "done"
    assert 0 < data["metrics"]["noise_fraction"] < 1
    assert data["run_id"].startswith("hdbscan-10-")
    for args in (
        ["--metric", "nope"],
        ["--min-cluster-size", "1"],
        ["--reducer", "tsne"],
        ["--max-cluster-fraction", "1"],
    ):
        bad = run_cli(["--headless", "cluster", "hdbscan", *args], cli_env)
        assert bad.returncode == ExitCode.USAGE, args
        assert bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
