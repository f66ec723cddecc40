"""Curation edge cases found in review: a deleted cluster's id is not handed to a later split
(its orphans and audit rows still name it), and a rename of a topic of the hierarchy being
replayed on is listed, not dropped silently. Real store (the search seed), no Chroma."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from search_fixtures import Seed, private_copy

from lmsys_tui.core.curate import labels, membership
from lmsys_tui.core.curate.reads import history
from lmsys_tui.core.curate.replay import replay_on_hierarchy


@pytest.fixture
def seed(home: Path) -> Seed:
    return private_copy(home, with_chroma=False)


def _q(seed: Seed, query: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(seed.db)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def test_a_split_does_not_reuse_a_deleted_clusters_id(seed: Seed) -> None:
    run = seed.run_id
    ids = [r[0] for r in _q(seed, "SELECT cluster_id FROM clusters WHERE run_id = ?"
                            " AND cluster_id >= 0 ORDER BY cluster_id", run)]  # fmt: skip
    gone, keep = ids[-1], ids[0]
    membership.delete_cluster(seed.db, run, gone, orphan=True)
    members = [r[0] for r in _q(seed, "SELECT query_id FROM query_clusters WHERE run_id = ?"
                                " AND cluster_id = ? ORDER BY query_id", run, keep)]  # fmt: skip
    done = membership.split_cluster(seed.db, run, keep, members[:1], new_title="Split off")
    new_id = done.new_value["new_cluster_id"]
    assert new_id > gone  # the orphans' "was in" and the delete's history keep one meaning
    assert {r[0] for r in _q(seed, "SELECT DISTINCT original_cluster_id FROM orphaned_queries"
                             " WHERE run_id = ?", run)} == {gone}  # fmt: skip
    assert [e["edit_type"] for e in history(seed.db, run, gone)] == ["delete"]


def test_a_merge_sources_id_is_not_reused_either(seed: Seed) -> None:
    run = seed.run_id
    ids = [r[0] for r in _q(seed, "SELECT cluster_id FROM clusters WHERE run_id = ?"
                            " AND cluster_id >= 0 ORDER BY cluster_id", run)]  # fmt: skip
    membership.merge_clusters(seed.db, run, [ids[-1]], ids[0])
    members = [r[0] for r in _q(seed, "SELECT query_id FROM query_clusters WHERE run_id = ?"
                                " AND cluster_id = ? ORDER BY query_id", run, ids[1])]  # fmt: skip
    done = membership.split_cluster(seed.db, run, ids[1], members[:1], new_title="Split off")
    assert done.new_value["new_cluster_id"] > ids[-1]


def test_replay_lists_a_rename_of_a_topic_of_the_same_hierarchy(seed: Seed) -> None:
    hier = seed.hierarchy_run_id
    node = _q(seed, "SELECT cluster_id FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
              " AND level > 0 ORDER BY cluster_id LIMIT 1", hier)[0][0]  # fmt: skip
    edit = labels.rename_cluster(seed.db, seed.run_id, node, title="A topic", hierarchy_run_id=hier)
    replayed = replay_on_hierarchy(seed.db, seed.run_id, hier)
    listed = (
        replayed["applied"] + replayed["kept"] + [e["edit_id"] for e in replayed["not_applied"]]
    )
    assert edit.edit_id in listed  # "nothing is dropped silently"
    title = _q(seed, "SELECT title FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
               " AND cluster_id = ?", hier, node)[0][0]  # fmt: skip
    assert title == "A topic"
