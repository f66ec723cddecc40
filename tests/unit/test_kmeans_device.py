"""k-means assignment through torch (the CUDA path), run on the CPU: the same answer as numpy."""

from __future__ import annotations

import numpy as np
import pytest

from lmsys_tui.core.cluster.kmeans import assign


@pytest.mark.parametrize("k", [1, 2, 37])
def test_torch_assignment_matches_numpy(k: int) -> None:
    rng = np.random.default_rng(k)
    X = rng.standard_normal((3000, 48)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    centers = X[rng.choice(len(X), k, replace=False)] + 0.01
    ref = assign(X, centers, chunk_size=700)
    got = assign(X, centers, chunk_size=700, device="cpu")
    assert (got.labels == ref.labels).mean() > 0.999  # float ties may differ
    assert np.allclose(got.distances, ref.distances, atol=1e-3)
    assert np.allclose(got.confidence, ref.confidence, atol=1e-3)
    assert got.inertia == pytest.approx(ref.inertia, rel=1e-4)
    if k == 1:
        assert (got.labels == 0).all() and (got.confidence == 1).all()
