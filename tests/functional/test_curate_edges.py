"""Curation edge cases found in review: a deleted cluster's id is not handed to a later split
(its orphans and audit rows still name it), and a rename of a topic of the hierarchy being
replayed on is listed, not dropped silently. Real store (the search seed), no Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import db_rows
from search_fixtures import BACKEND, Seed, private_copy

from lmsys_tui.core.curate import labels, membership
from lmsys_tui.core.curate.reads import history
from lmsys_tui.core.curate.replay import replay_on_hierarchy
from lmsys_tui.core.curate.undo import undo


@pytest.fixture
def seed(home: Path) -> Seed:
    return private_copy(home, with_chroma=False)


def _column(seed: Seed, query: str, *args: object) -> list:
    return [r[0] for r in db_rows(seed.db, query, *args)]


def _clusters(seed: Seed) -> list[int]:
    """The run's clusters (noise left out), by id."""
    where = "run_id = ? AND cluster_id >= 0 ORDER BY cluster_id"
    return _column(seed, f"SELECT cluster_id FROM clusters WHERE {where}", seed.run_id)


def _members(seed: Seed, cluster_id: int) -> list[int]:
    where = "run_id = ? AND cluster_id = ? ORDER BY query_id"
    return _column(
        seed, f"SELECT query_id FROM query_clusters WHERE {where}", seed.run_id, cluster_id
    )


def test_a_split_does_not_reuse_a_deleted_clusters_id(seed: Seed) -> None:
    run = seed.run_id
    ids = _clusters(seed)
    gone, keep = ids[-1], ids[0]
    membership.delete_cluster(seed.db, run, gone, orphan=True)
    members = _members(seed, keep)
    done = membership.split_cluster(seed.db, run, keep, members[:1], new_title="Split off")
    new_id = done.new_value["new_cluster_id"]
    assert new_id > gone  # the orphans' "was in" and the delete's history keep one meaning
    orphaned_from = "SELECT DISTINCT original_cluster_id FROM orphaned_queries WHERE run_id = ?"
    assert _column(seed, orphaned_from, run) == [gone]
    assert [e["edit_type"] for e in history(seed.db, run, gone)] == ["delete"]


def test_a_merge_sources_id_is_not_reused_either(seed: Seed) -> None:
    run = seed.run_id
    ids = _clusters(seed)
    membership.merge_clusters(seed.db, run, [ids[-1]], ids[0])
    members = _members(seed, ids[1])
    done = membership.split_cluster(seed.db, run, ids[1], members[:1], new_title="Split off")
    assert done.new_value["new_cluster_id"] > ids[-1]


def test_replay_lists_a_rename_of_a_topic_of_the_same_hierarchy(seed: Seed) -> None:
    hier = seed.hierarchy_run_id
    node = db_rows(
        seed.db,
        "SELECT cluster_id FROM cluster_hierarchies WHERE hierarchy_run_id = ?"
        " AND level > 0 ORDER BY cluster_id LIMIT 1",
        hier,
    )[0][0]
    edit = labels.rename_cluster(seed.db, seed.run_id, node, title="A topic", hierarchy_run_id=hier)
    replayed = replay_on_hierarchy(seed.db, seed.run_id, hier)
    listed = (
        replayed["applied"] + replayed["kept"] + [e["edit_id"] for e in replayed["not_applied"]]
    )
    assert edit.edit_id in listed  # "nothing is dropped silently"
    title = db_rows(
        seed.db,
        "SELECT title FROM cluster_hierarchies WHERE hierarchy_run_id = ? AND cluster_id = ?",
        hier,
        node,
    )[0][0]
    assert title == "A topic"


def test_an_edit_under_a_cluster_assign_says_why_it_stays(seed: Seed) -> None:
    """`cluster assign` writes an audit row with no rows to restore: it names its editor like
    every edit, and undo says it cannot be undone (and so the edits before it stay) instead
    of asking to undo it first."""
    import getpass

    from lmsys_tui.core.insights.assign import AssignOptions, assign_dataset
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.errors import UsageError

    run = seed.run_id
    cid = db_rows(
        seed.db, "SELECT MIN(cluster_id) FROM clusters WHERE run_id = ? AND cluster_id >= 0", run
    )[0][0]
    tagged = labels.tag_cluster(seed.db, run, cid, notes="before the new data")
    store = open_store(seed.db)
    try:
        convs = [Conversation("new-0", "How do I sort a list in Python?", language="en")]
        info = SourceInfo("file", "new.jsonl", "new-chats", detect_language=False)
        run_load(store, iter(convs), info, label="new-chats")
        assign_dataset(store, run, AssignOptions(dataset="new-chats", embed_backend=BACKEND))
    finally:
        store.close()
    editor = db_rows(
        seed.db, "SELECT editor FROM cluster_edits WHERE run_id = ? AND edit_type = 'assign'", run
    )
    assert editor == [(getpass.getuser(),)]
    with pytest.raises(UsageError, match=r"\(assign\) came after edit \d+ and cannot be undone"):
        undo(seed.db, tagged.edit_id)
    with pytest.raises(UsageError, match=r"\(assign\) kept no rows to restore"):
        undo(seed.db, run_id=run)


def test_assign_into_a_new_run_copies_nothing_when_nothing_is_new(seed: Seed) -> None:
    """The run holds every query of its dataset already: --new-run makes no copy (it used to
    leave a run identical to its source behind)."""
    from lmsys_tui.core.insights.assign import AssignOptions, assign_dataset
    from lmsys_tui.core.store.db import open_store

    dataset = _column(seed, "SELECT label FROM datasets ORDER BY id LIMIT 1")[0]
    runs = _column(seed, "SELECT run_id FROM clustering_runs ORDER BY run_id")
    store = open_store(seed.db)
    try:
        done = assign_dataset(store, seed.run_id, AssignOptions(dataset=dataset, new_run=True))
    finally:
        store.close()
    assert done.assigned == 0 and done.skipped > 0 and done.source_run_id is None
    assert done.run_id == seed.run_id and "no copy made" in done.message
    assert _column(seed, "SELECT run_id FROM clustering_runs ORDER BY run_id") == runs
