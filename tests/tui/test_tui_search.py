"""Live search in the explorer: debounced, stale answers dropped, matches counted per tree node.

The searches are real (the search core over the fixed store's FTS5 index, keyword mode, so no
embedding model is loaded in these tests). The clusters target is driven by posting the search
core's own `ClusterHit` values as a finished search, which exercises the panel's handling of
them without loading a model; the core's semantic and cluster search have their own tests.
"""

from __future__ import annotations

from typing import Any

import pytest
import tui_store
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from tui_pilot import SIZE, make_app, settle, static_text, wait_for
from tui_store import RUN_ID

from lmsys_tui.core.search import ClusterHit
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.widgets import search_panel as search_panel_module
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree
from lmsys_tui.tui.widgets.search_panel import SearchPanel

pytestmark = pytest.mark.anyio


def _done(seen: list[Message]) -> list[SearchPanel.SearchDone]:
    return [m for m in seen if isinstance(m, SearchPanel.SearchDone)]


async def _open_search(app: Any, pilot: Any, mode: str = "keyword") -> SearchPanel:
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, ExplorerScreen)
    screen.search_defaults["mode"] = mode
    await pilot.press("slash")
    await settle(app, pilot)
    assert screen.searching and screen.query_one("#search-input", Input).has_focus
    assert screen.search_panel is not None
    return screen.search_panel


async def _typed(app: Any, pilot: Any, panel: SearchPanel, text: str) -> None:
    await pilot.press(*text)
    await wait_for(app, pilot, lambda: panel.hits_for == text)
    await pilot.pause()  # the screen handles what the panel posted with the hits


async def test_typing_searches_once_per_pause_and_counts_hits_per_node(
    fx: tui_store.FixtureStore,
) -> None:
    seen: list[Message] = []

    def hook(message: Message) -> None:
        if not any(m is message for m in seen):
            seen.append(message)

    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        panel = await _open_search(app, pilot)
        screen = app.screen
        await _typed(app, pilot, panel, "python")
        # one search for the whole word: the keystrokes came faster than the debounce
        assert [(m.text, m.mode) for m in _done(seen)] == [("python", "keyword")]
        hits = panel.hits
        assert len(hits) == 8 and {h.cluster_id for h in hits} == {0}
        tree = screen.query_one("#tree", ClusterTree)
        assert tree.hits == {0: 8, 1_000_000: 8, 2_000_000: 8}
        label = tree.render_label(tree.nodes_by_id[2_000_000], tree.rich_style, tree.rich_style)
        assert label.plain.endswith("Work and code  8 hits")
        await settle(app, pilot)  # the per-node counts of every match follow the hits
        status = static_text(panel.query_one("#search-status", Static))
        assert status.startswith("8 hits for 'python' · queries · keyword")  # all the matches
        options = panel.query_one("#search-results", OptionList)
        assert options.option_count == 8
        assert "· Python coding help" in str(options.get_option_at_index(0).prompt)

        await pilot.press(*" decorators")
        await wait_for(app, pilot, lambda: panel.hits_for == "python decorators")
        assert len(panel.hits) == 1
        assert panel.hits[0].snippet == "Explain Python decorators with an example."

        # enter in the box goes to the results; enter on a hit opens its place in the tree
        await pilot.press("enter")
        assert options.has_focus
        await pilot.press("enter")
        await settle(app, pilot)
        chosen = [m for m in seen if isinstance(m, SearchPanel.HitChosen)]
        assert [m.hit.query_id for m in chosen] == [panel.hits[0].query_id]
        assert tree.has_focus and tree.cursor_row is not None and tree.cursor_row.node_id == 0
        assert tree.nodes_by_id[2_000_000].is_expanded and tree.nodes_by_id[1_000_000].is_expanded

        await pilot.press("escape")  # closes the search, not the screen
        await settle(app, pilot)
        assert app.screen is screen and not screen.searching and tree.hits == {}
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is not screen


async def test_keyword_counts_on_the_tree_cover_every_match_not_only_the_hits(
    fx: tui_store.FixtureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_panel_module, "RESULTS", 3)  # fewer hits than the 8 matches
    seen: list[Message] = []
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        panel = await _open_search(app, pilot)
        await _typed(app, pilot, panel, "python")
        await settle(app, pilot)
        assert len(panel.hits) == 3
        tree = app.screen.query_one("#tree", ClusterTree)
        assert tree.hits == {0: 8, 1_000_000: 8, 2_000_000: 8}
        status = static_text(panel.query_one("#search-status", Static))
        assert status.startswith("3 best of 8 matches for 'python'")
        counted = [m for m in seen if isinstance(m, SearchPanel.MatchesCounted)]
        assert [(m.text, m.per_cluster) for m in counted][-1] == ("python", {0: 8})


async def test_a_stale_answer_never_lands(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        panel = await _open_search(app, pilot)
        await _typed(app, pilot, panel, "email")
        assert {h.cluster_id for h in panel.hits} == {1}
        before = list(panel.hits)
        # an answer to an older request arrives late: it is dropped
        panel.post_message(
            SearchPanel.SearchDone(panel.seq - 1, "queries", "python", "keyword", [], 0.0)
        )
        await settle(app, pilot)
        assert panel.hits == before
        # typing restarts the timer, so the request in flight is stale the moment a key lands
        seq = panel.seq
        await pilot.press("backspace")
        assert panel.seq == seq + 1
        await wait_for(app, pilot, lambda: panel.hits_for == "emai")
        assert panel.hits == []  # "emai" is not a word in the store
        assert "0 hits for 'emai'" in static_text(panel.query_one("#search-status", Static))
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await settle(app, pilot)
        assert panel.text == "" and app.screen.query_one("#tree", ClusterTree).hits == {}


async def test_search_errors_show_in_the_search_line(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        panel = await _open_search(app, pilot)
        await pilot.press(*"+++")
        status = panel.query_one("#search-status", Static)
        await wait_for(app, pilot, lambda: status.has_class("-error"))
        assert "nothing to search for" in static_text(status)
        assert app.is_running and not any(n.severity == "error" for n in app._notifications)


async def test_switching_target_and_mode_and_cluster_hits(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        panel = await _open_search(app, pilot)
        assert panel.target == "queries"
        await pilot.press("ctrl+o")
        assert panel.mode == "hybrid"
        await pilot.press("ctrl+o", "ctrl+o")
        assert panel.mode == "keyword"
        await pilot.press("ctrl+t")
        assert panel.target == "clusters"
        await pilot.press("ctrl+t")
        assert panel.target == "queries"
        await _typed(app, pilot, panel, "translate")
        app.action_copy_command()
        assert app.clipboard.startswith(
            f"lmsys-tui --headless search translate --run-id {RUN_ID} --mode keyword"
        )
        # what a cluster search returns, shown and counted the same way
        hits = [
            ClusterHit(5, 0.2, tui_store.EVIL_TITLE, "d", 3),
            ClusterHit(2, 0.3, "Translation requests", "d", 6),
        ]
        panel.post_message(
            SearchPanel.SearchDone(panel.seq, "clusters", "odd", "semantic", hits, 0.01)
        )
        await settle(app, pilot)
        tree = app.screen.query_one("#tree", ClusterTree)
        assert tree.hits == {5: 1, 2: 1, 1_000_002: 1, 1_000_001: 1, 2_000_001: 2}
        options = panel.query_one("#search-results", OptionList)
        first = str(options.get_option_at_index(0).prompt)
        assert first.startswith("[bold red]Evil[/] markup \\x1b[31mtitle · 3 queries")
        options.focus()
        options.highlighted = 0
        await pilot.press("enter")
        await settle(app, pilot)
        assert tree.cursor_row is not None and tree.cursor_row.node_id == 5


async def test_search_in_a_flat_view_counts_clusters(fx: tui_store.FixtureStore) -> None:
    app = make_app(fx.db, run_id=tui_store.FLAT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        panel = await _open_search(app, pilot)
        assert panel.view is not None and panel.view.hierarchy_run_id is None
        await _typed(app, pilot, panel, "python")
        tree = app.screen.query_one("#tree", ClusterTree)
        assert tree.hits == {0: 8}
