"""Pipeline jobs: what the App runs in worker threads, and what the pipeline screen lists.

A job wraps one core stage call `fn(progress, cancelled)`. Its state (progress, log, status)
lives on the UI thread and changes only in the App's message handlers; the worker thread reads
nothing but the cancel flag (a `threading.Event`, safe to share). Times come from the App's
clock so snapshot tests can pin them.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lmsys_tui.stage import CancelCheck, Progress

JobFn = Callable[[Progress, CancelCheck], Any]
"""A stage call: returns a one-line message (str), a result object with `.message`/`.to_dict()`,
or None. Raises `Cancelled` when it stops early; any other exception is a failure."""

ACTIVE = ("queued", "running")
_NUMBER = re.compile(r"\d[\d.,]*")
MAX_LOG = 500


@dataclass
class Job:
    id: int
    kind: str  # load | cluster | summarize | merge | export | demo | delete …
    title: str
    command: str  # the equivalent `lmsys-tui --headless …` line
    started: float
    status: str = "running"
    done: int = 0
    total: int | None = None
    note: str = ""
    finished: float | None = None
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    # where the rate (for the ETA) is measured from: the start of the current phase
    _phase: str = ""
    _phase_started: float = 0.0
    _phase_done: int = 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def elapsed(self, now: float) -> float:
        return (self.finished if self.finished is not None else now) - self.started

    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def eta(self, now: float) -> float | None:
        """Seconds left at the current phase's rate; None when unknown."""
        if not self.active or not self.total or self.done <= self._phase_done:
            return None
        spent = now - self._phase_started
        if spent <= 0:
            return None
        rate = (self.done - self._phase_done) / spent
        return max(0.0, (self.total - self.done) / rate) if rate > 0 else None

    def add_log(self, now: float, line: str) -> None:
        self.log.append(f"{fmt_seconds(now - self.started):>7}  {line}")
        del self.log[:-MAX_LOG]

    def update(self, now: float, done: int, total: int | None, note: str) -> None:
        """Apply a progress report; a new phase is logged and resets the ETA.

        The phase is the note's prefix before ":", with its numbers masked: "61.2 texts/s"
        and "63.0 texts/s" are one phase (logging every rate filled the log and re-laid out
        the screen on each batch), "k-means epoch 2/30" continues "epoch 1/30".
        """
        phase = phase_of(note)
        if phase != self._phase or (total != self.total and done < self.done):
            self._phase, self._phase_started, self._phase_done = phase, now, done
            if note:
                self.add_log(now, note)
        self.done, self.total, self.note = done, total, note


def phase_of(note: str) -> str:
    """The stage a progress note belongs to: its text up to the first colon, numbers masked."""
    return _NUMBER.sub("#", note.split(":", 1)[0]) if note else ""


def fmt_seconds(seconds: float | None) -> str:
    """`1:02:03`, `2:03` or `0:07`: short, fixed format (no locale, no "ago")."""
    if seconds is None:
        return "–"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def result_fields(value: Any) -> tuple[str, dict[str, Any]]:
    """(one-line message, JSON-able dict) of whatever a stage returned."""
    if value is None:
        return "done", {}
    if isinstance(value, str):
        return value, {}
    data = value.to_dict() if hasattr(value, "to_dict") else {}
    message = getattr(value, "message", "") or data.get("message") or "done"
    return str(message), data


JOB_NICENESS = 10


def run_in_background() -> None:
    """Lower the calling (job) thread's CPU priority; threads it starts inherit it.

    On a 2-core machine a stage's model threads take every core, and the event loop, which
    needs a few ms per frame, waited behind them. At nice +10 the loop is scheduled first and
    the job still gets every cycle the loop leaves. Linux sets niceness per thread; elsewhere
    (or if refused) the priority stays. ONNX sessions made from here on also stop spin-waiting
    between batches (`onnx_runtime.share_cpu`).
    """
    from lmsys_tui.core.embed.onnx_runtime import share_cpu

    share_cpu()  # model threads sleep between batches instead of spinning
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + JOB_NICENESS)
