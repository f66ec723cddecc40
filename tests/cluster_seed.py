"""An embedded store of real ShareGPT first turns for the clustering, browse and export tests.

Built once per test session through the real stages: the load stage (dataset `sharegpt`, the
first N conversations whose first turn has at most MAX_CHARS characters, plus the first SAMPLE
of them again as dataset `sample`, so the same texts appear twice) and the embedding stage with
the bundled MiniLM (offline, torch backend: no ONNX export to pay for). Short first turns keep
the one model pass of the session short (CPU time grows with tokens). Each test gets a private
copy of the whole home (SQLite files are copied while nothing has them open), so tests never
share a database.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

N_QUERIES = 500
SAMPLE = 100
MAX_CHARS = 400
_TEMPLATE: Path | None = None
_CLUSTERED: tuple[Path, dict[str, str]] | None = None


def _build(home: Path) -> None:
    from lmsys_tui.core.embed import embed_queries, resolve_space
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.sources.base import Conversation
    from lmsys_tui.core.store.db import open_store

    def short():  # type: ignore[no-untyped-def]
        return (
            i
            for i in sharegpt.read()
            if not isinstance(i, Conversation) or len(i.text) <= MAX_CHARS
        )

    store = open_store(home / "queries.db")
    try:
        run_load(store, short(), sharegpt.info(), limit=N_QUERIES)
        run_load(store, short(), sharegpt.info(), label="sample", limit=SAMPLE)
        embed_queries(store, resolve_space(), backend="torch")
    finally:
        store.close()


def seeded_home(home: Path) -> Path:
    """Fill `home` with a copy of the session's embedded store; returns `home`."""
    global _TEMPLATE
    if _TEMPLATE is None:
        template = Path(tempfile.mkdtemp(prefix="lmsys-tui-cluster-seed-")) / "home"
        template.mkdir()
        _build(template)
        _TEMPLATE = template
    shutil.copytree(_TEMPLATE, home, dirs_exist_ok=True)
    return home


def clustered_home(home: Path) -> dict[str, str]:
    """Like `seeded_home`, plus one k-means and one HDBSCAN run; returns their run ids."""
    global _CLUSTERED
    if _CLUSTERED is None:
        from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan
        from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
        from lmsys_tui.core.store.db import open_store

        template = Path(tempfile.mkdtemp(prefix="lmsys-tui-cluster-runs-")) / "home"
        seeded_home(template)
        store = open_store(template / "queries.db")
        try:
            ids = {
                "kmeans": run_kmeans(store, KMeansParams(n_clusters=12)).run_id,
                "hdbscan": run_hdbscan(
                    store, HdbscanParams(min_cluster_size=10, assign_noise=False)
                ).run_id,  # noise left as -1 for the tests of noise rows
            }
        finally:
            store.close()
        _CLUSTERED = (template, ids)
    shutil.copytree(_CLUSTERED[0], home, dirs_exist_ok=True)
    return dict(_CLUSTERED[1])
