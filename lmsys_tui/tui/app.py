"""The Textual app: the TUI front door over the same core the headless commands use.

Shape (what later screens plug into): workers run on the App, call core code and post messages
(`tui.messages`); the App's handlers turn them into reactive state that screens watch; one
`Worker.StateChanged` handler turns any worker failure into a notification and `store_error`.
Keys, palette entries and help rows all come from `lmsys_tui.actions.ACTIONS` and all end in
`invoke(action_id)`, which runs the first `do_<id>` found on the active screen, then the App.

Start stays cheap: no SQLAlchemy, no model; the store is read through the stdlib-sqlite3 reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from lmsys_tui.actions import Action, by_id, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.errors import LmsysError
from lmsys_tui.tui.commands import ActionsProvider
from lmsys_tui.tui.keys import action_bindings
from lmsys_tui.tui.messages import StoreRead
from lmsys_tui.tui.overview import StoreOverview, read_overview
from lmsys_tui.tui.screens.help import HelpScreen
from lmsys_tui.tui.screens.runs import RunsScreen
from lmsys_tui.tui.styles import stylesheets
from lmsys_tui.tui.text import plain

STORE_GROUP = "store-read"


def describe_error(error: BaseException | None) -> str:
    """One line for the user: our errors carry their message, others get their type."""
    if error is None:
        return "unknown error"
    if isinstance(error, LmsysError):
        return plain(error.message, 300)
    return plain(f"{type(error).__name__}: {error}", 300)


class LmsysApp(App[None], inherit_bindings=False):
    TITLE = "lmsys-tui"
    CSS_PATH = stylesheets()
    # Not inherited: Textual's own ctrl+q would sort first in the footer; the registry's
    # quit replaces it, and ctrl+c keeps its "press ctrl+q to quit" hint.
    BINDINGS: ClassVar[list[BindingType]] = [
        *action_bindings(),
        Binding("escape", "back", "back", tooltip="Close this screen."),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]
    COMMANDS = App.COMMANDS | {ActionsProvider}

    overview: reactive[StoreOverview | None] = reactive(None, init=False, always_update=True)
    """The store as last read; screens watch it (data flows down). Every read is announced,
    even an unchanged one, so a screen that showed an error in between redraws."""
    store_error: reactive[str | None] = reactive(None, init=False)
    """Why the store could not be read, as one line; None once a read succeeds."""

    def __init__(self, settings: Settings, *, run_id: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.run_id = run_id
        self.theme = "textual-dark"

    def get_default_screen(self) -> Screen[Any]:
        return RunsScreen(select_run=self.run_id)

    def on_mount(self) -> None:
        self.refresh_store()

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

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes visible: a notification, never a crash."""
        if event.state != WorkerState.ERROR:
            return
        text = describe_error(event.worker.error)
        if event.worker.group == STORE_GROUP:
            self.store_error = text
        self.notify(text, title="Error", severity="error", timeout=10, markup=False)

    # -- actions from the registry ----------------------------------------------------------

    def handler_for(self, action_id: str, screen: Screen[Any] | None = None) -> Callable | None:
        """The `do_<id>` method that performs an action here: the screen's first, then ours."""
        name = f"do_{action_id}"
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
        return True

    def show_headless(self, action: Action, *args: str) -> None:
        """Tell (and copy) the shell command that does `action`, for work the TUI cannot do yet."""
        command = headless_command(action, *args)
        if command is None:
            return
        self.copy_to_clipboard(command)
        self.notify(command, title=f"{action.title} (copied)", timeout=10, markup=False)

    def do_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen())

    def do_quit(self) -> None:
        self.exit()

    def do_load(self) -> None:
        self.show_headless(by_id("load"), "--source", "sharegpt", "--limit", "5000")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own entries, minus those the registry already offers."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def run_app(settings: Settings, run_id: str | None = None) -> None:
    LmsysApp(settings, run_id=run_id).run()
