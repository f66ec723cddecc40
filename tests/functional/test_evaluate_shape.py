"""The hierarchy's shape from the data (issue 12 items 3 and 7).

Level sizes are chosen from the leaves' centroids unless --top-nodes or --merge-ratio says
otherwise; the choice is stored and shown. An LLM level that does not merge is rebuilt offline
and recorded, never stored as a copy of the level below. Real ShareGPT clusters
(tests/summary_fixtures.py); the LLM is the local server (tests/llm_server.py).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import summary_fixtures as fx
from conftest import run_cli
from summary_fixtures import N_CLUSTERS

from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
from lmsys_tui.core.hierarchy.shape import choose_shape, merge_failure
from lmsys_tui.core.hierarchy.show import load_tree
from lmsys_tui.core.summarize import SummarizeOptions, run_summarize
from lmsys_tui.errors import UsageError


def _blobs(topics: int, per_topic: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Unit vectors in `topics` tight groups (leaf centroids of well separated topics)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, dim))
    rows = np.repeat(centres, per_topic, axis=0) + 0.15 * rng.normal(size=(topics * per_topic, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("topics", [5, 8, 12])
def test_top_level_finds_the_number_of_groups(topics: int) -> None:
    """Leaves drawn from k groups: the silhouette choice puts k nodes at the top."""
    unit = _blobs(topics, 6, seed=topics)
    shape = choose_shape(unit, [10] * len(unit), 3)
    assert shape.method == "silhouette" and shape.sizes[-1] == topics
    assert shape.sizes[0] == len(unit) > shape.sizes[1] > shape.sizes[2]
    assert shape.score == shape.candidates[str(topics)] == max(shape.candidates.values())
    assert set(shape.candidates) == {str(k) for k in range(4, min(31, len(unit)))}


def test_explicit_sizes_win_over_the_data() -> None:
    unit = _blobs(5, 6)
    assert choose_shape(unit, [1] * 30, 3, top_nodes=9).sizes[-1] == 9
    assert choose_shape(unit, [1] * 30, 3, merge_ratio=0.35).sizes == [30, 10, 4]
    assert choose_shape(unit, [1] * 30, 2).sizes == [30, 5]
    assert choose_shape(unit[:3], [1] * 3, 3).sizes[-1] == 2  # fewer leaves than the range
    with pytest.raises(UsageError, match="--top-nodes and --merge-ratio"):
        MergeOptions(top_nodes=5, merge_ratio=0.3)


def test_a_level_that_does_not_shrink_is_a_failure() -> None:
    assert merge_failure(50, 50, 17) == "50 parents for 50 children: nothing was merged"
    assert "at most" in (merge_failure(50, 40, 17) or "")
    assert "at least" in (merge_failure(50, 1, 6) or "")
    assert merge_failure(50, 18, 17) is None and merge_failure(50, 6, 6) is None


def test_offline_sizes_stored_and_shown(cstore, db, cli_env) -> None:
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions())
    auto = run_merge(cstore, fx.RUN_ID, MergeOptions())
    fixed = run_merge(cstore, fx.RUN_ID, MergeOptions(top_nodes=7))
    ratio = run_merge(cstore, fx.RUN_ID, MergeOptions(merge_ratio=0.35))
    assert auto.shape["method"] == "silhouette" and 4 <= auto.levels[-1] <= 29
    assert auto.levels == auto.shape["sizes"] and auto.shape["score"] is not None
    assert fixed.levels[-1] == 7 and fixed.shape["method"] == "top-nodes"
    assert ratio.levels == [N_CLUSTERS, 10, 4] and ratio.shape["method"] == "merge-ratio"
    [(params,)] = fx.query(
        db,
        "SELECT parameters FROM hierarchy_runs WHERE hierarchy_run_id = ?",
        auto.hierarchy_run_id,
    )
    assert json.loads(params)["shape"] == auto.shape
    shown = run_cli(["--headless", "show-hierarchy", auto.hierarchy_run_id], cli_env)
    assert shown.returncode == 0, shown.stderr
    said = " ".join(shown.stdout.split())  # the head line wraps at the terminal's width
    assert f"sizes by silhouette, top silhouette {auto.shape['score']:.2f}" in said
    bad = run_cli(["--headless", "merge-clusters", fx.RUN_ID, "--top-nodes", "5",
                   "--merge-ratio", "0.3", "--json"], cli_env)  # fmt: skip
    assert bad.returncode == 2 and "--top-nodes and --merge-ratio" in bad.stderr


def test_llm_level_that_does_not_merge_is_rebuilt_offline(cstore, db, server, monkeypatch):
    """Every assignment answer names a parent nobody offered: each child would be its own
    parent (level 1 = a copy of the leaves). The level is built offline instead, and said so."""
    monkeypatch.setenv("LMSYS_TUI_LLM_RETRY_BASE", "0.05")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
    model = "openai/gpt-4o-mini"
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model=model))
    server.fail_next("bad_parent", times=3 * N_CLUSTERS, task="ParentChoice")
    result = run_merge(cstore, fx.RUN_ID, MergeOptions(model=model, neighborhood_size=12))
    assert result.status == "done"
    levels = result.levels
    assert levels[0] == N_CLUSTERS and all(a > b for a, b in itertools.pairwise(levels))
    assert levels[1] == result.shape["sizes"][1]  # the offline level has the planned size
    [fallback] = [f for f in result.fallbacks if f["level"] == 1]
    assert "nothing was merged" in fallback["reason"]
    assert fallback["unplaced_dropped"] == N_CLUSTERS
    assert not [u for u in result.unplaced if u["level"] == 1]
    assert "level 1 built offline" in result.message
    stored = fx.query(
        db,
        "SELECT level, COUNT(*) FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
        " GROUP BY level ORDER BY level",
        result.hierarchy_run_id,
    )
    assert [n for _, n in stored] == levels
    tree = load_tree(db, result.hierarchy_run_id)
    assert tree["fallbacks"] == result.fallbacks
