"""The cluster map screen through Pilot, on tui_store's fixed run.

The fixture has no vectors, so the test stores the run's layout itself (the table the `map`
stage writes, each cluster's queries around its own fixed centre); the screen must reuse it,
light the clusters under the highlighted node, name the cluster under the cursor (keys and
mouse), and zoom to the lit clusters. No mocks: the real App, store and read layer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import tui_store
from textual.widgets import Static
from tui_pilot import SIZE, make_app, settle, static_text
from tui_store import RUN_ID

from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.map import MapScreen
from lmsys_tui.tui.widgets.cluster_map import ClusterMap

pytestmark = pytest.mark.anyio


def centre(cluster: int) -> tuple[float, float]:
    return (0.15 + (cluster % 3) * 0.35, 0.25 + (cluster // 3) * 0.5)


def _store_layout(fx: tui_store.FixtureStore) -> None:
    ids, xy = [], []
    for cluster, qids in fx.query_ids.items():
        cx, cy = centre(cluster)
        for i, qid in enumerate(qids):
            ids.append(qid)
            xy.append((cx + 0.01 * (i % 3), cy + 0.01 * (i // 3)))
    conn = sqlite3.connect(fx.db)
    conn.execute(
        "INSERT INTO run_layouts (run_id, method, members, points, query_ids, coords,"
        " parameters, created_at) VALUES (?, 'pca', ?, ?, ?, ?, '{}', '2024-05-02 10:00:00')",
        (RUN_ID, fx.total, len(ids), np.array(ids, "<i8").tobytes(),
         np.array(xy, "<f4").tobytes()),
    )  # fmt: skip
    conn.commit()
    conn.close()


async def test_map_lights_the_node_names_the_pointed_cluster_and_zooms(fx) -> None:
    _store_layout(fx)
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ExplorerScreen)
        row = app.screen.tree.cursor_row  # the first root: "Work and code" (clusters 0, 1)
        assert row is not None and row.node_id == 2_000_000
        await pilot.press("M")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MapScreen)
        canvas = screen.query_one(ClusterMap)
        assert canvas.data is not None and canvas.data.lit == frozenset({0, 1})
        assert set(canvas.data.centres) == set(fx.sizes)
        # the stored layout was reused (the fixture has no vectors to compute one from)
        assert len(canvas.data.xy) == fx.total
        # drawn: braille dots, and some cells lit
        w, h = canvas.size.width, canvas.size.height
        dots, lit = canvas.grids(w, h)
        assert dots.any() and lit.any() and (dots & ~lit).any()
        assert any(0x2800 < ord(c) <= 0x28FF for c in canvas.render().plain)
        # the cursor on cluster 4's centre names it; keys move it to cluster 5
        x, y = centre(4)
        await pilot.hover(ClusterMap, offset=(round(x * (w - 1)), round((1 - y) * (h - 1))))
        await settle(app, pilot)
        status = static_text(screen.query_one("#map-status", Static))
        named = app.explorer().index[4].title  # as the tree names it
        assert status.startswith(f"cluster 4 · {fx.sizes[4]} queries · {named}")
        for _ in range(round(0.35 * w)):
            await pilot.press("right")
        await settle(app, pilot)
        assert static_text(screen.query_one("#map-status", Static)).startswith("cluster 5 ·")
        # zoom: the frame shrinks to the lit clusters' points, and back
        assert canvas.box() == (0.0, 0.0, 1.0, 1.0)
        await pilot.press("z")
        x0, y0, x1, y1 = canvas.box()
        assert x1 - x0 < 0.6 and x0 < centre(0)[0] and x1 > centre(1)[0]
        assert y0 < centre(0)[1] < y1 and y1 < centre(3)[1]  # the row of 3, 4, 5 is out
        await pilot.press("z")
        assert canvas.box() == (0.0, 0.0, 1.0, 1.0)
        assert screen.headless() == ("map", [RUN_ID, "--output", "map.svg", "--node", "2000000"])
        # enter: back to the tree, on the named cluster (opened down to it)
        assert static_text(screen.query_one("#map-status", Static)).startswith("cluster 5 ·")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ExplorerScreen)
        assert app.screen.tree.cursor_row is not None and app.screen.tree.cursor_row.node_id == 5


def test_map_snapshot(fx, home, monkeypatch, snap_compare) -> None:
    """The map of the fixed run from the first root: clusters 0 and 1 lit, the rest muted,
    disc sizes by cluster size, the cursor's cluster named under the canvas."""
    _store_layout(fx)
    monkeypatch.chdir(home)  # the screens show the store path as given: relative
    app = make_app(Path("queries.db"), run_id=RUN_ID)
    app.theme = "textual-dark"

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot.app, pilot)
        await pilot.press("M")
        await settle(pilot.app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_write_report_from_the_tree(fx) -> None:
    """`Write: report` (palette) writes reports/RUN.html beside the store for the view shown,
    and says where; the fixture has no vectors, so the report says why it has no map."""
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.invoke("report")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        out = fx.db.parent / "reports" / f"{RUN_ID}.html"
        html = out.read_text(encoding="utf-8")
        assert "Work and code" in html and tui_store.HIER_ID in html
        assert "No map:" in html and "no vectors" in html
        assert "\x1b" not in html  # the fixture's ESC sequences are shown as text
        assert any(str(out) in str(n.message) for n in app._notifications)
