"""What a job spec is and how a builder in `jobspecs` makes one: its command line from the
options' `to_argv()` plus the session's store paths, and its function, which opens the store in
the worker thread (never on the UI thread) and closes it after the stage.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmsys_tui.actions import by_id, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.core.options import Options, RunArg, argv
from lmsys_tui.stage import CancelCheck, Progress
from lmsys_tui.tui.jobs import JobFn

StoreCall = Callable[[Any, Progress, CancelCheck], Any]


@dataclass(frozen=True)
class JobSpec:
    kind: str
    title: str
    command: str  # the equivalent headless command line, quoted for a shell
    fn: JobFn
    action: str = ""  # the action whose headless command `argv` is the arguments of
    argv: tuple[str, ...] = ()
    options: tuple[Options, ...] = ()  # what the form built; `argv` is their to_argv()


def make_spec(
    settings: Settings,
    action: str,
    kind: str,
    title: str,
    options: tuple[Options, ...],
    fn: JobFn,
    *,
    chroma: bool = False,
) -> JobSpec:
    """A spec whose command line is the options' arguments plus the session's store paths."""
    args = argv(*options)
    if chroma and settings.chroma_path is not None:
        args += ["--chroma-path", str(settings.chroma_path)]
    if settings.db_path is not None:
        args += ["--db-path", str(settings.db_path)]
    command = headless_command(by_id(action), *(shlex.quote(a) for a in args)) or ""
    return JobSpec(kind, title, command, fn, action, tuple(args), options)


def with_store(settings: Settings, call: StoreCall) -> JobFn:
    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.store.db import open_store

        store = open_store(settings.db)
        try:
            return call(store, progress, cancelled)
        finally:
            store.close()

    return fn


def on_run(
    settings: Settings,
    action: str,
    kind: str,
    verb: str,
    run_id: Any,
    options: type[Options],
    values: dict[str, Any],
    stage: Callable[[], Callable[..., Any]],
) -> JobSpec:
    """A stage over one run with one options object: `stage()` imports and returns its core
    function, `stage(store, run_id, opts, progress=, cancelled=)`, in the worker."""
    run = RunArg.from_form({"run_id": run_id})
    opts = options.from_form(values)

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        return stage()(store, run.run_id, opts, progress=progress, cancelled=cancelled)

    fn = with_store(settings, call)
    return make_spec(settings, action, kind, f"{verb} {run.run_id}", (run, opts), fn)
