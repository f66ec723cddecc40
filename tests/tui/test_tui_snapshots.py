"""Snapshots of every screen at 120x40 (the tree also at 80x24), from the fixed store.

Deterministic by construction: the store is written by the test with fixed dates, the store
path is relative (the test runs in the home), animations are off, cursors do not blink, the
pipeline screen runs on a clock the test sets, and every worker has finished before the shot.
The SVGs live in snapshots/test_tui_snapshots/ and were read before they were accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tui_store
from textual.widgets import Input, OptionList
from tui_pilot import FixedClock, make_app, settle, wait_for
from tui_store import RUN_ID

from lmsys_tui.errors import Cancelled
from lmsys_tui.tui import jobspecs
from lmsys_tui.tui.jobhost import PROGRESS_INTERVAL
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

SIZE = (120, 40)
SMALL = (80, 24)


@pytest.fixture
def fx(store: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> tui_store.FixtureStore:
    built = tui_store.build(store)
    monkeypatch.chdir(home)  # the screens show the store path as given: relative
    return built


def _app(**kw: Any) -> Any:
    app = make_app(Path("queries.db"), **kw)
    app.theme = "textual-dark"
    return app


def _no_blink(app: Any) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def _explorer(
    pilot: Any, expand: tuple[int, ...] = (2_000_001, 1_000_001), cursor: int = 2
) -> None:
    app = pilot.app
    await settle(app, pilot)
    tree = app.screen.query_one("#tree", ClusterTree)
    for node_id in expand:
        tree.nodes_by_id[node_id].expand()
        await settle(app, pilot)
    tree.select_id(cursor)
    await settle(app, pilot)
    _no_blink(app)


def test_runs_screen(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """Datasets, both runs, and the summary passes and hierarchy of the first run."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot.app, pilot)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_tree_with_detail(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """The hierarchy opened two levels down; the detail of cluster 2 beside it."""
    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=_explorer)


def test_tree_small_terminal(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """The same tree at 80x24: bars, shares, counts and titles still fit."""
    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SMALL, run_before=_explorer)


def test_tree_with_hostile_titles(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """Cluster 5's title and description carry markup and ESC codes: shown literally."""

    async def run_before(pilot: Any) -> None:
        await _explorer(pilot, expand=(2_000_001, 1_000_002), cursor=5)

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)


def test_live_search(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """A keyword search for "python": results beside the tree, hits counted on its nodes."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        screen = app.screen
        screen.search_defaults["mode"] = "keyword"
        await pilot.press("slash", *"python")
        await wait_for(app, pilot, lambda: screen.search_panel.hits_for == "python")
        screen.query_one("#tree", ClusterTree).nodes_by_id[2_000_000].expand()
        await settle(app, pilot)
        _no_blink(app)

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)


def test_query_drill_down(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """The members of cluster 5, closest first; the long one clipped, hostile ones inert."""

    async def run_before(pilot: Any) -> None:
        await _explorer(pilot, expand=(2_000_001, 1_000_002), cursor=5)
        await pilot.press("v")
        await settle(pilot.app, pilot)

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)


def test_query_in_full(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """One query whole: the 1,200-word text wrapped, never clipped, with its metadata."""

    async def run_before(pilot: Any) -> None:
        await _explorer(pilot, expand=(2_000_001, 1_000_002), cursor=5)
        await pilot.press("v")
        await settle(pilot.app, pilot)
        pilot.app.screen.query_one("#queries").move_cursor(row=2)
        await pilot.press("enter")
        await settle(pilot.app, pilot)

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    gate = threading.Event()
    yield gate
    gate.set()


def test_pipeline_screen(
    fx: tui_store.FixtureStore, snap_compare: Any, release: threading.Event
) -> None:
    """Two jobs on a fixed clock: a finished export and a running fake stage at 40% (a real
    stage cannot be held at 40%; this one blocks until the test ends or it is cancelled)."""
    clock = FixedClock(1000.0)
    step = threading.Event()

    def fake(progress: Any, cancelled: Any) -> None:
        progress(10, 100, "embed: 10 of 100 texts")
        step.wait(10)
        # the job host keeps one progress message per PROGRESS_INTERVAL of a phase: a report
        # sooner than that after the first would be coalesced away and 40% never shown
        time.sleep(2 * PROGRESS_INTERVAL)
        progress(40, 100, "embed: 40 of 100 texts")
        while not (cancelled() or release.wait(0.01)):
            pass
        raise Cancelled("stopped")

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        done = app.start_job(
            jobspecs.JobSpec(
                "export",
                "Export run",
                "lmsys-tui --headless export",
                lambda p, c: "exported 36 rows",
            )
        )
        await wait_for(app, pilot, lambda: not done.active)
        job = app.start_job(
            jobspecs.JobSpec(
                "embed", "Embed queries", "lmsys-tui --headless embed --db-path queries.db", fake
            )
        )
        await wait_for(app, pilot, lambda: job.done == 10)
        clock.now = 1010.0
        step.set()
        await wait_for(app, pilot, lambda: job.done == 40)
        app.action_pipeline(job.id)
        await settle(app, pilot)
        app.screen.show_form("cluster", algorithm="kmeans", size="40", dataset="support-chats")
        app.clear_notifications()  # toasts expire on the wall clock: keep them out of the shot
        await settle(app, pilot)
        _no_blink(app)

    assert snap_compare(_app(clock=clock), terminal_size=SIZE, run_before=run_before)


def test_help_screen(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """F1 over the explorer: registry actions with headless commands, then the screen's keys."""

    async def run_before(pilot: Any) -> None:
        await _explorer(pilot)
        await pilot.press("f1")
        await settle(pilot.app, pilot)

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)


def test_delete_confirmation(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """x on a summary pass: the dialog says exactly what goes with it."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(app, pilot)
        app.screen.query_one("#runs").focus()
        await settle(app, pilot)
        passes = app.screen.query_one("#passes")
        passes.focus()
        passes.move_cursor(row=1)
        await pilot.press("x")
        await settle(app, pilot)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_jump_to_cluster_picker(fx: tui_store.FixtureStore, snap_compare: Any) -> None:
    """ "Jump: to cluster…" filtered by what was typed."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await _explorer(pilot)
        app.invoke("inspect")
        await settle(app, pilot)
        await pilot.press(*"and")
        await settle(app, pilot)
        _no_blink(app)
        assert app.screen.query_one(OptionList).option_count == 7

    assert snap_compare(_app(run_id=RUN_ID), terminal_size=SIZE, run_before=run_before)
