"""The facet pivot beside the tree, through Pilot on the fixed TUI store.

Cluster 0's members are all given one model and every other query another, so the pivot has
a flagged cell to show and to jump from; the real App reads it through its real worker.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import tui_store
from tui_pilot import SIZE, make_app, settle
from tui_store import RUN_ID

from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.widgets.pivot import Pivot

pytestmark = pytest.mark.anyio


def _plant(fx: tui_store.FixtureStore) -> None:
    conn = sqlite3.connect(fx.db)
    conn.execute("UPDATE queries SET model = 'other-7b'")
    conn.execute(
        "UPDATE queries SET model = 'planted-13b' WHERE id IN (SELECT query_id FROM"
        " query_clusters WHERE run_id = ? AND cluster_id = 0)",
        (RUN_ID,),
    )
    conn.commit()
    conn.close()


async def test_pivot_shows_flagged_cells_cycles_facets_and_jumps(
    fx: tui_store.FixtureStore,
) -> None:
    _plant(fx)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(RUN_ID, flat=True)
        await settle(app, pilot)
        screen: Any = app.screen
        assert isinstance(screen, ExplorerScreen)
        app.invoke("facets")
        await settle(app, pilot)
        pivot = screen.query_one("#pivot", Pivot)
        assert pivot.data is not None and pivot.data["by"] == "model"
        over = [c for c in pivot.data["significant"] if c["lift"] > 1]
        assert [(c["node_id"], c["value"]) for c in over] == [(0, "planted-13b")]
        assert pivot.node_ids[0] == 0 and pivot.table.row_count == len(pivot.node_ids)
        cmd = screen.headless("facets")
        assert cmd == ("facets", [RUN_ID])

        pivot.table.focus()
        pivot.table.move_cursor(row=0)
        await settle(app, pilot)
        # the tree badges every node flagged for the highlighted row's value
        assert screen.tree.badges[0] == pivot.badges("planted-13b")[0]
        assert screen.tree.badges[0].startswith("▲") and "planted-13b" in screen.tree.badges[0]
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.tree.cursor_row is not None and screen.tree.cursor_row.node_id == 0

        pivot.table.focus()
        await pilot.press("b")
        await settle(app, pilot)
        assert pivot.by == "language" and pivot.data["by"] == "language"
        assert screen.headless("facets") == ("facets", [RUN_ID, "--by", "language"])

        app.invoke("facets")  # again: hidden
        await settle(app, pilot)
        assert screen.pivot is None and screen.tree.badges == {}
