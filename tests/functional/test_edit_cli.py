"""The `edit` group headless, as real processes on a real store: --json shapes, the audit log,
undo, one-line errors with exit 2 / 3 that change nothing, and edits kept across a new summary
pass and a new hierarchy (the edit log replayed; what no longer applies is named)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from search_fixtures import Seed, private_copy
from test_edit_core import dump

from lmsys_tui.errors import ExitCode


@pytest.fixture
def seed(home: Path) -> Seed:
    return private_copy(home, with_chroma=False)  # Chroma edits: test_edit_core


def _q(seed: Seed, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(seed.db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _ok(args: list[str], env: dict[str, str]) -> dict:
    res = run_cli(["--headless", "edit", *args, "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _two(seed: Seed) -> tuple[int, int]:
    rows = _q(seed, "SELECT cluster_id FROM clusters WHERE run_id = ? AND cluster_id >= 0"
              " ORDER BY size DESC LIMIT 2", seed.run_id)  # fmt: skip
    return rows[0][0], rows[1][0]


def _members(seed: Seed, cid: int) -> list[int]:
    return [r[0] for r in _q(seed, "SELECT query_id FROM query_clusters WHERE run_id = ? AND"
                             " cluster_id = ? ORDER BY query_id", seed.run_id, cid)]  # fmt: skip


def test_edits_audit_and_undo_headless(seed: Seed, cli_env) -> None:
    run, (a, b) = seed.run_id, _two(seed)
    renamed = _ok(["rename-cluster", run, "--cluster-id", str(a), "--title", "Hand title",
                   "--editor", "ana", "--reason", "clearer"], cli_env)  # fmt: skip
    assert renamed["edit_type"] == "rename" and renamed["editor"] == "ana"
    assert renamed["new_value"]["title"] == "Hand title"
    titles = _q(seed, "SELECT DISTINCT title FROM cluster_summaries WHERE run_id = ? AND"
                " cluster_id = ?", run, a)  # fmt: skip
    assert titles == [("Hand title",)]
    _ok(["tag-cluster", run, "--cluster-id", str(b), "--quality", "low", "--coherence", "2"],
        cli_env)  # fmt: skip
    _ok(["flag-cluster", run, "--cluster-id", str(b), "--flag", "language_mixing"], cli_env)
    bad = _ok(["select-bad-clusters", run, "--quality", "low"], cli_env)["clusters"]
    assert [c["cluster_id"] for c in bad] == [b] and bad[0]["flags"] == ["language_mixing"]
    qid = _members(seed, a)[0]
    moved = _ok(["move-query", run, "--query-id", str(qid), "--to-cluster", str(b)], cli_env)
    assert moved["old_value"]["clusters"] == {str(qid): a}
    view = _ok(["view-query", str(qid)], cli_env)
    assert {"run_id": run, "cluster_id": b} in [
        {k: c[k] for k in ("run_id", "cluster_id")} for c in view["clusters"]
    ]
    two = ",".join(map(str, _members(seed, a)[:2]))
    split = _ok(["split-cluster", run, "--cluster-id", str(a), "--query-ids", two,
                 "--new-title", "Split"], cli_env)  # fmt: skip
    new_id = split["new_value"]["new_cluster_id"]
    assert len(_members(seed, new_id)) == 2
    _ok(["delete-cluster", run, "--cluster-id", str(new_id), "--orphan"], cli_env)
    orphans = _ok(["orphaned", run], cli_env)["orphaned"]
    assert {o["original_cluster_id"] for o in orphans} == {new_id} and len(orphans) == 2
    log = _ok(["audit", run], cli_env)["edits"]
    assert [e["edit_type"] for e in log] == ["rename", "tag", "flag", "move_query", "split",
                                             "delete"]  # fmt: skip
    assert log[0]["old_value"] and log[0]["reason"] == "clearer" and "snapshot" not in log[0]
    assert _ok(["audit", run, "--since", "2999-01-01"], cli_env)["edits"] == []
    assert [e["edit_type"] for e in _ok(["history", run, "--cluster-id", str(b)], cli_env)[
        "edits"]] == ["tag", "flag", "move_query"]  # fmt: skip
    undone = _ok(["undo"], cli_env)
    assert undone["new_value"] == {"undid": log[-1]["edit_id"], "edit_type": "delete"}
    assert len(_members(seed, new_id)) == 2 and _ok(["orphaned", run], cli_env)["orphaned"] == []


BAD = [  # args (RUN, A, B, Q filled in), exit code
    (["rename-cluster", "no-such-run", "--cluster-id", "{A}", "--title", "x"], ExitCode.NOT_FOUND),
    (["tag-cluster", "{RUN}", "--cluster-id", "9999", "--quality", "low"], ExitCode.NOT_FOUND),
    (["move-query", "{RUN}", "--query-id", "999999999", "--to-cluster", "{A}"], ExitCode.NOT_FOUND),
    (["move-query", "{RUN}", "--query-id", "{Q}", "--to-cluster", "{A}"], ExitCode.USAGE),
    (["merge-clusters", "{RUN}", "--source", "{A},{B}", "--target", "{A}"], ExitCode.USAGE),
    (["split-cluster", "{RUN}", "--cluster-id", "{A}", "--new-title", "x"], ExitCode.USAGE),
    (["split-cluster", "{RUN}", "--cluster-id", "{A}", "--query-ids", "x,y", "--new-title", "x"],
     ExitCode.USAGE),
    (["tag-cluster", "{RUN}", "--cluster-id", "{A}", "--coherence", "9"], ExitCode.USAGE),
    (["tag-cluster", "{RUN}", "--cluster-id", "{A}", "--quality", "great"], ExitCode.USAGE),
    (["delete-cluster", "{RUN}", "--cluster-id", "{A}"], ExitCode.USAGE),
    (["undo", "12345"], ExitCode.NOT_FOUND),
]  # fmt: skip


def test_bad_input_is_one_line_and_changes_nothing(seed: Seed, cli_env) -> None:
    a, b = _two(seed)
    values = {"RUN": seed.run_id, "A": str(a), "B": str(b), "Q": str(_members(seed, a)[0])}
    before = dump(seed.db)
    for args, code in BAD:
        line = [part.format(**values) for part in args]
        res = run_cli(["--headless", "edit", *line, "--json"], cli_env)
        assert res.returncode == code, (line, res.stderr)
        assert res.stdout == "" and res.stderr.startswith("error: "), (line, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (line, res.stderr)
    assert dump(seed.db) == before
    assert _q(seed, "SELECT COUNT(*) FROM cluster_edits") == [(0,)]


def test_edits_survive_a_new_summary_pass_and_hierarchy(seed: Seed) -> None:
    from lmsys_tui.core.curate import labels, membership
    from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    run, (a, b) = seed.run_id, _two(seed)
    labels.rename_cluster(seed.db, run, a, title="Kept title")
    split = membership.split_cluster(seed.db, run, b, _members(seed, b)[:2], new_title="Kept split")
    labels.tag_cluster(seed.db, run, b, quality="low")
    node = _q(seed, "SELECT cluster_id FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
              " AND level = 1 LIMIT 1", seed.hierarchy_run_id)[0][0]  # fmt: skip
    topic = labels.rename_cluster(seed.db, run, node, title="Topic",
                                  hierarchy_run_id=seed.hierarchy_run_id)  # fmt: skip
    new_id = split.new_value["new_cluster_id"]
    store = open_store(seed.db)
    try:
        result = run_summarize(store, run, SummarizeOptions(alias="again"))
        hier = run_merge(store, run, MergeOptions(summary_run_id=result.summary_run_id))
    finally:
        store.close()
    srid = result.summary_run_id
    titles = dict(_q(seed, "SELECT cluster_id, title FROM cluster_summaries WHERE"
                     " summary_run_id = ?", srid))  # fmt: skip
    assert titles[a] == "Kept title" and titles[new_id] == "Kept split"
    assert len(_members(seed, new_id)) == 2
    assert _q(seed, "SELECT quality FROM cluster_metadata WHERE run_id = ? AND cluster_id = ?",
              run, b) == [("low",)]  # fmt: skip
    assert result.edits is not None and result.to_dict()["edits"]["not_applied"] == []
    assert set(result.edits["applied"]) >= {1, split.edit_id}
    leaves = dict(_q(seed, "SELECT cluster_id, title FROM cluster_hierarchies WHERE"
                     " hierarchy_run_id = ? AND level = 0", hier.hierarchy_run_id))  # fmt: skip
    assert leaves[a] == "Kept title" and leaves[new_id] == "Kept split"
    assert {"edit_id": topic.edit_id, "why": f"renamed a node of hierarchy"
            f" {seed.hierarchy_run_id}"} in hier.edits["not_applied"]  # fmt: skip
