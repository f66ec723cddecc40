"""The layout's maths on data whose answer is known (no store, no model): PCA finds the plane
the points were drawn on, fitting its axes on a sample gives the same picture as fitting on
all rows, and the unit square keeps the aspect ratio and clamps outliers."""

from __future__ import annotations

import numpy as np

from lmsys_tui.core.insights.layout import pca_2d, unit_square


def _planar(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points on a random 2-D plane in 64-d (spread 10:3 along its axes), plus small noise."""
    rng = np.random.default_rng(seed)
    plane = np.linalg.qr(rng.standard_normal((64, 2)))[0].T
    coords = rng.standard_normal((n, 2)) * np.array([10.0, 3.0])
    points = coords @ plane + 0.05 * rng.standard_normal((n, 64)) + 4.0
    return points.astype(np.float32), coords


def test_pca_recovers_the_plane_up_to_sign() -> None:
    points, coords = _planar(3000)
    found = pca_2d(points)
    for axis in range(2):
        assert abs(np.corrcoef(found[:, axis], coords[:, axis])[0, 1]) > 0.995  # noise: 0.05 a dim


def test_fitting_on_a_sample_gives_the_same_picture() -> None:
    points, _ = _planar(20_000, seed=1)
    full = pca_2d(points, fit_rows=len(points))
    sampled = pca_2d(points, fit_rows=2_000)  # every 10th row
    for axis in range(2):
        assert np.corrcoef(full[:, axis], sampled[:, axis])[0, 1] > 0.995  # same sign too
    assert np.array_equal(pca_2d(points), pca_2d(points))  # deterministic


def test_unit_square_keeps_aspect_and_clamps_outliers() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform([-10, -1], [10, 1], (10_000, 2)).astype(np.float32)
    pts[0] = (1e6, 1e6)
    out = unit_square(pts)
    assert out.min() >= 0 and out.max() <= 1 and tuple(out[0]) == (1.0, 1.0)
    width, height = np.ptp(out[1:], axis=0)
    assert 0.95 < width <= 1 and 0.08 < height < 0.12  # 20:2 stays 10:1


def test_a_v3_store_is_migrated_to_hold_layouts(store) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from lmsys_tui.core.store.schema import SCHEMA_VERSION, ensure_current

    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE run_layouts")
    conn.execute("UPDATE schema_info SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    assert ensure_current(path) == 3 and SCHEMA_VERSION >= 4
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(run_layouts)")]
    conn.close()
    assert columns == ["id", "run_id", "method", "members", "points", "query_ids", "coords",
                       "parameters", "created_at"]  # fmt: skip
