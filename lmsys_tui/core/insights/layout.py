"""A run's 2-D map: every member query placed by its embedding, computed once and stored.

PCA (numpy, deterministic; its axes fitted on an even sample of 20,000 rows in larger runs) by
default; UMAP when the optional `umap-learn` is
installed (`pip install 'lmsys-tui[umap]'`). Coordinates are scaled into [0, 1] (the 0.5th to
99.5th percentiles span the square, outliers are clamped to its edge) so every drawing
(terminal canvas, SVG, PNG) shares one frame. The layout is stored in `run_layouts` with the
run's membership count: when that count changes (queries assigned later) it is recomputed.
Vectors come from the embedding store, never from the model; a member without a vector
(an empty or unreadable text) has no place on the map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.embed.space import run_space
from lmsys_tui.core.insights.map_options import LAYOUT_METHODS as METHODS
from lmsys_tui.core.read.runs import get_run
from lmsys_tui.core.store.sql import db_timestamp, file_transaction, one, reader, tuples, utcnow
from lmsys_tui.errors import Cancelled, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

UMAP_FIT_SAMPLE = 20_000  # UMAP is fitted on at most this many points, the rest transformed
PCA_FIT_SAMPLE = 20_000  # PCA's axes come from at most this many rows (all below it)


@dataclass(frozen=True)
class Layout:
    """Where each member query of a run sits: `xy[i]` in [0, 1]^2 is query `query_ids[i]`,
    which belongs to cluster `cluster_ids[i]`."""

    run_id: str
    method: str
    query_ids: np.ndarray  # int64
    cluster_ids: np.ndarray  # int64
    xy: np.ndarray  # float32, n x 2
    members: int
    created_at: str
    computed: bool  # True when this call computed it (False: read back from the store)

    def summary(self) -> dict[str, Any]:
        """The layout as `map --json` tells it: counts and each cluster's centre and size."""
        return {
            "run_id": self.run_id,
            "method": self.method,
            "points": len(self.query_ids),
            "members": self.members,
            "created_at": self.created_at,
            "computed": self.computed,
            "clusters": [
                {"cluster_id": c, "size": n, "x": round(x, 4), "y": round(y, 4)}
                for c, (x, y, n) in sorted(centres(self).items())
            ],
        }


def centres(layout: Layout) -> dict[int, tuple[float, float, int]]:
    """Cluster id -> (mean x, mean y, points): where a cluster's label and dot go."""
    import numpy as np

    out: dict[int, tuple[float, float, int]] = {}
    for cid in np.unique(layout.cluster_ids):
        mask = layout.cluster_ids == cid
        x, y = layout.xy[mask].mean(axis=0)
        out[int(cid)] = (float(x), float(y), int(mask.sum()))
    return out


def _umap_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("umap") is not None


def check_method(method: str) -> None:
    if method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if method == "umap" and not _umap_installed():
        raise UsageError(
            "--method umap needs umap-learn (pip install 'lmsys-tui[umap]'); pca needs nothing"
        )


def _members(db: Path, run_id: str, cancelled: CancelCheck) -> tuple[Any, list[tuple]]:
    """The run's embedding space and its members as (query id, cluster id, text hash)."""
    with reader(db, cancelled) as conn:
        run = get_run(conn, run_id)
        found = tuples(
            conn,
            "SELECT qc.query_id, qc.cluster_id, q.text_hash FROM query_clusters qc"
            " JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = ? ORDER BY qc.query_id",
            (run_id,),
        )
    space = run_space(run)
    if space is None:
        raise UsageError(f"run {run_id!r} records no embedding space; it cannot be mapped")
    return space, found


def _vectors(db: Path, space: Any, members: list[tuple]) -> tuple[np.ndarray, list[int]]:
    """The members' vectors (one row per member that has one) and which members have one."""
    import numpy as np

    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path

    want: dict[str, int] = {}
    for _qid, _cid, text_hash in members:
        want.setdefault(text_hash, len(want))
    unique = np.zeros((len(want), space.dim), dtype=np.float32)
    with EmbeddingStore(embeddings_path(db)) as store:
        sid = store.find_space(space)
        if sid is None:
            raise UsageError(f"the embedding store has no vectors in {space.key}; run `embed`")
        filled = store.fill(sid, space.dim, want, unique)
    keep = [i for i, m in enumerate(members) if filled[want[m[2]]]]
    rows = np.fromiter((want[members[i][2]] for i in keep), np.int64, len(keep))
    return unique[rows], keep


def pca_2d(vectors: np.ndarray, fit_rows: int = PCA_FIT_SAMPLE) -> np.ndarray:
    """The two principal components (eigenvectors of the covariance, signs fixed so the
    largest loading is positive: the same input always gives the same picture). Fitted on
    every row up to `fit_rows`, beyond that on evenly spaced rows (the axes of a 2-D picture
    settle long before that); every row is projected, without a centred copy of the matrix."""
    import numpy as np

    step = max(1, -(-len(vectors) // fit_rows))
    sample = vectors[::step]
    mean = sample.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = sample - mean
    _, vecs = np.linalg.eigh((centred.T @ centred).astype(np.float64))
    top = vecs[:, ::-1][:, :2]
    signs = np.sign(top[np.abs(top).argmax(axis=0), [0, 1]])
    top = (top * np.where(signs == 0, 1, signs)).astype(np.float32)
    return vectors @ top - mean @ top


def _umap_2d(vectors: np.ndarray, seed: int) -> np.ndarray:
    import numpy as np
    import umap  # the optional extra; check_method said it is there

    reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed)
    if len(vectors) <= UMAP_FIT_SAMPLE:
        return reducer.fit_transform(vectors).astype(np.float32)
    rng = np.random.default_rng(seed)
    fit = rng.choice(len(vectors), UMAP_FIT_SAMPLE, replace=False)
    reducer.fit(vectors[fit])
    return reducer.transform(vectors).astype(np.float32)


def unit_square(points: np.ndarray) -> np.ndarray:
    """Scale into [0, 1]^2 keeping the aspect ratio: the 0.5th-99.5th percentile box fills the
    longer side, points beyond it are clamped to the edge."""
    import numpy as np

    if len(points) == 0:
        return points.astype(np.float32)
    lo = np.percentile(points, 0.5, axis=0)
    hi = np.percentile(points, 99.5, axis=0)
    span = float(max((hi - lo).max(), 1e-9))
    centred = (points - (lo + hi) / 2) / span + 0.5
    return np.clip(centred, 0.0, 1.0).astype(np.float32)


def _stored(db: Path, run_id: str, method: str, members: int) -> Layout | None:
    import numpy as np

    with reader(db) as conn:
        row = one(
            conn,
            "SELECT members, query_ids, coords, created_at FROM run_layouts"
            " WHERE run_id = ? AND method = ?",
            (run_id, method),
        )
        if row is None or int(row["members"]) != members:
            return None
        ids = np.frombuffer(row["query_ids"], dtype="<i8")
        labels = dict(
            tuples(conn, "SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ?",
                   (run_id,))
        )  # fmt: skip
    cluster_ids = np.fromiter((labels.get(int(q), -1) for q in ids), np.int64, len(ids))
    xy = np.frombuffer(row["coords"], dtype="<f4").reshape(-1, 2)
    return Layout(run_id, method, ids, cluster_ids, xy, members, str(row["created_at"]), False)


def _save(db: Path, layout: Layout, parameters: dict[str, Any]) -> None:
    with file_transaction(db) as conn:
        conn.execute(
            "DELETE FROM run_layouts WHERE run_id = ? AND method = ?",
            (layout.run_id, layout.method),
        )
        conn.execute(
            "INSERT INTO run_layouts (run_id, method, members, points, query_ids, coords,"
            " parameters, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                layout.run_id,
                layout.method,
                layout.members,
                len(layout.query_ids),
                layout.query_ids.astype("<i8").tobytes(),
                layout.xy.astype("<f4").tobytes(),
                json.dumps(parameters),
                layout.created_at,
            ),
        )


def run_layout(
    db: Path,
    run_id: str,
    method: str = "pca",
    *,
    recompute: bool = False,
    seed: int = 0,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> Layout:
    """The run's layout by `method`: the stored one while the run's members are unchanged,
    else computed from the stored vectors and stored."""
    import numpy as np

    check_method(method)
    space, members = _members(db, run_id, cancelled)
    count = len(members)
    if not recompute:
        found = _stored(db, run_id, method, count)
        if found is not None:
            return found
    progress(0, 3, "reading vectors")
    vectors, keep = _vectors(db, space, members)
    if cancelled():
        raise Cancelled("map cancelled")
    progress(1, 3, f"{method} of {len(keep):,} points")
    if len(keep) < 3:
        raise UsageError(f"run {run_id!r} has {len(keep)} queries with vectors; a map needs 3")
    raw = pca_2d(vectors) if method == "pca" else _umap_2d(vectors, seed)
    ids = np.fromiter((members[i][0] for i in keep), np.int64, len(keep))
    labels = np.fromiter((members[i][1] for i in keep), np.int64, len(keep))
    layout = Layout(
        run_id, method, ids, labels, unit_square(raw), count, db_timestamp(utcnow()), True
    )
    progress(2, 3, "storing the layout")
    _save(db, layout, {"seed": seed} if method == "umap" else {})
    progress(3, 3, "done")
    return layout
