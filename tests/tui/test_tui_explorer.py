"""The explorer through Pilot: runs → tree → expand → drill-down → query, and what goes with it.

A fixed store is written by each test (tests/tui_store.py); the real App reads it through its
real workers. State and messages are asserted (what the tree holds, which messages went by),
then what the terminal shows where escaping is the point. No mocks.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import tui_store
from conftest import run_cli
from textual.message import Message
from textual.widgets import DataTable, Label, Static
from tui_pilot import SIZE, cells, make_app, screen_text, settle, static_text
from tui_store import FLAT_RUN, HIER_ID, PASS_CLAUDE, PASS_V1, RUN_ID

from lmsys_tui.tui.commands import ActionsProvider, NavigationProvider
from lmsys_tui.tui.screens import queries as queries_module
from lmsys_tui.tui.screens.confirm import ConfirmScreen
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.help import HelpScreen
from lmsys_tui.tui.screens.picker import PickerScreen
from lmsys_tui.tui.screens.queries import QueriesScreen
from lmsys_tui.tui.screens.query import QueryScreen
from lmsys_tui.tui.screens.runs import RunsScreen
from lmsys_tui.tui.widgets import cluster_tree as cluster_tree_module
from lmsys_tui.tui.widgets.cluster_detail import ClusterDetail
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

pytestmark = pytest.mark.anyio


def _tree(app: Any) -> ClusterTree:
    return app.screen.query_one("#tree", ClusterTree)


def _visible(tree: ClusterTree) -> list[tuple[int, str]]:
    """(depth, title) of every line the tree shows now, placeholders as their note."""
    out = []

    def walk(node: Any, depth: int) -> None:
        for child in node.children:
            item = child.data
            out.append((depth, item.row.title if item.row else item.note))
            if child.is_expanded:
                walk(child, depth + 1)

    walk(tree.root, 0)
    return out


def _detail_text(app: Any) -> str:
    return static_text(app.screen.query_one("#detail", ClusterDetail).query_one("#detail-body"))


async def _open_explorer(app: Any, pilot: Any, run_id: str = RUN_ID) -> ClusterTree:
    app.open_run(run_id)
    await settle(app, pilot)
    assert isinstance(app.screen, ExplorerScreen)
    return _tree(app)


# -- the main path --------------------------------------------------------------------------------


async def test_runs_to_tree_to_queries_to_query(
    fx: tui_store.FixtureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every level through the worker and its placeholder (small levels are read inline
    # otherwise; test_small_levels_load_inline covers that path)
    monkeypatch.setattr(cluster_tree_module, "INLINE_CHILDREN", 0)
    seen: list[Message] = []
    placeholders: list[tuple[int | None, list[str]]] = []

    def hook(message: Message) -> None:
        if any(m is message for m in seen):
            return  # a bubbling message is posted again at every level
        seen.append(message)
        if isinstance(message, ClusterTree.ChildrenWanted) and message.node_id is not None:
            node = message.tree.nodes_by_id[message.node_id]
            placeholders.append((message.node_id, [c.data.note for c in node.children]))

    app = make_app(fx.db)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await settle(app, pilot)
        runs_screen = app.screen
        assert isinstance(runs_screen, RunsScreen)
        runs = runs_screen.query_one("#runs", DataTable)
        assert cells(runs, 0) == [RUN_ID, FLAT_RUN]
        runs.focus()
        await settle(app, pilot)
        passes = runs_screen.query_one("#passes", DataTable)
        assert cells(passes, 0) == [PASS_CLAUDE, PASS_V1]
        assert cells(passes, 1) == ["claude", "v1"]
        assert cells(runs_screen.query_one("#hierarchies", DataTable), 0) == [HIER_ID]

        await pilot.press("enter")  # open the highlighted run
        await settle(app, pilot)
        explorer = app.screen
        assert isinstance(explorer, ExplorerScreen)
        tree = _tree(app)
        assert _visible(tree) == [(0, "Work and code"), (0, "Learning and life")]
        assert explorer.view is not None and explorer.view.hierarchy_run_id == HIER_ID
        line = static_text(explorer.query_one("#view-line", Static))
        assert (
            f"hierarchy {HIER_ID} (3 levels)" in line
            and "pass summary-offline-fixture (v1)" in line
        )

        # expanding shows "loading…" while it asks for the children, then what the worker read
        node = tree.nodes_by_id[2_000_001]
        node.expand()
        await settle(app, pilot)
        assert placeholders[-1] == (2_000_001, ["loading…"])
        assert _visible(tree) == [
            (0, "Work and code"),
            (0, "Learning and life"),
            (1, "Languages and numbers"),
            (1, "Everyday life and oddities"),
        ]
        wanted = [m for m in seen if isinstance(m, ClusterTree.ChildrenWanted)]
        assert [m.node_id for m in wanted] == [None, 2_000_001]
        loaded = [m for m in seen if isinstance(m, ExplorerScreen.ChildrenLoaded)]
        assert [(m.node_id, len(m.rows)) for m in loaded] == [(None, 2), (2_000_001, 2)]

        tree.move_cursor(tree.nodes_by_id[1_000_001])
        await pilot.press("enter")  # enter on a parent toggles it
        await settle(app, pilot)
        tree.move_cursor(tree.nodes_by_id[2])
        await settle(app, pilot)
        assert tree.cursor_row is not None and tree.cursor_row.node_id == 2
        detail = _detail_text(app)
        assert "Translation requests" in detail
        assert "cluster 2 · 6 queries · 16.7% of run" in detail
        assert "summary pass summary-offline-fixture (v1)" in detail
        assert any(isinstance(m, ExplorerScreen.DetailLoaded) and m.node_id == 2 for m in seen)

        await pilot.press("v")  # drill down
        await settle(app, pilot)
        queries = app.screen
        assert isinstance(queries, QueriesScreen)
        table = queries.query_one("#queries", DataTable)
        assert cells(table, 1) == ["0.100", "0.150", "0.200", "0.250", "0.300", "0.350"]
        assert cells(table, 4)[0] == "Translate 'good morning' into Japanese."
        status = static_text(queries.query_one("#queries-status", Static))
        assert status.startswith("rows 1–6 of 6 · closest to the centroid first")

        table.move_cursor(row=4)
        await pilot.press("enter")
        await settle(app, pilot)
        query = app.screen
        assert isinstance(query, QueryScreen)
        assert static_text(query.query_one("#query-text", Static)) == "把这句话翻译成英文。"
        meta = static_text(query.query_one("#query-meta", Static))
        assert "zh" in meta and "chatglm-6b" in meta
        assert query.record is not None and query.record["cluster_id"] == 2

        await pilot.press("escape")
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is explorer and tree.cursor_row.node_id == 2  # state kept


async def test_small_levels_load_inline(fx: tui_store.FixtureStore) -> None:
    """A level of a few rows is read in the expand handler itself: no worker, no message,
    and no frame ever shows "loading…" for it."""
    seen: list[Message] = []
    app = make_app(fx.db)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        tree = await _open_explorer(app, pilot)
        node = tree.nodes_by_id[2_000_001]
        node.expand()
        await pilot.pause()
        assert [c.data.row.title for c in node.children] == [
            "Languages and numbers",
            "Everyday life and oddities",
        ]
        asked = [
            m.node_id
            for m in seen
            if isinstance(m, (ClusterTree.ChildrenWanted, ExplorerScreen.ChildrenLoaded))
        ]
        assert 2_000_001 not in asked  # read in the handler, not by a worker
        assert None in asked  # the roots did go to a worker
        assert node.data.loaded and not node.data.loading


async def test_enter_on_a_cluster_opens_its_queries(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, FLAT_RUN)
        tree.move_cursor(tree.nodes_by_id[1])
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, QueriesScreen) and app.screen.row.node_id == 1


async def test_run_id_opens_straight_into_the_tree(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ExplorerScreen)
        assert [t for _, t in _visible(_tree(app))] == ["Work and code", "Learning and life"]
        assert "Work and code" in _detail_text(app)  # the first root is highlighted
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.selected_run() == RUN_ID


async def test_a_run_without_results_is_an_error_not_a_crash(fx: tui_store.FixtureStore) -> None:
    with sqlite3.connect(fx.db) as conn:
        conn.execute(
            "UPDATE clustering_runs SET status = 'failed', error = 'boom' WHERE run_id = ?",
            (FLAT_RUN,),
        )
    app = make_app(fx.db, run_id=FLAT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("is failed: boom" in m for m in errors)
        assert app.is_running
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)


# -- views: sort, pass, hierarchy, flat -----------------------------------------------------------


async def test_sort_pass_and_hierarchy_switches_reopen_what_was_open(
    fx: tui_store.FixtureStore,
) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        tree.nodes_by_id[2_000_001].expand()
        await settle(app, pilot)
        tree.nodes_by_id[1_000_001].expand()
        await settle(app, pilot)
        tree.move_cursor(tree.nodes_by_id[3])
        await settle(app, pilot)

        await pilot.press("t")  # by title
        await settle(app, pilot)
        assert _visible(tree) == [
            (0, "Learning and life"),
            (1, "Everyday life and oddities"),
            (1, "Languages and numbers"),
            (2, "Basic math questions"),
            (2, "Translation requests"),
            (0, "Work and code"),
        ]
        assert tree.cursor_row.node_id == 3  # the cursor came back to the same node

        await pilot.press("w")  # next summary pass with titles: claude
        await settle(app, pilot)
        assert app.screen.view.summary_run_id == PASS_CLAUDE
        leaves = [t for d, t in _visible(tree) if d == 2]
        assert leaves == ["Solving math problems", "Translating between languages"]
        assert "(claude)" in _detail_text(app)

        await pilot.press("h")  # hierarchy -> flat clusters
        await settle(app, pilot)
        assert app.screen.view.hierarchy_run_id is None
        assert all(d == 0 for d, _ in _visible(tree)) and len(_visible(tree)) == 6
        assert "flat clusters" in static_text(app.screen.query_one("#view-line", Static))
        await pilot.press("h")  # and back
        await settle(app, pilot)
        assert app.screen.view.hierarchy_run_id == HIER_ID


async def test_flat_run_keeps_noise_last_and_titles_it(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, FLAT_RUN)
        titles = [t for _, t in _visible(tree)]
        assert titles == [
            "python, error, list",
            "email, write, polite",
            "noise (not in any cluster)",
        ]
        assert "titles: keywords" in static_text(app.screen.query_one("#view-line", Static))


async def test_a_wide_level_is_added_in_chunks(store: Any) -> None:
    """250 clusters: the first 100 appear with a "loading… (150 more)" line, then the rest."""
    fx = tui_store.build(store)
    with sqlite3.connect(fx.db) as conn:
        conn.execute(
            "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, parameters, metrics,"
            " status, created_at) VALUES ('wide', 'kmeans', 250, '{}', '{}', 'done', ?)",
            (tui_store.CREATED,),
        )
        conn.executemany(
            "INSERT INTO clusters (run_id, cluster_id, size, keywords, metrics)"
            " VALUES ('wide', ?, ?, ?, '{}')",
            [(i, 1000 - i, json.dumps([f"topic{i}"])) for i in range(250)],
        )
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, "wide")
        assert len(tree.root.children) == 250
        screen = app.screen
        from lmsys_tui.core.read import tree as read_tree

        rows = read_tree.children(screen.view, None)
        tree.reset_tree()
        assert tree.add_children(None, rows, tree.generation)
        labels = [c.data.note or c.data.row.title for c in tree.root.children]
        assert len(labels) == 101 and labels[-1] == "loading… (150 more)"
        assert labels[0] == "topic0" and labels[99] == "topic99"
        await settle(app, pilot)
        assert len(tree.root.children) == 250
        assert tree.root.children[-1].data.row.title == "topic249"
        assert not tree.add_children(None, rows, tree.generation - 1)  # a stale answer is dropped


# -- drill-down paging ----------------------------------------------------------------------------


async def test_queries_are_keyset_paged_never_all_in_the_table(
    fx: tui_store.FixtureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries_module, "PAGE", 4)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, FLAT_RUN)
        tree.move_cursor(tree.nodes_by_id[0])
        await pilot.press("v")
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#queries", DataTable)
        expected = fx.query_ids[0]
        seen: list[int] = []
        for _ in range(3):
            assert table.row_count <= 4
            seen += [int(k.value) for k in table.rows]
            await pilot.press("right_square_bracket")
            await settle(app, pilot)
        assert seen == expected  # 4 + 4 + 2, in distance order, nothing twice
        status = static_text(screen.query_one("#queries-status", Static))
        assert status.startswith("rows 9–10 of 10")
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert [int(k.value) for k in table.rows] == expected[4:8]
        await pilot.press("t")  # farthest first, from page one
        await settle(app, pilot)
        assert [int(k.value) for k in table.rows] == expected[::-1][:4]
        await pilot.press("t")  # by id
        await settle(app, pilot)
        assert [int(k.value) for k in table.rows] == sorted(expected)[:4]


async def test_the_query_column_takes_the_width_left(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, FLAT_RUN)
        tree.move_cursor(tree.nodes_by_id[0])
        await pilot.press("v")
        await settle(app, pilot)
        table = app.screen.query_one("#queries", DataTable)
        widths = {k.value: c.width for k, c in table.columns.items()}
        assert widths["language"] == 10  # "Portuguese" fits
        # the table's 118 columns: 5 columns' padding, the scrollbar, the fixed ones, the query
        assert sum(widths.values()) + 2 * 5 + 2 == SIZE[0] - 2
        await pilot.resize_terminal(160, 40)
        await settle(app, pilot)
        wider = {k.value: c.width for k, c in table.columns.items()}
        assert wider["query"] == widths["query"] + 40 and table.row_count == 10
        first = cells(table, 4)[0]
        assert first == "Why does my Python list comprehension raise NameError?"


async def test_a_parent_node_drills_into_all_its_clusters(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        tree.move_cursor(tree.nodes_by_id[2_000_001])
        await pilot.press("v")
        await settle(app, pilot)
        screen = app.screen
        assert screen.cluster_ids == [2, 3, 4, 5]
        keys = [int(k.value) for k in screen.query_one("#queries", DataTable).rows]
        members = [q for c in (2, 3, 4, 5) for q in fx.query_ids[c]]
        assert sorted(keys) == sorted(members)


# -- jumping, palette, headless commands ----------------------------------------------------------


async def test_jump_to_cluster_opens_its_path(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        app.invoke("inspect")  # "Jump: to cluster…" in the palette
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        assert len(picker.options) == 11
        await pilot.press(*"math")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ExplorerScreen)
        assert tree.cursor_row is not None and tree.cursor_row.node_id == 3
        assert tree.nodes_by_id[2_000_001].is_expanded and tree.nodes_by_id[1_000_001].is_expanded
        assert "Basic math questions" in _detail_text(app)


async def test_palette_offers_open_run_and_jump_and_never_parses_titles(
    fx: tui_store.FixtureStore,
) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        nav = NavigationProvider(app.screen)
        assert [h.text async for h in nav.discover()] == ["Open: run…"]  # no run open yet
        await _open_explorer(app, pilot)
        nav = NavigationProvider(app.screen)
        assert [h.text async for h in nav.discover()] == ["Open: run…", "Jump: to cluster…"]
        hits = [h async for h in nav.search("evil markup")]
        evil = [h for h in hits if h.text and "Evil" in h.text]
        assert evil and "[bold red]Evil[/]" in evil[0].match_display.plain
        evil[0].command()
        await settle(app, pilot)
        assert _tree(app).cursor_row.node_id == 5
        runs = [h async for h in nav.search("hdbscan-fix")]
        assert any(h.text and h.text.startswith("Open run: hdbscan-fixture") for h in runs)
        actions = ActionsProvider(app.screen)
        titles = [h.text async for h in actions.search("copy command show queries")]
        assert "Copy command: Show: queries" in titles


async def test_copy_shows_the_headless_command_for_the_view(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        await pilot.press("c")
        db = f"--db-path {fx.db}"
        assert app.clipboard == f"lmsys-tui --headless show-hierarchy {HIER_ID} {db}"
        tree.nodes_by_id[2_000_000].expand()
        await settle(app, pilot)
        tree.nodes_by_id[1_000_000].expand()
        await settle(app, pilot)
        tree.move_cursor(tree.nodes_by_id[1])
        await settle(app, pilot)
        await pilot.press("f1")
        await settle(app, pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        table = help_screen.query_one("#help-table", DataTable)
        keys = [k.value for k in table.rows]
        assert "screen:t" in keys  # the explorer's own keys are listed too
        table.move_cursor(row=keys.index("inspect"))
        await pilot.press("enter")
        assert app.clipboard == (
            f"lmsys-tui --headless inspect {RUN_ID} 1 --summary-run-id {PASS_V1} {db}"
        )
        table.move_cursor(row=keys.index("list"))
        await pilot.press("enter")
        assert app.clipboard == (
            f"lmsys-tui --headless list --run-id {RUN_ID} --cluster-id 1 --order distance"
            f" --limit 100 {db}"
        )


@pytest.mark.parametrize(("run_id", "node_id"), [(RUN_ID, 2_000_001), (RUN_ID, 3), (FLAT_RUN, -1)])
async def test_the_copied_list_command_lists_the_drill_down_page(
    fx: tui_store.FixtureStore,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    run_id: str,
    node_id: int,
) -> None:
    """`c` in the drill-down of a hierarchy node, a cluster or noise gives a `list` command
    that, run headless, returns the page the table shows, in each order."""
    monkeypatch.setattr(queries_module, "PAGE", 4)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot, run_id)
        assert app.screen.jump_to(node_id)
        await settle(app, pilot)
        assert tree.cursor_row is not None and tree.cursor_row.node_id == node_id
        await pilot.press("v")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, QueriesScreen)
        for order in ("distance", "-distance", "id"):
            assert screen.order == order
            shown = [int(k.value) for k in screen.query_one("#queries", DataTable).rows]
            command = app.action_copy_command()
            assert command is not None and command.startswith("lmsys-tui --headless list ")
            res = run_cli([*shlex.split(command)[1:], "--json"], cli_env)
            assert res.returncode == 0, res.stderr
            listed = [q["query_id"] for q in json.loads(res.stdout)["queries"]]
            assert listed == shown and len(shown) == 4, command
            await pilot.press("t")  # the next order, from page one
            await settle(app, pilot)


async def test_a_breakdown_with_one_value_is_left_out(fx: tui_store.FixtureStore) -> None:
    with sqlite3.connect(fx.db) as conn:  # a dataset without a model column
        conn.execute("UPDATE queries SET model = NULL")
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        assert app.screen.jump_to(2)
        await settle(app, pilot)
        text = _detail_text(app)
        assert "Languages" in text and "66.7%" in text  # en, es, zh
        assert "Models" not in text and "unknown" not in text
        assert tree.cursor_row is not None and tree.cursor_row.node_id == 2


# -- deleting with a confirmation -----------------------------------------------------------------


async def test_delete_asks_then_deletes_and_the_screen_follows(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#runs", DataTable).focus()
        await settle(app, pilot)
        hierarchies = screen.query_one("#hierarchies", DataTable)
        hierarchies.focus()
        await pilot.press("x")
        await settle(app, pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        question = static_text(confirm.query_one("#confirm-question", Static))
        assert f"Delete hierarchy {HIER_ID}: 12 rows in all." in question
        assert "cluster_hierarchies 11" in question
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is screen and not app.jobs

        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        (job,) = app.jobs.values()
        assert job.status == "done" and job.kind == "delete"
        assert (
            job.command
            == f"lmsys-tui --headless delete {HIER_ID} --kind hierarchy --yes --db-path {fx.db}"
        )
        with sqlite3.connect(fx.db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM cluster_hierarchies").fetchone()[0] == 0
        assert hierarchies.row_count == 0  # the finished job made the screen re-read
        heading = static_text(screen.query_one("#children-heading", Label))
        assert RUN_ID in heading


# -- untrusted text -------------------------------------------------------------------------------


async def test_markup_escapes_and_long_lines_stay_inert_everywhere(
    fx: tui_store.FixtureStore,
) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        tree = await _open_explorer(app, pilot)
        tree.nodes_by_id[2_000_001].expand()
        await settle(app, pilot)
        tree.nodes_by_id[1_000_002].expand()
        await settle(app, pilot)
        tree.move_cursor(tree.nodes_by_id[5])
        await settle(app, pilot)
        shown = screen_text(app)
        assert "[bold red]Evil[/] markup \\x1b[31mtitle" in shown  # tree label and detail
        assert "[INST] tags and \\x1b[1mcontrol" in shown  # the description, whole
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        line = tree.render_line(tree.nodes_by_id[5].line - tree.scroll_offset.y)
        assert "[bold red]Evil[/] markup \\x1b[31mtit" in "".join(seg.text for seg in line)

        await pilot.press("v")
        await settle(app, pilot)
        table = app.screen.query_one("#queries", DataTable)
        texts = cells(table, 4)
        assert texts[0] == "[bold red]not bold[/] \\x1b[31mstill plain \\x1b[2J"
        assert texts[1] == "[INST] tell me a story [/INST]"
        assert texts[2].endswith("…") and len(texts[2]) < 200  # clipped in the list
        table.move_cursor(row=2)
        await pilot.press("enter")
        await settle(app, pilot)
        whole = static_text(app.screen.query_one("#query-text", Static))
        assert whole == tui_store.LONG_QUERY  # whole in the detail view
        assert "\x1b" not in app.export_screenshot()
        await pilot.press("escape")
        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        evil = static_text(app.screen.query_one("#query-text", Static))
        assert evil == "[bold red]not bold[/] \\x1b[31mstill plain \\x1b[2J"
        heading = static_text(app.screen.query_one("#query-heading", Label))
        assert f"{len(tui_store.EVIL_QUERY)} characters" in heading


def test_fixture_is_what_the_tests_think(fx: tui_store.FixtureStore) -> None:
    assert fx.total == 36 and fx.sizes == {0: 10, 1: 8, 2: 6, 3: 5, 4: 4, 5: 3}
    assert Path(fx.db).exists()
