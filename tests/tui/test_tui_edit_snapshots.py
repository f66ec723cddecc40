"""Snapshots of curation in the TUI at 120x40, from the fixed store (deterministic as in
test_tui_snapshots.py): the rename dialog over the tree, and the tree with the detail panel
after a tag and a flag (the editor is fixed: the audit log is not shown, it holds times)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tui_store
from textual.widgets import Input
from tui_pilot import make_app, settle
from tui_store import RUN_ID

from lmsys_tui.core.curate import labels
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

SIZE = (120, 40)


@pytest.fixture
def fx(store: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> tui_store.FixtureStore:
    built = tui_store.build(store)
    monkeypatch.chdir(home)
    return built


def _app() -> Any:
    app = make_app(Path("queries.db"), run_id=RUN_ID)
    app.theme = "textual-dark"
    return app


async def _on_cluster(pilot: Any, cursor: int) -> None:
    app = pilot.app
    await settle(app, pilot)
    tree = app.screen.query_one("#tree", ClusterTree)
    for node_id in (2_000_000, 1_000_000):
        tree.nodes_by_id[node_id].expand()
        await settle(app, pilot)
    tree.select_id(cursor)
    await settle(app, pilot)


def test_rename_dialog(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _on_cluster(pilot, 0)
        await pilot.press("f2")
        await settle(pilot.app, pilot)
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_detail_shows_tags_and_flags(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    labels.tag_cluster(fx.db, RUN_ID, 1, coherence=2, quality="low", notes="two topics",
                       editor="ana")  # fmt: skip
    labels.flag_cluster(fx.db, RUN_ID, 1, "language_mixing", editor="ana")

    async def run_before(pilot: Any) -> None:
        await _on_cluster(pilot, 1)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)
