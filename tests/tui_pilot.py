"""Helpers for driving the real App with Pilot: build it, let its workers finish, read it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static
from textual.worker import WorkerCancelled, WorkerFailed, WorkerState

from lmsys_tui.config import Settings
from lmsys_tui.tui.app import LmsysApp
from lmsys_tui.tui.jobhost import JOB_GROUP

SIZE = (120, 40)


class FixedClock:
    """A clock the test moves by hand: ETAs and elapsed times become deterministic."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(db: Path, **kw: Any) -> LmsysApp:
    app = LmsysApp(Settings(db_path=db), **kw)
    app.animation_level = "none"
    return app


def _readers(app: LmsysApp) -> list[Any]:
    """Every worker but pipeline jobs (a test may keep a job running on purpose)."""
    return [w for w in app.workers if w.group != JOB_GROUP]


def _busy(app: LmsysApp) -> bool:
    if getattr(app.screen, "detail_pending", False):
        return True  # a detail read is about to start (the explorer's short delay)
    return any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in _readers(app))


async def settle(app: LmsysApp, pilot: Any, rounds: int = 20) -> None:
    """Wait until no reading worker runs and the messages they posted are handled.

    Pipeline jobs are not waited for (use `wait_for` on the job). `wait_for_complete`
    re-raises a worker's error if it catches the worker before the manager drops it; tests
    that expect a failure assert on what the App made of it.
    """
    for _ in range(rounds):
        readers = _readers(app)
        if readers:  # (an empty list would mean "every worker" to wait_for_complete)
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await app.workers.wait_for_complete(readers)
        await pilot.pause(0.05 if getattr(app.screen, "detail_pending", False) else None)
        if not _busy(app):
            await pilot.pause()
            if not _busy(app):
                return


async def wait_for(app: LmsysApp, pilot: Any, predicate: Any, rounds: int = 200) -> None:
    """Pause until `predicate()` holds (state, never a wall-clock sleep)."""
    for _ in range(rounds):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


def cells(table: DataTable[Any], column: int) -> list[str]:
    out = []
    for i in range(table.row_count):
        cell = table.get_row_at(i)[column]
        out.append(cell.plain if isinstance(cell, Text) else str(cell))
    return out


def static_text(widget: Static, width: int = 200) -> str:
    """The plain text a Static holds (a Text as is; other renderables rendered at `width`)."""
    content = widget.content
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    import io

    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(content)
    return console.export_text()


def screen_text(app: LmsysApp) -> str:
    """What the terminal shows, as plain text lines (from the real compositor)."""
    import re
    from html import unescape

    svg = app.export_screenshot()
    lines: dict[int, list[tuple[float, str]]] = {}
    for m in re.finditer(
        r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+"'
        r' clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>',
        svg,
    ):
        x, line, text = m.groups()
        lines.setdefault(int(line), []).append((float(x), unescape(text).replace("\xa0", " ")))
    rows = []
    for line in sorted(lines):
        row = ""
        for x, text in sorted(lines[line]):
            col = round(x / 12.2)
            row = row.ljust(col)[:col] + text
        rows.append(row.rstrip())
    return "\n".join(rows)
