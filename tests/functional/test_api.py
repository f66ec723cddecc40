"""The Python API (`lmsys_tui.api`) answers what the headless commands print with --json, on
the real searchable seed (ShareGPT, MiniLM, Chroma, an offline summary pass); and the README's
API example runs as written."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from search_fixtures import BACKEND, onnx_home, private_copy

from lmsys_tui.api import Cluster, Query, Run, open_store
from lmsys_tui.errors import NotFoundError, UsageError

README = Path(__file__).resolve().parents[2] / "README.md"


def _cli(seed, *args: str) -> dict:
    env = {"LMSYS_TUI_HOME": str(seed.home), "PYTHONIOENCODING": "utf-8"}
    import os

    res = run_cli(["--headless", *args, "--json"], dict(os.environ) | env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_runs_clusters_and_members_match_the_commands(seed) -> None:
    with open_store(seed.db, backend=BACKEND) as store:
        runs = store.runs()
        assert all(isinstance(r, Run) for r in runs)
        assert {seed.run_id, seed.bare_run_id} <= {r.run_id for r in runs}
        assert store.latest_run().run_id == runs[0].run_id
        clusters = store.clusters(seed.run_id)
        listed = _cli(seed, "list-clusters", seed.run_id)["clusters"]
        assert [(c.cluster_id, c.title, c.num_queries) for c in clusters] == [
            (c["cluster_id"], c["title"], c["num_queries"]) for c in listed
        ]
        assert all(isinstance(c, Cluster) and c.title_source == "summary" for c in clusters)
        biggest = clusters[0]
        members = store.members(seed.run_id, biggest.cluster_id, limit=500)
        assert len(members) == biggest.num_queries
        assert all(isinstance(q, Query) and q.cluster_id == biggest.cluster_id for q in members)
        central = store.members(seed.run_id, biggest.cluster_id, limit=5, order="distance")
        assert [q.distance for q in central] == sorted(q.distance for q in central)


def test_search_queries_clusters_and_facets_match_the_commands(seed) -> None:
    text = "write a python function"
    with open_store(seed.db, backend=BACKEND) as store:
        found = store.search(text, run_id=seed.run_id, n_results=7, facets=("language",))
        cli = _cli(seed, "search", text, "--run-id", seed.run_id, "--n-results", "7",
                   "--facets", "language", "--embed-backend", BACKEND)  # fmt: skip
        assert [h.query_id for h in found.hits] == [r["query_id"] for r in cli["results"]]
        assert found.to_json()["facets"] == cli["facets"]
        facets = store.facets(text, run_id=seed.run_id, facets=("cluster", "model"))
        assert set(facets) == {"cluster", "model"}
        assert sum(b.count for b in facets["cluster"]) == found.matched.size
        ranked = store.search_clusters(text, run_id=seed.run_id, top_k=3)
        cli = _cli(seed, "search-cluster", text, "--run-id", seed.run_id, "--top-k", "3")
        assert [h.cluster_id for h in ranked.hits] == [r["cluster_id"] for r in cli["results"]]


def test_bad_input_raises_the_errors_the_commands_exit_with(seed, tmp_path) -> None:
    with pytest.raises(NotFoundError):
        open_store(tmp_path / "none.db")
    with pytest.raises(UsageError):
        open_store(seed.db, backend="gpu")
    with open_store(seed.db, backend=BACKEND) as store:
        with pytest.raises(NotFoundError):
            store.clusters("no-such-run")
        with pytest.raises(UsageError):
            store.search("   ", run_id=seed.run_id)


def test_the_readme_example_runs_as_written(home, monkeypatch) -> None:
    """As written: the default store of $LMSYS_TUI_HOME (a copy of the seed, with the shared
    ONNX export beside it, so the default `auto` backend costs no export here)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if "lmsys_tui.api" in b)
    seed = private_copy(home)
    shutil.rmtree(home / "cache", ignore_errors=True)
    (home / "cache").symlink_to(onnx_home() / "cache", target_is_directory=True)
    monkeypatch.setenv("LMSYS_TUI_HOME", str(home))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})  # the documented example, as written
    printed = out.getvalue()
    with open_store(seed.db, backend=BACKEND) as store:
        titles = [c.title for c in store.clusters(store.latest_run().run_id)[:3]]
    assert all(t in printed for t in titles), printed
