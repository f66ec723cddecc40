"""merge-clusters and show-hierarchy on real ShareGPT clusters: offline, and Clio via an LLM.

The clustered store comes from tests/summary_fixtures.py; LLM levels talk to the local server
(tests/llm_server.py) through the real openai / anthropic SDKs and instructor.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import summary_fixtures as fx
from conftest import run_cli
from llm_server import BAD_PARENT, LLMServer
from summary_fixtures import N_CLUSTERS

from lmsys_tui.core.hierarchy.clio import match_option
from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
from lmsys_tui.core.hierarchy.plan import (
    LEVEL_STRIDE,
    balanced_neighbourhoods,
    level_sizes,
    order_parents,
)
from lmsys_tui.core.hierarchy.show import load_tree
from lmsys_tui.core.summarize import SummarizeOptions, run_summarize
from lmsys_tui.errors import Cancelled, UsageError


def _nodes(db, hier_id: str) -> dict[int, tuple]:
    rows = fx.query(
        db,
        "SELECT cluster_id, parent_cluster_id, level, children_ids, title, query_count"
        " FROM cluster_hierarchies WHERE hierarchy_run_id = ?",
        hier_id,
    )
    return {r[0]: r for r in rows}


def _check_tree(db, hier_id: str, levels: list[int]) -> dict[int, tuple]:
    """Every leaf exactly once, links both ways agree, counts roll up to every node."""
    nodes = _nodes(db, hier_id)
    by_level = [sorted(n for n, r in nodes.items() if r[2] == lvl) for lvl in range(len(levels))]
    assert [len(b) for b in by_level] == levels
    assert by_level[0] == list(range(N_CLUSTERS))
    sizes = dict(fx.query(db, "SELECT cluster_id, size FROM clusters WHERE run_id = ?", fx.RUN_ID))
    for cid in by_level[0]:
        assert nodes[cid][5] == sizes[cid] and nodes[cid][1] is not None
    for lvl in range(1, len(levels)):
        for pid in by_level[lvl]:
            children = json.loads(nodes[pid][3])
            assert children and all(nodes[c][1] == pid and nodes[c][2] == lvl - 1 for c in children)
            assert nodes[pid][5] == sum(nodes[c][5] for c in children)
            assert pid // LEVEL_STRIDE == lvl
    top = by_level[-1]
    assert all(nodes[t][1] is None for t in top)
    assert sum(nodes[t][5] for t in top) == sum(sizes.values())
    return nodes


# ----------------------------------------------------------------------------- planning


def test_geometric_level_sizes() -> None:
    assert level_sizes(100, 3, 0.2) == [100, 20, 4]
    assert level_sizes(200, 4, 0.35) == [200, 70, 24, 8]
    assert level_sizes(30, 3, 0.35) == [30, 10, 4]
    assert level_sizes(4, 5, 0.5) == [4, 2]  # stops when nothing is left to merge
    with pytest.raises(UsageError):
        level_sizes(10, 1, 0.3)
    with pytest.raises(UsageError):
        level_sizes(10, 3, 1.5)


def test_parent_order_does_not_depend_on_completion_order() -> None:
    groups = [[7, 3], [1, 9], [4]]
    assert order_parents(groups) == order_parents(list(reversed(groups))) == [[1, 9], [3, 7], [4]]


def test_neighbourhoods_are_balanced_and_cover_everything() -> None:
    rng = np.random.default_rng(0)
    # three very unequal blobs: plain k-means would give one huge neighbourhood
    vecs = np.vstack([rng.normal(c, 0.05, size=(n, 8)) for c, n in ((0, 70), (3, 20), (6, 10))])
    hoods = balanced_neighbourhoods(vecs.astype(np.float32), size=40, seed=1)
    assert sorted(i for h in hoods for i in h) == list(range(100))
    assert len(hoods) == 3 and max(len(h) for h in hoods) <= 34


def test_assignment_answers_must_name_a_listed_parent() -> None:
    options = ["Python data analysis", "Creative writing"]
    assert match_option('  "python data  analysis." ', options) == "Python data analysis"
    assert match_option("Data analysis", options) is None
    assert match_option(BAD_PARENT, options) is None


# ----------------------------------------------------------------------------- offline


def test_offline_three_level_hierarchy_on_real_data(db, cli_env) -> None:
    summ = run_cli(["--headless", "summarize", fx.RUN_ID, "--alias", "off", "--json"], cli_env)
    assert summ.returncode == 0, summ.stderr
    # a newer pass over two clusters only: list-clusters --alias still shows exactly "off"
    few = run_cli(["--headless", "summarize", fx.RUN_ID, "--alias", "few", "--cluster-id", "1",
                   "--cluster-id", "2", "--max-queries", "3", "--json"], cli_env)  # fmt: skip
    assert few.returncode == 0, few.stderr
    listed = json.loads(
        run_cli(["--headless", "list-clusters", fx.RUN_ID, "--alias", "off", "--json"],
                cli_env).stdout
    )  # fmt: skip
    off = dict(fx.query(db, "SELECT cluster_id, title FROM cluster_summaries WHERE alias = 'off'"))
    assert listed["summary_run_id"] == json.loads(summ.stdout)["summary_run_id"]
    assert {c["cluster_id"]: c["title"] for c in listed["clusters"]} == off
    out = run_cli(["--headless", "merge-clusters", fx.RUN_ID, "--alias", "off", "--json"],
                  cli_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    levels = data["levels"]  # chosen from the centroids: the top within the readable range
    assert data["model"] == "offline/ctfidf" and levels[0] == 30 and 4 <= levels[-1] <= 29
    assert len(levels) == 3 and levels[0] > levels[1] > levels[2]
    assert data["shape"]["method"] == "silhouette" and data["shape"]["sizes"] == levels
    assert data["shape"]["candidates"][str(levels[-1])] == max(data["shape"]["candidates"].values())
    nodes = _check_tree(db, data["hierarchy_run_id"], levels)
    # parents are named from their children's keywords
    for node in nodes.values():
        if node[2] == 1:
            kids = " ".join(nodes[c][4].lower() for c in json.loads(node[3]))
            assert node[4].split(",")[0].split(" and ")[0].strip().lower() in kids
    rerun = run_cli(["--headless", "merge-clusters", fx.RUN_ID, "--alias", "off", "--json"],
                    cli_env)  # fmt: skip
    again = json.loads(rerun.stdout)
    same = _nodes(db, again["hierarchy_run_id"])
    assert {k: v[1:] for k, v in same.items()} == {k: v[1:] for k, v in nodes.items()}
    shown = run_cli(["--headless", "show-hierarchy", data["hierarchy_run_id"], "--json"], cli_env)
    tree = json.loads(shown.stdout)
    assert tree["levels"] == levels and len(tree["tree"]) == levels[-1]
    assert tree["shape"]["score"] == data["shape"]["score"]
    assert abs(sum(t["share"] for t in tree["tree"]) - 1.0) < 1e-4
    assert sum(len(c["children"]) for t in tree["tree"] for c in t["children"]) == N_CLUSTERS
    trimmed = run_cli(
        ["--headless", "show-hierarchy", fx.RUN_ID, "--max-depth", "1", "--json"], cli_env
    )
    top = json.loads(trimmed.stdout)["tree"]  # a run id shows its newest hierarchy
    assert all(t["children"] == [] and t["num_children"] > 0 for t in top)


def test_show_hierarchy_prints_untrusted_titles_literally(db, cli_env, cstore) -> None:
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions())
    hier = run_merge(cstore, fx.RUN_ID, MergeOptions(target_levels=2))
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE cluster_hierarchies SET title = ? WHERE cluster_id = 0",
        ("[bold red]boom[/bold red] \x1b[31mred",),
    )
    conn.commit()
    conn.close()
    out = run_cli(["--headless", "show-hierarchy", hier.hierarchy_run_id], cli_env)
    assert out.returncode == 0, out.stderr
    assert "[bold red]boom[/bold red]" in out.stdout and "\x1b[31m" not in out.stdout
    assert "\\x1b[31mred" in out.stdout


def test_bad_input(db, cli_env) -> None:
    cases = [
        (["merge-clusters", fx.RUN_ID], 2, "run `summarize"),
        (["merge-clusters", "nope"], 3, "no clustering run"),
        (["merge-clusters", fx.RUN_ID, "--merge-ratio", "2"], 2, "--merge-ratio"),
        (["merge-clusters", fx.RUN_ID, "--resume", "hier-nope"], 3, "no hierarchy run"),
        (["show-hierarchy", "hier-nope"], 3, "no hierarchy"),
    ]
    for args, code, text in cases:
        out = run_cli(["--headless", *args, "--json"], cli_env)
        assert out.returncode == code, (args, out.stderr)
        assert out.stdout == "" and text in out.stderr and out.stderr.count("\n") == 1, args


# ----------------------------------------------------------------------------- Clio with an LLM


def _llm(monkeypatch, server: LLMServer, provider: str = "openai") -> str:
    monkeypatch.setenv("LMSYS_TUI_LLM_RETRY_BASE", "0.05")
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
        return "anthropic/claude-haiku-4-5"
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
    return "openai/gpt-4o-mini"


def test_clio_levels_with_a_wrong_parent_answer(cstore, db, server, monkeypatch) -> None:
    model = _llm(monkeypatch, server, "anthropic")
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model=model))
    titles = dict(fx.query(db, "SELECT cluster_id, title FROM cluster_summaries"))
    # cluster 5's first assignment answer names a parent nobody offered: asked again, placed
    server.fail_next("bad_parent", task="ParentChoice", match=f"<child><title>{titles[5]}<")
    # cluster 7 gets only wrong answers: it must be recorded unplaced, never put in a default
    server.fail_next(
        "bad_parent", times=3, task="ParentChoice", match=f"<child><title>{titles[7]}<"
    )
    result = run_merge(cstore, fx.RUN_ID, MergeOptions(model=model, neighborhood_size=12))
    assert not server.state.faults  # every injected wrong answer was served
    assert len(result.levels) == 3 and result.levels[0] == N_CLUSTERS
    assert N_CLUSTERS > result.levels[1] > result.levels[2] >= 2
    nodes = _check_tree(db, result.hierarchy_run_id, result.levels)
    assert result.vectors == "titles"  # titles + descriptions embedded in the run's space
    assert [u["cluster_id"] for u in result.unplaced] == [7]
    assert BAD_PARENT in result.unplaced[0]["reason"]
    lonely = nodes[nodes[7][1]]
    assert json.loads(lonely[3]) == [7] and lonely[4] == titles[7]  # its own parent
    asked = [h for h in server.hits if h.task == "ParentChoice"]
    # the wrong answers are in the ledger as answers, and were not accepted
    wrong = fx.query(
        db,
        "SELECT COUNT(*) FROM llm_calls WHERE stage = 'merge' AND response LIKE ?",
        f"%{BAD_PARENT}%",
    )
    assert wrong == [(4,)]  # one for 5, three for 7
    # every node below the top asked once, plus one retry for 5 and two for 7
    assert len(asked) == sum(result.levels[:-1]) + 1 + 2
    calls = fx.query(db, "SELECT stage, COUNT(*) FROM llm_calls GROUP BY stage")
    assert dict(calls)["merge"] == len([h for h in server.hits if h.task != "ClusterSummaryAnswer"])
    assert all(r[4] for r in nodes.values())  # every node has a title
    tree = load_tree(db, result.hierarchy_run_id)
    assert tree["unplaced"] and tree["unplaced"][0]["cluster_id"] == 7


def test_cancelled_merge_resumes_and_pays_nothing_twice(cstore, db, server, monkeypatch) -> None:
    model = _llm(monkeypatch, server)
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model=model))
    start = len(server.hits)

    def cancel_midway() -> bool:  # during level 1's assignments
        return sum(h.task == "ParentChoice" for h in server.hits) >= 12

    opts = MergeOptions(model=model, neighborhood_size=12, concurrency=3)
    with pytest.raises(Cancelled):
        run_merge(cstore, fx.RUN_ID, opts, cancelled=cancel_midway)
    [(hier_id, status, checkpoint)] = fx.query(
        db, "SELECT hierarchy_run_id, status, checkpoint FROM hierarchy_runs"
    )
    step = json.loads(checkpoint)["step"]
    assert status == "cancelled" and "parents" in step and 12 <= len(step["assignments"]) < 30
    resumed = run_merge(cstore, fx.RUN_ID, MergeOptions(resume=hier_id, concurrency=3))
    assert resumed.hierarchy_run_id == hier_id and resumed.status == "done"
    _check_tree(db, hier_id, resumed.levels)
    merge_hits = server.hits[start:]
    paid = {}
    for h in merge_hits:
        paid[h.prompt_key] = paid.get(h.prompt_key, 0) + 1
    assert max(paid.values()) == 1  # nothing asked twice across the cancel
    # an uninterrupted run gives the same tree, entirely from the ledger
    fresh = run_merge(cstore, fx.RUN_ID, MergeOptions(model=model, neighborhood_size=12))
    assert fresh.llm["requests"] == 0 and fresh.levels == resumed.levels
    a, b = _nodes(db, hier_id), _nodes(db, fresh.hierarchy_run_id)
    assert {k: v[1:] for k, v in a.items()} == {k: v[1:] for k, v in b.items()}
