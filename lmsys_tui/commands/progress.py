"""Running headless stages: a Rich bar on stderr when it is a terminal (else quiet), and the
store opened around the stage; a reading command's check that its store exists."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lmsys_tui.errors import NotFoundError
from lmsys_tui.stage import Progress, no_progress

if TYPE_CHECKING:
    from lmsys_tui.config import Settings
    from lmsys_tui.core.store.db import Store

T = TypeVar("T")


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


def _missing(db: Path) -> NotFoundError:
    return NotFoundError(f"no store at {db}; run load first")


def existing_store(
    db_path: Path | None, chroma_path: Path | None = None, *, default_may_be_missing: bool = False
) -> Settings:
    """The settings of the store a command reads: a missing one is NotFoundError (exit 3).

    With `default_may_be_missing`, only a --db-path that names no file is an error (a listing
    of the default store shows nothing before the first load).
    """
    from lmsys_tui.config import load_settings

    settings = load_settings(db_path, chroma_path)
    if not settings.db.exists() and not (default_may_be_missing and db_path is None):
        raise _missing(settings.db)
    return settings


def run_on_store(
    db: Path, label: str, stage: Callable[[Store, Progress], T], *, create: bool = True
) -> T:
    """Open the store at `db`, run `stage(store, progress)` with the bar on stderr, close it.

    Without `create`, a missing store is NotFoundError: a stage that reads the store's queries
    says to load first instead of creating an empty store.
    """
    from lmsys_tui.core.store.db import open_store

    if not create and not db.exists():
        raise _missing(db)
    store = open_store(db, create=create)
    try:
        with stderr_progress(label) as progress:
            return stage(store, progress)
    finally:
        store.close()
