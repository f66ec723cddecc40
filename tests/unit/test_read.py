"""The read layer (core/read) as the explorer uses it, and the delete stage, on a fixed store
written by the test.

Everything runs against real SQLite. The keyset pages are checked against a plain ORDER BY of
the same rows (no overlap, no gap, ties broken by id), and the SQL cancellation against a
statement that would otherwise run for a long time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import tui_store
from conftest import run_cli
from tui_store import FLAT_RUN, HIER_ID, PASS_CLAUDE, PASS_V1, RUN_ID

from lmsys_tui.core.delete import delete, plan_delete
from lmsys_tui.core.read import detail, members, runs, tree
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError


def _count(db: Path, sql: str, args: tuple[Any, ...] = ()) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


# -- views and the tree ---------------------------------------------------------------------------


def test_open_run_defaults_to_newest_hierarchy_and_its_pass(fx: tui_store.FixtureStore) -> None:
    opened = runs.open_run(fx.db, RUN_ID)
    assert opened.view.hierarchy_run_id == HIER_ID
    # the hierarchy was named from v1, although the claude pass is newer
    assert opened.view.summary_run_id == PASS_V1
    assert opened.view.total == fx.total == 36
    assert [p["summary_run_id"] for p in opened.passes] == [PASS_CLAUDE, PASS_V1]
    assert opened.hierarchies[0]["levels"] == 3 and opened.hierarchies[0]["nodes"] == 11
    flat = runs.open_run(fx.db, RUN_ID, flat=True)
    assert flat.view.hierarchy_run_id is None
    assert flat.view.summary_run_id == PASS_CLAUDE  # list-clusters' rule: newest pass
    with pytest.raises(NotFoundError):
        runs.open_run(fx.db, "no-such-run")
    with pytest.raises(NotFoundError):
        runs.open_run(fx.db, RUN_ID, hierarchy_run_id="hier-nope")


def test_children_one_level_at_a_time_with_rolled_up_counts(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, RUN_ID).view
    roots = tree.children(view, None)
    assert [(r.node_id, r.level, r.count) for r in roots] == [
        (2_000_000, 2, 18),
        (2_000_001, 2, 18),
    ]
    assert [r.child_count for r in roots] == [1, 2]
    middle = tree.children(view, 2_000_001)
    assert [(r.title, r.count) for r in middle] == [
        ("Languages and numbers", 11),
        ("Everyday life and oddities", 7),
    ]
    leaves = tree.children(view, 1_000_001)
    assert [(r.node_id, r.title, r.count) for r in leaves] == [
        (2, "Translation requests", 6),
        (3, "Basic math questions", 5),
    ]
    assert all(r.is_cluster and r.child_count == 0 for r in leaves)
    assert leaves[0].share == pytest.approx(6 / 36)
    by_title = tree.children(view, 2_000_001, sort="title")
    assert [r.title for r in by_title] == ["Everyday life and oddities", "Languages and numbers"]
    assert tree.children(view, 0) == []  # a cluster has no children
    with pytest.raises(UsageError):
        tree.children(view, None, sort="colour")


def test_switching_the_pass_changes_leaf_titles_only(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, RUN_ID).view.with_pass(PASS_CLAUDE)
    leaves = tree.children(view, 1_000_001)
    assert [r.title for r in leaves] == ["Translating between languages", "Solving math problems"]
    assert tree.children(view, 2_000_001)[0].title == "Languages and numbers"


def test_flat_run_lists_clusters_and_keeps_noise_last(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, FLAT_RUN).view
    assert view.hierarchy_run_id is None and view.summary_run_id is None
    roots = tree.children(view, None)
    # noise (18) is the largest but sorts last, and is titled as noise, not by keywords
    assert [(r.node_id, r.count) for r in roots] == [(0, 10), (1, 8), (-1, 18)]
    assert roots[0].title == "python, error, list"
    assert roots[-1].is_noise and "noise" in roots[-1].title
    assert [r.node_id for r in tree.children(view, None, sort="title")] == [1, 0, -1]


def test_node_index_paths_and_hit_counts(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, RUN_ID).view
    index = tree.node_index(view)
    assert len(index) == 11
    assert tree.path_to(index, 5) == [2_000_001, 1_000_002, 5]
    assert tree.path_to(index, 2_000_000) == [2_000_000]
    assert tree.path_to(index, 42) == []
    counts = tree.counts_by_node(index, {5: 2, 4: 1, 0: 3})
    assert counts == {
        5: 2,
        4: 1,
        1_000_002: 3,
        2_000_001: 3,
        0: 3,
        1_000_000: 3,
        2_000_000: 3,
    }
    assert tree.leaf_clusters(view, 2_000_001, 2) == [2, 3, 4, 5]
    assert tree.leaf_clusters(view, 4, 0) == [4]


def test_node_detail_for_a_cluster_and_for_a_parent(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, RUN_ID).view
    leaf = detail.node_detail(view, 2, 0)
    assert leaf["title"] == "Translation requests"
    assert leaf["size"] == 6 and leaf["clusters"] == 1
    assert leaf["keywords"] == ["translate", "japanese", "spanish", "french"]
    assert leaf["languages"] == [("en", 4), ("es", 1), ("zh", 1)]
    assert leaf["examples"][0]["text"] == "Translate 'good morning' into Japanese."
    assert [e["distance"] for e in leaf["examples"]] == sorted(
        e["distance"] for e in leaf["examples"]
    )
    assert leaf["provenance"]["summary_run_id"] == PASS_V1
    assert leaf["provenance"]["alias"] == "v1"
    parent = detail.node_detail(view, 2_000_001, 2)
    assert parent["size"] == 18 and parent["children"] == 2 and parent["clusters"] == 4
    assert sum(n for _, n in parent["languages"]) == 18
    assert parent["provenance"]["kind"] == "hierarchy"
    # one central query from each of the largest clusters under the node
    assert len(parent["examples"]) == 4
    assert {e["cluster_id"] for e in parent["examples"]} == {2, 3, 4, 5}


def test_breakdowns_fold_the_tail_into_other(store: Any) -> None:
    fx = tui_store.build(store)
    with sqlite3.connect(fx.db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM queries ORDER BY id LIMIT 8")]
        for i, qid in enumerate(ids):
            conn.execute("UPDATE queries SET language = ? WHERE id = ?", (f"l{i}", qid))
    view = runs.open_run(fx.db, RUN_ID).view
    langs = detail.node_detail(view, 0, 0)["languages"]
    assert len(langs) == detail.BREAKDOWN_TOP + 1 and langs[-1][0] == "other"
    assert sum(n for _, n in langs) == 10


# -- keyset pages ---------------------------------------------------------------------------------


def _all_pages(view: runs.View, clusters: list[int], order: str, size: int) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(100):
        page = members.query_page(view, clusters, order=order, after=after, limit=size)
        seen += [r["query_id"] for r in page.rows]
        if page.next_after is None:
            return seen
        after = page.next_after
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("order", ["distance", "-distance", "id"])
@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_keyset_pages_cover_every_member_once_in_order(
    fx: tui_store.FixtureStore, order: str, size: int
) -> None:
    with sqlite3.connect(fx.db) as conn:  # ties: two members share a distance
        conn.execute(
            "UPDATE query_clusters SET distance = 0.15 WHERE run_id = ? AND query_id = ?",
            (RUN_ID, fx.query_ids[1][0]),
        )
    view = runs.open_run(fx.db, RUN_ID).view
    clusters = [0, 1]
    key = {
        "distance": "distance, query_id",
        "-distance": "distance DESC, query_id DESC",
        "id": "query_id",
    }[order]
    with sqlite3.connect(fx.db) as conn:
        expected = [
            r[0]
            for r in conn.execute(
                f"SELECT query_id FROM query_clusters WHERE run_id = ? AND cluster_id IN (0, 1)"
                f" ORDER BY {key}",
                (RUN_ID,),
            )
        ]
    assert _all_pages(view, clusters, order, size) == expected
    assert len(expected) == 18


def test_pages_put_missing_distances_last_and_clip_text(fx: tui_store.FixtureStore) -> None:
    view = runs.open_run(fx.db, FLAT_RUN).view
    page = members.query_page(view, [-1], limit=5)
    assert all(r["distance"] is None for r in page.rows)
    long_id = fx.query_ids[5][2]
    view = runs.open_run(fx.db, RUN_ID).view
    rows = members.query_page(view, [5], width=50).rows
    long_row = next(r for r in rows if r["query_id"] == long_id)
    assert len(long_row["text"]) == 50 and long_row["chars"] == len(tui_store.LONG_QUERY)
    assert detail.query_detail(fx.db, long_id, RUN_ID)["query_text"] == tui_store.LONG_QUERY
    with pytest.raises(UsageError):
        members.query_page(view, [5], order="random")
    with pytest.raises(UsageError):
        members.query_page(view, [5], limit=0)


def test_query_detail_has_metadata_and_membership(fx: tui_store.FixtureStore) -> None:
    qid = fx.query_ids[0][4]
    q = detail.query_detail(fx.db, qid, RUN_ID)
    assert q["language"] == "de" and q["dataset"] == "support-chats"
    assert q["cluster_id"] == 0 and q["distance"] == pytest.approx(0.3)
    assert q["conversation_id"] == "c0-4"
    with pytest.raises(NotFoundError):
        detail.query_detail(fx.db, 10_000)


def test_cancelled_reader_stops_inside_sqlite(fx: tui_store.FixtureStore) -> None:
    """A stale detail read must stop at once: the progress handler interrupts the statement."""
    with sqlite3.connect(fx.db) as conn:  # enough rows that the breakdown takes many steps
        conn.execute("CREATE TEMP TABLE n(x)")
        rows = [(RUN_ID, 1_000_000 + i, 0, 0.5, 0.9) for i in range(60_000)]
        conn.executemany(
            "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
            " distance) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    view = runs.open_run(fx.db, RUN_ID).view
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return True  # stale from the start: the first check inside a long statement stops it

    with pytest.raises(Cancelled):
        detail.node_detail(view, 0, 0, cancelled=cancelled)
    assert calls <= 2  # the interrupting check, and the one that names it a cancel
    # and a reader that is not cancelled gets the whole answer from the same statements
    assert detail.node_detail(view, 0, 0, cancelled=lambda: False)["size"] == 10


# -- delete ---------------------------------------------------------------------------------------


def test_delete_a_summary_pass_takes_its_hierarchy_along(fx: tui_store.FixtureStore) -> None:
    plan = plan_delete(fx.db, PASS_V1)
    assert plan.kind == "summary" and plan.hierarchies == [HIER_ID]
    assert plan.rows == {
        "cluster_summaries": 6,
        "cluster_hierarchies": 11,
        "hierarchy_runs": 1,
        "summary_runs": 1,
    }
    assert plan.describe() == (
        f"Delete summary pass {PASS_V1} with its 1 hierarchy: 19 rows in all."
    )
    assert _count(fx.db, "SELECT COUNT(*) FROM cluster_summaries") == 12  # plan changed nothing
    done = delete(fx.db, PASS_V1)
    assert done.rows == plan.rows
    assert _count(fx.db, "SELECT COUNT(*) FROM cluster_summaries") == 6
    assert _count(fx.db, "SELECT COUNT(*) FROM hierarchy_runs") == 0
    assert (
        _count(fx.db, "SELECT COUNT(*) FROM summary_runs WHERE summary_run_id = ?", (PASS_CLAUDE,))
        == 1
    )
    # the explorer now falls back to flat clusters titled by the remaining pass
    view = runs.open_run(fx.db, RUN_ID).view
    assert view.hierarchy_run_id is None and view.summary_run_id == PASS_CLAUDE


def test_delete_a_run_removes_everything_that_hangs_off_it(fx: tui_store.FixtureStore) -> None:
    before_queries = _count(fx.db, "SELECT COUNT(*) FROM queries")
    done = delete(fx.db, RUN_ID, "run")
    assert done.rows["query_clusters"] == 36 and done.rows["clusters"] == 6
    for table in ("clusters", "query_clusters", "cluster_summaries", "cluster_hierarchies"):
        assert _count(fx.db, f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (RUN_ID,)) == 0
    assert _count(fx.db, "SELECT COUNT(*) FROM summary_runs") == 0
    assert _count(fx.db, "SELECT COUNT(*) FROM queries") == before_queries
    assert _count(fx.db, "SELECT COUNT(*) FROM clusters WHERE run_id = ?", (FLAT_RUN,)) == 3
    with pytest.raises(NotFoundError):
        plan_delete(fx.db, RUN_ID)


def test_delete_refuses_running_and_ambiguous_ids(fx: tui_store.FixtureStore) -> None:
    with sqlite3.connect(fx.db) as conn:
        conn.execute("UPDATE hierarchy_runs SET status = 'running'")
    with pytest.raises(UsageError, match="still running"):
        delete(fx.db, HIER_ID)
    assert _count(fx.db, "SELECT COUNT(*) FROM cluster_hierarchies") == 11  # rolled back
    delete(fx.db, HIER_ID, force=True)
    assert _count(fx.db, "SELECT COUNT(*) FROM cluster_hierarchies") == 0
    with sqlite3.connect(fx.db) as conn:  # a pass id that is also a run id
        conn.execute(
            "INSERT INTO summary_runs (summary_run_id, run_id, model, parameters, status,"
            " created_at) VALUES (?, ?, 'offline', '{}', 'done', '2024-01-01')",
            (FLAT_RUN, RUN_ID),
        )
    with pytest.raises(UsageError, match="--kind"):
        plan_delete(fx.db, FLAT_RUN)
    assert plan_delete(fx.db, FLAT_RUN, "run").kind == "run"
    with pytest.raises(UsageError):
        plan_delete(fx.db, FLAT_RUN, "colour")


def test_headless_delete_asks_unless_yes_and_prints_json(
    fx: tui_store.FixtureStore, cli_env: dict[str, str]
) -> None:
    import json

    res = run_cli(["--headless", "delete", HIER_ID, "--json"], cli_env)
    assert res.returncode == 2 and "--yes" in res.stderr
    res = run_cli(["--headless", "delete", HIER_ID], cli_env, input="n\n")
    assert res.returncode != 0
    assert _count(fx.db, "SELECT COUNT(*) FROM hierarchy_runs") == 1
    res = run_cli(["--headless", "delete", HIER_ID, "--yes", "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["kind"] == "hierarchy" and data["rows"]["cluster_hierarchies"] == 11
    res = run_cli(["--headless", "delete", HIER_ID, "--yes"], cli_env)
    assert res.returncode == 3 and res.stderr.startswith("error: no ")


def test_large_nodes_count_a_sample_and_say_so(
    fx: tui_store.FixtureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = runs.open_run(fx.db, RUN_ID).view
    exact = detail.node_detail(view, 0, 0)
    assert exact["breakdown_sample"] is None and sum(n for _, n in exact["languages"]) == 10
    monkeypatch.setattr(detail, "BREAKDOWN_SAMPLE", 4)  # cluster 0 (10 queries): every 3rd id
    sampled = detail.node_detail(view, 0, 0)
    expected = [q for q in fx.query_ids[0] if q % 3 == 0]
    assert sampled["breakdown_sample"] == len(expected)
    assert sum(n for _, n in sampled["languages"]) == len(expected)
    assert sum(n for _, n in sampled["models"]) == len(expected)


def test_pages_and_central_queries_read_the_covering_index(fx: tui_store.FixtureStore) -> None:
    """A page of a 100k-member cluster must be a range scan, not a sort of all members."""
    with sqlite3.connect(fx.db) as conn:
        plan = " ".join(
            str(r[-1])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT query_id, cluster_id, distance FROM query_clusters"
                " WHERE run_id = ? AND cluster_id = ? AND distance IS NOT NULL"
                " AND (distance, query_id) > (?, ?) ORDER BY distance, query_id LIMIT 101",
                (RUN_ID, 0, 0.1, 1),
            )
        )
    assert "COVERING INDEX ix_query_clusters_run_cluster_distance" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the index is already in that order


def test_a_v2_store_gets_the_browse_index(store: Any) -> None:
    from lmsys_tui.core.store import schema

    tui_store.build(store)
    db = store.path
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_query_clusters_run_cluster_distance")
        conn.execute("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'")
    assert schema.ensure_current(db) == 2
    assert schema.read_version(db) == schema.SCHEMA_VERSION == 4
    with sqlite3.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix_query_clusters_run_cluster_distance" in names


def test_the_next_pass_and_the_next_hierarchy_cycle(fx: tui_store.FixtureStore) -> None:
    opened = runs.open_run(fx.db, RUN_ID)
    view = opened.view
    assert opened.next_pass(view.summary_run_id) == PASS_CLAUDE
    assert opened.next_pass(PASS_CLAUDE) == PASS_V1
    flat = opened.next_hierarchy(view.with_pass(PASS_CLAUDE))
    assert flat.hierarchy_run_id is None and flat.summary_run_id == PASS_CLAUDE
    back = opened.next_hierarchy(flat)  # the hierarchy brings the pass it was named from
    assert back.hierarchy_run_id == HIER_ID and back.summary_run_id == PASS_V1
    alone = runs.open_run(fx.db, FLAT_RUN)
    assert alone.next_pass(None) is None and alone.next_hierarchy(alone.view) == alone.view


def test_queries_without_a_model_count_as_unknown(fx: tui_store.FixtureStore) -> None:
    with sqlite3.connect(fx.db) as conn:  # a dataset without a model column
        conn.execute("UPDATE queries SET model = NULL")
    view = runs.open_run(fx.db, RUN_ID).view
    assert detail.node_detail(view, 0, 0)["models"] == [("unknown", 10)]
