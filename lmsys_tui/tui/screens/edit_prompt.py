"""A few labelled one-line fields, prefilled: the rename, tag and flag dialogs of curation.

Enter in the last field answers with the values by name (as typed; the core checks them and
a bad value comes back as a one-line notification), escape answers None (nothing changes).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label

from lmsys_tui.tui.screens.base import LmsysModal
from lmsys_tui.tui.text import inert

Field = tuple[str, str, str]  # name, label, initial value


class PromptScreen(LmsysModal):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "cancel")]

    def __init__(self, title: str, fields: list[Field]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-panel"):
            yield Label(inert(self.title_text), id="prompt-heading")
            for name, label, value in self.fields:
                yield Label(inert(label), classes="prompt-label")
                yield Input(value=value, id=f"field-{name}", select_on_focus=True)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if event.input is not inputs[-1]:
            inputs[inputs.index(event.input) + 1].focus()
            return
        self.dismiss({name: self.query_one(f"#field-{name}", Input).value
                      for name, _, _ in self.fields})  # fmt: skip
