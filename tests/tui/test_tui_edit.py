"""Curation through Pilot on the fixed store (tests/tui_store.py): rename a cluster and a topic,
move marked drill-down queries through the picker, merge and split, tag and flag, the audit
view and undo on its key. The store is asserted after each (sizes, roll-ups), and the tree is
checked to change in place: the same tree nodes, new rows."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import tui_store
from textual.widgets import DataTable, Input
from tui_pilot import SIZE, make_app, settle, static_text, wait_for
from tui_store import RUN_ID

from lmsys_tui.tui.screens.audit import AuditScreen
from lmsys_tui.tui.screens.edit_prompt import PromptScreen
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.picker import PickerScreen
from lmsys_tui.tui.screens.queries import QueriesScreen
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

pytestmark = pytest.mark.anyio
TABLES = ("clusters", "query_clusters", "cluster_summaries", "cluster_hierarchies",
          "cluster_metadata", "orphaned_queries")  # fmt: skip


def _q(fx: tui_store.FixtureStore, sql: str, *args: Any) -> list[tuple]:
    conn = sqlite3.connect(fx.db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _dump(fx: tui_store.FixtureStore) -> dict[str, list[tuple]]:
    return {t: _q(fx, f"SELECT * FROM {t} ORDER BY id") for t in TABLES}


def _count(fx: tui_store.FixtureStore, node: int) -> int:
    return _q(fx, "SELECT query_count FROM cluster_hierarchies WHERE cluster_id = ?", node)[0][0]


async def _explorer(app: Any, pilot: Any, cursor_on: int) -> ClusterTree:
    app.open_run(RUN_ID)
    await settle(app, pilot)
    explorer = app.screen
    assert isinstance(explorer, ExplorerScreen)
    await wait_for(app, pilot, lambda: explorer.index is not None)
    assert explorer.jump_to(cursor_on)
    await settle(app, pilot)
    tree = explorer.tree
    await wait_for(app, pilot, lambda: tree.cursor_row is not None
                   and tree.cursor_row.node_id == cursor_on)  # fmt: skip
    return tree


async def _answer(app: Any, pilot: Any, **values: str) -> None:
    await wait_for(app, pilot, lambda: isinstance(app.screen, PromptScreen))
    for name, value in values.items():
        app.screen.query_one(f"#field-{name}", Input).value = value
    for _ in values:
        await pilot.press("enter")
    await settle(app, pilot)


async def _pick(app: Any, pilot: Any, text: str) -> None:
    await wait_for(app, pilot, lambda: isinstance(app.screen, PickerScreen))
    app.screen.query_one("#picker-filter", Input).value = text
    await pilot.pause()
    await pilot.press("enter")
    await settle(app, pilot)


async def _edited(app: Any, pilot: Any, fx: tui_store.FixtureStore, n: int) -> None:
    await wait_for(app, pilot, lambda: _q(fx, "SELECT COUNT(*) FROM cluster_edits")[0][0] >= n)
    await settle(app, pilot)


async def test_rename_a_cluster_and_a_topic_in_place(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _explorer(app, pilot, 0)
        node = tree.nodes_by_id[0]
        await pilot.press("f2")
        await _answer(app, pilot, title="Python, by hand")
        await _edited(app, pilot, fx, 1)
        await wait_for(app, pilot, lambda: node.data.row.title == "Python, by hand")
        assert tree.nodes_by_id[0] is node  # the same tree node: updated, not rebuilt
        titles = _q(fx, "SELECT DISTINCT title FROM cluster_summaries WHERE cluster_id = 0")
        assert titles == [("Python, by hand",)]
        parent = app.screen.index[0].parent_id
        assert app.screen.jump_to(parent)
        await settle(app, pilot)
        await pilot.press("f2")
        await _answer(app, pilot, title="Code and mail")
        await _edited(app, pilot, fx, 2)
        await wait_for(
            app, pilot, lambda: tree.nodes_by_id[parent].data.row.title == "Code and mail"
        )
        assert _q(fx, "SELECT title FROM cluster_hierarchies WHERE cluster_id = ?", parent) == [
            ("Code and mail",)
        ]


async def test_move_marked_queries_through_the_picker(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _explorer(app, pilot, 0)
        before = (_count(fx, 1_000_000), _count(fx, 1_000_001))
        app.screen.open_queries(tree.cursor_row)
        await settle(app, pilot)
        assert isinstance(app.screen, QueriesScreen)
        await pilot.press("space", "space")
        marked = set(app.screen.marked)
        assert marked == set(fx.query_ids[0][:2])
        await pilot.press("o")
        await _pick(app, pilot, "Translat")  # cluster 2, under another topic
        await _edited(app, pilot, fx, 1)
        moved = _q(fx, "SELECT query_id FROM query_clusters WHERE cluster_id = 2")
        assert marked <= {r[0] for r in moved}
        assert app.screen.marked == set()
        assert (_count(fx, 1_000_000), _count(fx, 1_000_001)) == (before[0] - 2, before[1] + 2)
        await wait_for(app, pilot, lambda: tree.nodes_by_id[0].data.row.count == fx.sizes[0] - 2)
        assert tree.nodes_by_id[1_000_000].data.row.count == before[0] - 2


async def test_merge_and_split_from_the_tree(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _explorer(app, pilot, 3)
        await pilot.press("j")
        await _pick(app, pilot, "Translat")
        await _edited(app, pilot, fx, 1)
        await wait_for(app, pilot, lambda: 3 not in tree.nodes_by_id)
        assert tree.nodes_by_id[2].data.row.count == fx.sizes[2] + fx.sizes[3]
        assert _q(fx, "SELECT COUNT(*) FROM clusters WHERE cluster_id = 3") == [(0,)]
        assert app.screen.jump_to(4)
        await settle(app, pilot)
        app.screen.open_queries(tree.cursor_row)
        await settle(app, pilot)
        await pilot.press("space", "space", "n")
        await _answer(app, pilot, title="Baking")
        await _edited(app, pilot, fx, 2)
        new_id = _q(fx, "SELECT MAX(cluster_id) FROM clusters")[0][0]
        assert _q(fx, "SELECT size FROM clusters WHERE cluster_id = ?", new_id) == [(2,)]
        await wait_for(app, pilot, lambda: new_id in tree.nodes_by_id)
        assert tree.nodes_by_id[new_id].data.row.title == "Baking"


async def test_tag_flag_audit_view_and_undo(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await _explorer(app, pilot, 1)
        before = _dump(fx)
        await pilot.press("a")
        await _answer(app, pilot, coherence="2", quality="low", notes="mixed bag")
        await _edited(app, pilot, fx, 1)
        await pilot.press("f")
        await _answer(app, pilot, flag="language_mixing")
        await _edited(app, pilot, fx, 2)
        assert _q(fx, "SELECT coherence_score, quality, flags, notes FROM cluster_metadata") == [
            (2, "low", '["language_mixing"]', "mixed bag")
        ]
        detail = app.screen.detail.query_one("#detail-body")
        await wait_for(app, pilot, lambda: "language_mixing" in static_text(detail))
        shown = static_text(detail)
        assert "quality low · tagged coherence 2/5 · flags: language_mixing · 2 edits" in shown
        assert "notes: mixed bag" in shown
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, AuditScreen)
        table = app.screen.query_one("#audit", DataTable)
        assert table.row_count == 2
        await pilot.press("ctrl+z", "ctrl+z")
        await _edited(app, pilot, fx, 4)
        await wait_for(app, pilot, lambda: table.row_count == 4)
        assert _dump(fx) == before
        kinds = _q(fx, "SELECT edit_type, undone_by FROM cluster_edits ORDER BY id")
        assert kinds == [("tag", 4), ("flag", 3), ("undo", None), ("undo", None)]


async def test_a_bad_edit_is_a_notification_and_changes_nothing(fx: tui_store.FixtureStore):
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await _explorer(app, pilot, 1)
        before = _dump(fx)
        await pilot.press("a")
        await _answer(app, pilot, coherence="9", quality="", notes="")
        await settle(app, pilot)
        assert _dump(fx) == before
        assert any("between 1 and 5" in str(n.message) for n in app._notifications)
