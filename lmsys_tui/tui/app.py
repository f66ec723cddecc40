"""The Textual app: the TUI front door over the same core the headless commands use.

Shape: workers call core code and post messages (`tui.messages`); handlers turn them into state
that screens watch (`overview`, `store_error`, `data_version`). Every worker failure, from the
App or from a screen (screens forward theirs), reaches `worker_changed`: a notification, never a
crash. Pipeline jobs run on the App, so they outlive the screen that started them: the App
is a `JobHost` (tui/jobhost.py), which runs them and bumps `data_version` when one ends, so
every screen showing the store re-reads it.

Keys, palette entries and help rows all come from `lmsys_tui.actions.ACTIONS` and all end in
`invoke(action_id)`, which runs the first `do_<id>` found on the active screen, then the App
(navigation and the App's own `do_<id>` handlers: tui/app_actions.py).
Start stays cheap: no SQLAlchemy, no model; the store is read through the stdlib reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from lmsys_tui.config import Settings
from lmsys_tui.tui.app_actions import AppActions
from lmsys_tui.tui.commands import ActionsProvider, NavigationProvider
from lmsys_tui.tui.heap import freeze_after_imports
from lmsys_tui.tui.jobs import Job
from lmsys_tui.tui.keys import action_bindings
from lmsys_tui.tui.messages import StoreRead
from lmsys_tui.tui.overview import StoreOverview, read_overview
from lmsys_tui.tui.screens.runs import RunsScreen
from lmsys_tui.tui.styles import stylesheets
from lmsys_tui.tui.text import describe_error

STORE_GROUP = "store-read"


class LmsysApp(AppActions, inherit_bindings=False):
    TITLE = "lmsys-tui"
    CSS_PATH = stylesheets()
    # Not inherited: Textual's own ctrl+q would sort first in the footer; the registry's
    # quit replaces it, and ctrl+c keeps its "press ctrl+q to quit" hint.
    BINDINGS: ClassVar[list[BindingType]] = [
        *action_bindings(),
        Binding(
            "p",
            "pipeline",
            "pipeline",
            show=False,
            tooltip="Pipeline jobs: start stages, watch, cancel.",
        ),
        Binding(
            "c",
            "copy_command",
            "command",
            show=False,
            tooltip="Copy the headless command for this view.",
        ),
        Binding("escape", "back", "back", tooltip="Close this screen."),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]
    COMMANDS = App.COMMANDS | {ActionsProvider, NavigationProvider}

    overview: reactive[StoreOverview | None] = reactive(None, init=False, always_update=True)
    """The store as last read; screens watch it (data flows down). Every read is announced,
    even an unchanged one, so a screen that showed an error in between redraws."""
    store_error: reactive[str | None] = reactive(None, init=False)
    """Why the store could not be read, as one line; None once a read succeeds."""

    def __init__(
        self,
        settings: Settings,
        *,
        run_id: str | None = None,
        demo_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.settings = settings
        self.run_id = run_id
        self.demo_limit = demo_limit
        self.demo_job: int | None = None
        self._searcher: Any = None
        self._searcher_lock = threading.Lock()
        self.theme = "textual-dark"

    def get_default_screen(self) -> Screen[Any]:
        starts_on_tree = self.run_id is not None and self.demo_limit is None
        return RunsScreen(select_run=self.run_id, lazy=starts_on_tree)

    def on_mount(self) -> None:
        self.call_after_refresh(freeze_after_imports)
        if self.run_id is not None and self.demo_limit is None:
            self.open_run(self.run_id)
            # the tree paints first; the store overview (under it) is read after that
            self.call_after_refresh(self.refresh_store)
        else:
            self.refresh_store()
        if self.demo_limit is not None:
            from lmsys_tui.tui import jobspecs

            job = self.start_job(jobspecs.demo(self.settings, self.demo_limit))
            self.demo_job = job.id
            self.action_pipeline(job.id)

    def searcher(self) -> Any:
        """The one search core of this session (vectors and model stay loaded between
        searches). Created on first use, from a worker thread."""
        with self._searcher_lock:
            if self._searcher is None:
                from lmsys_tui.core.embed.onnx_runtime import share_cpu
                from lmsys_tui.core.search import Searcher

                share_cpu()  # see run_in_background

                self._searcher = Searcher(
                    self.settings.db, chroma_path=self.settings.chroma, interactive=True
                )
            return self._searcher

    def interrupt_search(self) -> None:
        """Abort the search statement running now, if any (a newer search replaces it)."""
        if self._searcher is not None:
            self._searcher.interrupt()

    def on_unmount(self) -> None:
        """Leaving: running jobs stop at their next check (their committed work is kept),
        so the process does not wait for a long stage to finish on its own."""
        for job in self.jobs.values():
            if job.active:
                job.cancel_event.set()
        if self._searcher is not None:
            self._searcher.close()

    # -- store reads ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group=STORE_GROUP, exit_on_error=False)
    def refresh_store(self) -> None:
        """Read datasets and runs off the UI thread; a newer refresh makes this one stale."""
        overview = read_overview(self.settings.db)
        if not get_current_worker().is_cancelled:
            self.post_message(StoreRead(overview))

    def on_store_read(self, message: StoreRead) -> None:
        self.store_error = None
        self.overview = message.overview

    # -- failures ---------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_changed(event)

    def worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes visible: a notification, never a crash."""
        freeze_after_imports()  # a worker may have loaded a model (see tui/heap.py)
        if event.state != WorkerState.ERROR:
            return
        text = describe_error(event.worker.error)
        if self.job_failed(event.worker, text):
            return
        if event.worker.group == STORE_GROUP:
            self.store_error = text
        self.notify(text, title="Error", severity="error", timeout=10, markup=False)

    def job_ended(self, job: Job) -> None:
        """Re-read the store overview; the demo started by `lmsys-tui demo` opens its run."""
        self.refresh_store()
        if job.status == "done" and job.kind == "demo" and self.demo_job == job.id:
            run_id = job.result.get("run_id")
            if run_id:
                self.open_run(run_id)

    # -- what the footer shows ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide (and disable) keys that do nothing on the current screen."""
        if action == "invoke" and parameters:
            return self.handler_for(str(parameters[0])) is not None
        if action == "back":
            return len(self.screen_stack) > 1
        if action == "pipeline":
            from lmsys_tui.tui.screens.pipeline import PipelineScreen

            return not isinstance(self.screen, PipelineScreen)
        if action == "copy_command":
            return self._screen_command() is not None
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own entries, minus those the registry already offers."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def run_app(settings: Settings, run_id: str | None = None, demo_limit: int | None = None) -> None:
    LmsysApp(settings, run_id=run_id, demo_limit=demo_limit).run()
