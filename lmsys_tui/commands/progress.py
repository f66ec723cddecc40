"""Progress for headless stages: a Rich bar on stderr when it is a terminal, else quiet."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from lmsys_tui.stage import Progress, no_progress


@contextmanager
def stderr_progress(label: str) -> Iterator[Progress]:
    if not sys.stderr.isatty():
        yield no_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    from lmsys_tui.commands.output import stderr_console

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None, note="")

        def update(done: int, total: int | None, note: str = "") -> None:
            bar.update(task, completed=done, total=total, note=note)

        yield update
