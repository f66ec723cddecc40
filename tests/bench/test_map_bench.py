"""The map layout against the bare library, in the same run.

Run: pytest tests/bench/test_map_bench.py -s  (LMSYS_BENCH_MAP_ROWS=1000000 for a million)

`pca_2d` (axes from at most 20,000 evenly spaced rows, every row projected) against
scikit-learn's exact PCA (`covariance_eigh`, its fastest exact solver when rows far outnumber
columns) fitted on the same sample and transforming every row, on unit-normalised 384-d
vectors (the MiniLM space's shape). Target: at most 1.5x sklearn's time, and the same plane
(each of sklearn's axes explained by ours with R^2 above 0.99). Then the terminal canvas: one
braille frame of 118 x 34 cells from every point, 300 clusters (target: under 1 s; it is drawn
again only when the size, zoom or data change).
"""

from __future__ import annotations

import os
import time

import numpy as np

from lmsys_tui.core.insights.layout import PCA_FIT_SAMPLE, pca_2d, unit_square

ROWS = int(os.environ.get("LMSYS_BENCH_MAP_ROWS", "300000"))


def _vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((300, 384)).astype(np.float32)
    x = centres[rng.integers(0, 300, ROWS)] + 0.7 * rng.standard_normal((ROWS, 384), np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_pca_layout_against_sklearn() -> None:
    from sklearn.decomposition import PCA

    x = _vectors()
    pca_2d(x[:5000]), PCA(2, svd_solver="covariance_eigh").fit_transform(x[:5000])  # warm BLAS
    start = time.perf_counter()
    ours = pca_2d(x)
    ours_s = time.perf_counter() - start
    step = max(1, -(-len(x) // PCA_FIT_SAMPLE))
    start = time.perf_counter()
    bare = PCA(2, svd_solver="covariance_eigh").fit(x[::step]).transform(x)
    bare_s = time.perf_counter() - start
    # the same plane: sklearn's axes are explained by ours (R^2 of a least-squares fit); the
    # axes inside the plane may turn when the top eigenvalues are close
    design = np.column_stack([ours, np.ones(len(ours))])
    fit = design @ np.linalg.lstsq(design, bare, rcond=None)[0]
    spread = ((bare - bare.mean(axis=0)) ** 2).sum(axis=0)
    agree = list(1 - ((bare - fit) ** 2).sum(axis=0) / spread)
    print(f"\n{ROWS:,} x 384: pca_2d {ours_s:.2f} s, sklearn {bare_s:.2f} s"
          f" ({ours_s / bare_s:.2f}x); R^2 {agree[0]:.4f}, {agree[1]:.4f}")  # fmt: skip
    assert min(agree) > 0.99
    assert ours_s <= 1.5 * bare_s


def test_terminal_canvas_frame() -> None:
    from lmsys_tui.tui.widgets.cluster_map import ClusterMap, MapData

    rng = np.random.default_rng(1)
    xy = unit_square(rng.standard_normal((ROWS, 2)).astype(np.float32))
    labels = rng.integers(0, 300, ROWS)
    centres = {
        c: (float(xy[labels == c, 0].mean()), float(xy[labels == c, 1].mean()),
            int((labels == c).sum()))
        for c in range(300)
    }  # fmt: skip
    canvas = ClusterMap()
    canvas.data = MapData(xy, labels, centres, {}, frozenset({1, 2, 3}))
    start = time.perf_counter()
    dots, lit = canvas.grids(118, 34)
    canvas.cells(dots), canvas.cells(lit)
    took = time.perf_counter() - start
    print(f"\ncanvas 118 x 34 from {ROWS:,} points: {took * 1000:.0f} ms")
    assert took < 1.0
