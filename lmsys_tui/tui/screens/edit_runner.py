"""What every screen that edits shares: the edit worker, its message, the dialogs it asks with.

`run_edit` runs a core curation call (the same as `lmsys-tui --headless edit …`) in a thread
worker and posts `EditDone`; the screen says what happened and re-reads (`edited`), and so does
the explorer below it. A core error becomes the App's one-line notification; nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message

from lmsys_tui.tui.text import plain

if TYPE_CHECKING:
    from lmsys_tui.core.curate.frame import Chroma, EditResult

EditCall = Callable[["Chroma"], "EditResult"]


class EditRunner:
    """The worker and message every screen that edits shares."""

    lmsys: Any
    app: Any

    @dataclass
    class EditDone(Message):
        result: Any  # core.curate.frame.EditResult

    @work(thread=True, group="edit", exit_on_error=False)
    def run_edit(self, call: EditCall) -> None:
        from lmsys_tui.core.curate.frame import Chroma

        settings = self.lmsys.settings
        self.post_message(EditRunner.EditDone(call(Chroma(settings.chroma))))  # type: ignore[attr-defined]

    def on_edit_runner_edit_done(self, message: EditDone) -> None:
        result = message.result
        text = f"edit {result.edit_id}: {result.message}"
        if result.chroma.get("status") == "failed":
            text += f" (Chroma not updated: run {result.chroma['repair']})"
        self.app.notify(plain(text, 200), title="Edited", markup=False)
        self.edited(result)
        explorer = self.lmsys.explorer()
        if explorer is not None and explorer is not self:
            explorer.edited(result)

    def edited(self, result: Any) -> None:
        """What the screen re-reads after an edit (a subclass overrides it)."""

    def ask(
        self, title: str, fields: list[tuple[str, str, str]], then: Callable[[dict], None]
    ) -> None:
        from lmsys_tui.tui.screens.edit_prompt import PromptScreen

        def answered(values: dict[str, str] | None) -> None:
            if values is not None:
                then(values)

        self.app.push_screen(PromptScreen(title, fields), answered)

    def pick_cluster(self, title: str, but: set[int], then: Callable[[int], None]) -> None:
        """A cluster of the open run (not in `but`) from the filterable picker."""
        from lmsys_tui.tui.screens.picker import PickerScreen, cluster_options

        explorer = self.lmsys.explorer()
        index = (explorer.index or {}) if explorer is not None else {}
        options = [
            (label, node) for label, node in cluster_options(explorer)
            if node in index and index[node].is_cluster and node not in but
        ] if explorer is not None else []  # fmt: skip
        if not options:
            self.app.notify("No other cluster to choose (or still reading).", markup=False)
            return

        def chosen(node_id: int | None) -> None:
            if node_id is not None:
                then(int(node_id))

        self.app.push_screen(PickerScreen(title, options), chosen)
