"""A searchable store on real data for the search and verify tests, built once per session.

On top of `cluster_seed.clustered_home` (real ShareGPT first turns, loaded by the load stage and
embedded with the bundled MiniLM, one k-means run): the run's queries in a real Chroma folder
(the embedding stage's backfill), one offline summary pass (no key: the c-TF-IDF summariser) and
one offline hierarchy. Tests that only read share the template; tests that write get a copy.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

BACKEND = "torch"  # what the seed embedded with; no ONNX export to pay for in a test


@dataclass(frozen=True)
class Seed:
    home: Path
    run_id: str  # k-means, with one summary pass and one hierarchy
    summary_run_id: str
    hierarchy_run_id: str
    bare_run_id: str  # HDBSCAN, no summaries: search-cluster ranks centroids + keywords

    @property
    def db(self) -> Path:
        return self.home / "queries.db"

    @property
    def chroma(self) -> Path:
        return self.home / "chroma"


_SEED: Seed | None = None


def _build(home: Path) -> Seed:
    from cluster_seed import clustered_home

    from lmsys_tui.core import chroma
    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    runs = clustered_home(home)
    run_id = runs["kmeans"]
    store = open_store(home / "queries.db")
    try:
        chroma.backfill(store, resolve_space(), path=home / "chroma")
        srid = run_summarize(store, run_id, SummarizeOptions(alias="offline")).summary_run_id
        hier = run_merge(store, run_id, MergeOptions(summary_run_id=srid)).hierarchy_run_id
    finally:
        store.close()
    return Seed(home, run_id, srid, hier, runs["hdbscan"])


def search_seed() -> Seed:
    """The shared template (read only: do not write into it)."""
    global _SEED
    if _SEED is None:
        home = Path(tempfile.mkdtemp(prefix="lmsys-tui-search-seed-")) / "home"
        home.mkdir()
        _SEED = _build(home)
    return _SEED


def private_copy(home: Path, *, with_chroma: bool = True) -> Seed:
    """A copy of the template in `home` for a test that writes."""
    seed = search_seed()
    ignore = None if with_chroma else shutil.ignore_patterns("chroma")
    shutil.copytree(seed.home, home, dirs_exist_ok=True, ignore=ignore)
    return Seed(home, seed.run_id, seed.summary_run_id, seed.hierarchy_run_id, seed.bare_run_id)


_ONNX_HOME: Path | None = None


def onnx_home() -> Path:
    """A home whose cache holds the ONNX export of the bundled model (exported once).

    A CLI process is one-shot: with torch it pays ~20 s of imports here, with the exported ONNX
    graph ~2 s. Tests that run semantic searches as a process point LMSYS_TUI_HOME at this.
    """
    global _ONNX_HOME
    if _ONNX_HOME is None:
        from lmsys_tui.core.embed import resolve_space
        from lmsys_tui.core.embed.onnx_export import ensure_onnx

        home = Path(tempfile.mkdtemp(prefix="lmsys-tui-search-onnx-")) / "home"
        ensure_onnx(resolve_space(), home / "cache")
        _ONNX_HOME = home
    return _ONNX_HOME
