"""Two runs side by side through Pilot, on the fixed TUI store: the flat run keeps clusters 0
and 1 of the k-means run and puts the other four into noise (a merge into cluster -1)."""

from __future__ import annotations

from typing import Any

import pytest
import tui_store
from textual.widgets import DataTable
from tui_pilot import SIZE, make_app, settle
from tui_store import FLAT_RUN, RUN_ID

from lmsys_tui.tui.screens.compare import CompareScreen
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.picker import PickerScreen

pytestmark = pytest.mark.anyio


async def test_compare_picks_a_run_shows_the_changes_and_opens_either_side(
    fx: tui_store.FixtureStore,
) -> None:
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(RUN_ID)
        await settle(app, pilot)
        app.invoke("compare")
        await settle(app, pilot)
        assert isinstance(app.screen, PickerScreen)
        await pilot.press(*"hdbscan", "enter")
        await settle(app, pilot)
        screen: Any = app.screen
        assert isinstance(screen, CompareScreen) and screen.diff is not None
        assert screen.diff["changes"]["merged"] == 1
        kinds = [r[0] for r in screen.rows]
        assert kinds.count("merged") == 4 and {r[3] for r in screen.rows[:4]} == {-1}
        assert screen.headless() == ("compare", [RUN_ID, FLAT_RUN])
        table = screen.query_one("#compare-table", DataTable)
        assert table.row_count == len(screen.rows)

        table.move_cursor(row=kinds.index("merged"))
        source = screen.rows[kinds.index("merged")][1]
        await pilot.press("a")
        await settle(app, pilot)
        explorer: Any = app.screen
        assert isinstance(explorer, ExplorerScreen) and explorer.run_id == RUN_ID
        assert explorer.tree.cursor_row is not None
        assert explorer.tree.cursor_row.node_id == source
