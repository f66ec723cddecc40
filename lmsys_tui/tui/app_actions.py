"""The App's navigation and the actions of the registry it performs itself.

`LmsysApp` builds on this class. Every key, palette entry and help row ends in
`invoke(action_id)`, which runs the first `do_<id>` found on the active screen, then here; the
pipeline stages open their form, the pickers and the compare screen are pushed from here, and
`c` tells the headless command of what is on screen (`headless_line`, with this session's
--db-path). The screens are imported when first opened, so the App starts cheap.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from lmsys_tui.actions import Action, by_id, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.tui.jobhost import JobHost
from lmsys_tui.tui.screens.help import HelpScreen
from lmsys_tui.tui.screens.runs import RunsScreen
from lmsys_tui.tui.text import plain

if TYPE_CHECKING:
    from typing import Unpack

    from lmsys_tui.core.read.runs import ViewChoice
    from lmsys_tui.tui.overview import StoreOverview


class AppActions(JobHost):
    settings: Settings  # set by LmsysApp
    overview: StoreOverview | None  # LmsysApp's reactive: the store as last read

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

    def headless_line(self, action_id: str, args: Iterable[str] = ()) -> str | None:
        """The full shell command for an action, with this session's --db-path if it has one."""
        extra = list(args)
        if self.settings.db_path is not None:
            extra += ["--db-path", str(self.settings.db_path)]
        return headless_command(by_id(action_id), *(shlex.quote(a) for a in extra))

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
