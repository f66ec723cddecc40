"""Messages that workers post: results and failures travel up, never widget calls.

Workers run in threads and must not touch widgets; they post one of these and a handler on the
App or a screen turns it into state. Progress coalesces: a queued `JobProgress` is dropped when a
newer one for the same job arrives, so a chatty stage can never flood the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from lmsys_tui.tui.jobs import phase_of
from lmsys_tui.tui.overview import StoreOverview


@dataclass
class StoreRead(Message):
    """The store was read: datasets, runs and counts as of now."""

    overview: StoreOverview


@dataclass
class JobProgress(Message):
    """A pipeline job moved on (done of total, with what it is doing now)."""

    job_id: int
    done: int
    total: int | None
    note: str

    @property
    def phase(self) -> str:
        return phase_of(self.note)

    def can_replace(self, message: Message) -> bool:
        """Textual calls this on the queued (older) message with the newer one: a newer
        report of the same job and phase makes this one obsolete. The last report of a phase
        is kept, so the job log still sees every phase go by."""
        return (
            isinstance(message, JobProgress)
            and message.job_id == self.job_id
            and message.phase == self.phase
        )


@dataclass
class JobEnded(Message):
    """A pipeline job finished, was cancelled, or failed (the one-line reason in `message`)."""

    job_id: int
    status: str  # done | cancelled | failed
    message: str
    result: dict[str, Any] = field(default_factory=dict)
