"""F1 help: every action of the registry with its key, what it does and its headless command.

Generated from `ACTIONS`, so a new action shows up here without anyone editing this screen;
the few keys that are not actions (escape, the palette) are listed after them.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from lmsys_tui.actions import ACTIONS, Action, headless_command
from lmsys_tui.tui.text import inert

NAVIGATION = (
    ("ctrl+p", "Open: command palette", "Search every action by name."),
    ("escape", "Back", "Close this screen or dialog."),
)


def _key(action: Action) -> str:
    if not action.tui:
        return "headless"
    return action.key or "palette"


def help_rows() -> list[tuple[str, str, str, str, str]]:
    """(row id, key, title, help, headless command): every action, then the navigation keys."""
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
    rows.extend((f"key:{key}", key, title, text, "") for key, title, text in NAVIGATION)
    return rows


class HelpScreen(ModalScreen[None]):
    # A modal screen stops the App's non-priority bindings, so it carries its own "back".
    BINDINGS = [Binding("escape", "dismiss", "back", tooltip="Close help.")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        with Vertical(id="help-panel"):
            yield Label("Keys and actions", id="help-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                Text("Every action also runs headless: lmsys-tui --headless --help"),
                id="help-footnote",
            )

    def on_mount(self) -> None:
        table = self.query_one("#help-table", DataTable)
        table.add_column("Key", key="key")
        table.add_column("Action", key="action")
        table.add_column("What it does · headless command", key="help")
        for row_id, key, title, text, command in help_rows():
            about = inert(text, one_line=False)
            if command:
                about.append_text(Text("\n")).append_text(inert(f"$ {command}", style="italic"))
            table.add_row(inert(key, style="bold"), inert(title), about, key=row_id, height=None)
        table.focus()
