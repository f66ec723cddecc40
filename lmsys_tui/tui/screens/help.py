"""F1 help: every action of the registry with its key, what it does and its headless command.

Generated from `ACTIONS`, so a new action shows up here without anyone editing this screen;
the keys of the screen underneath (sort, paging, …) and the few App keys that are not actions
(escape, the palette, jobs, copy command) follow. Enter on an action copies its headless
command, filled in from what the screen underneath shows when it can be.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Label, Static

from lmsys_tui.actions import ACTIONS, Action, headless_command
from lmsys_tui.tui.text import inert

NAVIGATION = (
    (
        "ctrl+p",
        "Open: command palette",
        "Search every action by name, open a run, jump to a cluster.",
    ),
    ("p", "Show: pipeline jobs", "Start stages, watch progress and ETA, read logs, cancel."),
    (
        "c",
        "Copy: headless command",
        "Copy the lmsys-tui --headless line for what this screen shows.",
    ),
    ("escape", "Back", "Close this screen or dialog."),
)


def _key(action: Action) -> str:
    if not action.tui:
        return "headless"
    return action.key or "palette"


def screen_rows(screen: Screen[Any] | None) -> list[tuple[str, str, str, str, str]]:
    """The keys the screen underneath adds (its own BINDINGS, shown or not)."""
    if screen is None:
        return []
    rows = []
    for binding in getattr(type(screen), "BINDINGS", []):
        if not isinstance(binding, Binding) or not binding.description:
            continue
        if binding.action.startswith("app."):  # an App key the screen only shows: listed below
            continue
        key = binding.key_display or binding.key.split(",")[0]
        about = binding.tooltip or binding.description
        rows.append((f"screen:{key}", key, binding.description.capitalize(), about, ""))
    return rows


def help_rows(screen: Screen[Any] | None = None) -> list[tuple[str, str, str, str, str]]:
    """(row id, key, title, help, headless command): every action, the keys of the screen
    underneath, then the navigation keys."""
    rows = [
        (
            action.id,
            _key(action),
            action.title,
            action.help,
            headless_command(action) or "",
        )
        for action in ACTIONS
    ]
    rows.extend(screen_rows(screen))
    rows.extend((f"key:{key}", key, title, text, "") for key, title, text in NAVIGATION)
    return rows


class HelpScreen(ModalScreen[None]):
    # A modal screen stops the App's non-priority bindings, so it carries its own "back".
    BINDINGS = [Binding("escape", "dismiss", "back", tooltip="Close help.")]  # noqa: RUF012

    def __init__(self, under: Screen[Any] | None = None) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with Vertical(id="help-panel"):
            yield Label("Keys and actions", id="help-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                Text(
                    "Enter copies the action's headless command. "
                    "Every action also runs headless: lmsys-tui --headless --help"
                ),
                id="help-footnote",
            )

    def on_mount(self) -> None:
        table = self.query_one("#help-table", DataTable)
        table.add_column("Key", key="key")
        table.add_column("Action", key="action")
        # a fixed width, so long help wraps (rows are as tall as they need) instead of scrolling
        width = max(40, min(self.app.size.width, 140) - 60)
        table.add_column("What it does · headless command", key="help", width=width)
        for row_id, key, title, text, command in help_rows(self.under):
            about = inert(text, one_line=False)
            if command:
                about.append_text(Text("\n")).append_text(inert(f"$ {command}", style="italic"))
            table.add_row(inert(key, style="bold"), inert(title), about, key=row_id, height=None)
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Copy the headless command of the chosen action, in the context underneath."""
        from lmsys_tui.actions import by_id

        action_id = event.row_key.value
        if action_id is None or ":" in action_id or by_id(action_id).command is None:
            return
        app: Any = self.app
        found = None
        headless = getattr(self.under, "headless", None)
        if headless is not None:
            found = headless(action_id)
        args = found[1] if found is not None and found[0] == action_id else []
        app.show_headless(by_id(action_id), *args)
