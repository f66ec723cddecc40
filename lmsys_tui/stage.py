"""The stage protocol every long core stage follows.

A stage takes `progress(done, total, note)` and `cancelled() -> bool`, checks them between
batches and commits per batch, so the TUI (workers) and the CLI (Rich bar on stderr) drive the
same code, and a cancelled or killed stage leaves a consistent, resumable store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int | None, note: str = "") -> None: ...


CancelCheck = Callable[[], bool]


def no_progress(done: int, total: int | None, note: str = "") -> None:
    """Progress sink for callers that do not report."""


def never_cancelled() -> bool:
    return False
