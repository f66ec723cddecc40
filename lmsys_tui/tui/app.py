"""The Textual app: the TUI front door over the same core the headless commands use.

Shape: workers call core code and post messages (`tui.messages`); handlers turn them into state
that screens watch (`overview`, `store_error`, `data_version`). Every worker failure, from the
App or from a screen (screens forward theirs), reaches `worker_changed`: a notification, never a
crash. Pipeline jobs run on the App, so they outlive the screen that started them: the App
is a `JobHost` (tui/jobhost.py), which runs them and bumps `data_version` when one ends, so
every screen showing the store re-reads it.

Keys, palette entries and help rows all come from `lmsys_tui.actions.ACTIONS` and all end in
`invoke(action_id)`, which runs the first `do_<id>` found on the active screen, then the App.
Start stays cheap: no SQLAlchemy, no model; the store is read through the stdlib reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from lmsys_tui.actions import Action, by_id, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.tui.commands import ActionsProvider, NavigationProvider
from lmsys_tui.tui.heap import freeze_after_imports
from lmsys_tui.tui.jobhost import JobHost
from lmsys_tui.tui.jobs import Job
from lmsys_tui.tui.keys import action_bindings
from lmsys_tui.tui.messages import StoreRead
from lmsys_tui.tui.overview import StoreOverview, read_overview
from lmsys_tui.tui.screens.help import HelpScreen
from lmsys_tui.tui.screens.runs import RunsScreen
from lmsys_tui.tui.styles import stylesheets
from lmsys_tui.tui.text import describe_error, plain

if TYPE_CHECKING:
    from typing import Unpack

    from lmsys_tui.core.read.runs import ViewChoice

STORE_GROUP = "store-read"


class LmsysApp(JobHost, inherit_bindings=False):
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

    # -- navigation -------------------------------------------------------------------------

    def home(self) -> RunsScreen:
        """Back to the runs screen (the bottom of the stack)."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, RunsScreen):
            self.pop_screen()
        return self.screen  # type: ignore[return-value]

    def open_run(self, run_id: str, **choice: Unpack[ViewChoice]) -> None:
        from lmsys_tui.tui.screens.explorer import ExplorerScreen

        self.home()
        self.push_screen(ExplorerScreen(run_id, **choice))

    def explorer(self) -> Any:
        """The explorer screen in the stack (the nearest), if any."""
        from lmsys_tui.tui.screens.explorer import ExplorerScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, ExplorerScreen):
                return screen
        return None

    def action_pipeline(self, job_id: int | None = None) -> None:
        from lmsys_tui.tui.screens.pipeline import PipelineScreen

        if isinstance(self.screen, PipelineScreen):
            if job_id is not None:
                self.screen.select_job(job_id)
            return
        self.push_screen(PipelineScreen(select_job=job_id))

    def open_form(self, form: str, **values: Any) -> None:
        """The pipeline screen with one stage's form in front, fields prefilled."""
        from lmsys_tui.tui.screens.pipeline import PipelineScreen

        if isinstance(self.screen, PipelineScreen):
            self.screen.show_form(form, **values)
        else:
            self.push_screen(PipelineScreen(form=form, values=values))

    def current_run(self) -> str | None:
        """The run the user is looking at: the explorer's, else the runs screen's cursor."""
        explorer = self.explorer()
        if explorer is not None:
            return explorer.run_id
        for screen in reversed(self.screen_stack):
            if isinstance(screen, RunsScreen):
                return screen.selected_run()
        return None

    # -- actions from the registry ----------------------------------------------------------

    def handler_for(self, action_id: str, screen: Screen[Any] | None = None) -> Callable | None:
        """The `do_<id>` method that performs an action here: the screen's first, then ours."""
        name = "do_" + action_id.replace("-", "_")
        return getattr(screen or self.screen, name, None) or getattr(self, name, None)

    def invoke(self, action_id: str) -> None:
        handler = self.handler_for(action_id)
        if handler is not None:
            handler()

    def action_invoke(self, action_id: str) -> None:
        self.invoke(action_id)

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

    def headless_line(self, action_id: str, args: Iterable[str] = ()) -> str | None:
        """The full shell command for an action, with this session's --db-path if it has one."""
        extra = list(args)
        if self.settings.db_path is not None:
            extra += ["--db-path", str(self.settings.db_path)]
        return headless_command(by_id(action_id), *(_quote(a) for a in extra))

    def show_headless(self, action: Action, *args: str) -> str | None:
        """Tell (and copy) the shell command that does `action`."""
        command = self.headless_line(action.id, args)
        if command is None:
            return None
        self.copy_to_clipboard(command)
        self.notify(command, title=f"{action.title} (copied)", timeout=10, markup=False)
        return command

    def _screen_command(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        headless = getattr(self.screen, "headless", None)
        return headless(action_id) if headless is not None else None

    def action_copy_command(self, action_id: str | None = None) -> str | None:
        found = self._screen_command(action_id)
        if found is None:
            if action_id is None:
                return None
            found = (action_id, [])
        return self.show_headless(by_id(found[0]), *found[1])

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def do_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.screen))

    def do_quit(self) -> None:
        self.exit()

    def do_runs(self) -> None:
        screen = self.home()
        screen.do_runs()

    def do_status(self) -> None:
        overview = self.overview
        if overview is None:
            return
        self.notify(
            plain(RunsScreen.store_line(overview).plain), title="Store status", markup=False
        )

    def do_load(self) -> None:
        self.open_form("load")

    def do_embed(self) -> None:
        self.open_form("embed")

    def do_cluster_kmeans(self) -> None:
        self.open_form("cluster", algorithm="kmeans")

    def do_cluster_hdbscan(self) -> None:
        self.open_form("cluster", algorithm="hdbscan")

    def do_summarize(self) -> None:
        self.open_form("summarize", run_id=self.current_run())

    def do_merge_clusters(self) -> None:
        self.open_form("merge", run_id=self.current_run())

    def do_export(self) -> None:
        self.open_form("export", run_id=self.current_run())

    def do_demo(self) -> None:
        self.open_form("demo")

    def do_run_pipeline(self) -> None:
        self.open_form("run")

    def do_verify_sync(self) -> None:
        self.open_form("chroma", task="verify", run_id=self.current_run())

    def do_backfill_chroma(self) -> None:
        self.open_form("chroma", task="backfill")

    def do_chroma_info(self) -> None:
        self.open_form("chroma", task="info")

    def do_list_clusters(self) -> None:
        """Open a run: the picker of every run in the store."""
        from lmsys_tui.tui.screens.picker import pick_run

        pick_run(self)

    def do_inspect(self) -> None:
        """Jump to a cluster of the open run: the picker of its nodes."""
        from lmsys_tui.tui.screens.picker import pick_cluster

        explorer = self.explorer()
        if explorer is None:
            self.notify("Open a run first (enter on a run).", markup=False)
            return
        pick_cluster(self, explorer)

    def do_show_hierarchy(self) -> None:
        run_id = self.current_run()
        if run_id is None:
            self.notify("No run selected.", markup=False)
            return
        self.open_run(run_id)

    def do_compare(self) -> None:
        """Compare the current run with another one, picked from the store's runs."""
        from lmsys_tui.tui.screens.compare import CompareScreen
        from lmsys_tui.tui.screens.picker import PickerScreen, run_options

        run_a = self.current_run()
        options = [o for o in run_options(self) if o[1] != run_a]
        if run_a is None or not options:
            self.notify("Comparing needs a selected run and another one.", markup=False)
            return

        def chosen(run_b: str | None) -> None:
            if run_b:
                self.push_screen(CompareScreen(run_a, run_b))

        self.push_screen(PickerScreen(f"Compare {run_a} with…", options), chosen)

    def do_cluster_assign(self) -> None:
        """Attach a dataset's queries to the current run: pick the dataset, watch the job."""
        from lmsys_tui.tui import jobspecs
        from lmsys_tui.tui.screens.picker import PickerScreen

        run_id = self.current_run()
        datasets = [str(d["label"]) for d in (self.overview.datasets if self.overview else [])]
        if run_id is None or not datasets:
            self.notify("Assigning needs a selected run and a loaded dataset.", markup=False)
            return

        def chosen(dataset: str | None) -> None:
            if dataset:
                job = self.start_job(jobspecs.assign(self.settings, run_id=run_id, dataset=dataset))
                self.action_pipeline(job.id)

        options = [(d, d) for d in datasets]
        self.push_screen(PickerScreen(f"Assign to {run_id} the queries of…", options), chosen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own entries, minus those the registry already offers."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def run_app(settings: Settings, run_id: str | None = None, demo_limit: int | None = None) -> None:
    LmsysApp(settings, run_id=run_id, demo_limit=demo_limit).run()
