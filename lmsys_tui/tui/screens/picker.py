"""A filterable list to pick one thing from: "open run…" and "jump to cluster…".

The options are plain values handed in by the caller (the runs of the store overview, the nodes
of the explorer's index); typing filters them by substring, enter picks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from lmsys_tui.tui.screens.base import LmsysModal
from lmsys_tui.tui.text import inert, plain
from lmsys_tui.tui.widgets.bars import percent

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp

MAX_OPTIONS = 500
OPEN_RUN = "Open: run…"
JUMP = "Jump: to cluster…"


class PickerScreen(LmsysModal):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "back"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, title: str, options: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-panel"):
            yield Label(self.title_text, id="picker-title")
            yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#picker-filter", Input).focus()

    def _fill(self, text: str) -> None:
        needle = text.casefold().strip()
        options = self.query_one("#picker-options", OptionList)
        options.clear_options()
        shown = [
            Option(inert(label), id=str(i))
            for i, (label, _) in enumerate(self.options)
            if needle in label.casefold()
        ][:MAX_OPTIONS]
        options.add_options(shown)
        if shown:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.highlighted is not None:
            self._pick(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option.id)

    def _pick(self, option_id: str | None) -> None:
        if option_id is not None:
            self.dismiss(self.options[int(option_id)][1])

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))


def run_options(app: LmsysApp) -> list[tuple[str, str]]:
    overview = app.overview
    if overview is None:
        return []
    return [
        (
            plain(
                f"{r['run_id']} · {r['algorithm']} · {r['num_clusters'] or '?'} clusters"
                f" · {r['status']}",
                120,
            ),
            str(r["run_id"]),
        )
        for r in overview.runs
    ]


def pick_run(app: LmsysApp) -> None:
    def chosen(run_id: str | None) -> None:
        if run_id:
            app.open_run(run_id)

    options = run_options(app)
    if not options:
        app.notify("No clustering runs in the store yet.", markup=False)
        return
    app.push_screen(PickerScreen(OPEN_RUN, options), chosen)


def cluster_options(explorer: Any) -> list[tuple[str, int]]:
    index = explorer.index or {}
    rows = sorted(index.values(), key=lambda r: (-r.level, -r.count, r.node_id))
    return [
        (
            plain(
                f"{r.title} · {'cluster' if r.is_cluster else f'level {r.level}'} {r.node_id}"
                f" · {r.count:,} ({percent(r.share)})",
                140,
            ),
            r.node_id,
        )
        for r in rows
    ]


def jump(app: LmsysApp, explorer: Any, node_id: int) -> None:
    """Back to `explorer` (screens above it are closed) and to its node `node_id`."""
    while app.screen is not explorer and len(app.screen_stack) > 1:
        app.pop_screen()
    explorer.jump_to(node_id)


def pick_cluster(app: LmsysApp, explorer: Any) -> None:
    def chosen(node_id: int | None) -> None:
        if node_id is not None:
            jump(app, explorer, node_id)

    options = cluster_options(explorer)
    if not options:
        app.notify("The run's clusters are still being read; try again.", markup=False)
        return
    app.push_screen(PickerScreen(JUMP, options), chosen)


__all__ = [
    "JUMP",
    "OPEN_RUN",
    "PickerScreen",
    "cluster_options",
    "jump",
    "pick_cluster",
    "pick_run",
    "run_options",
]
