"""The facet pivot beside the tree: the cells whose lift survives the correction, by lift.

Attributes down, messages up: the screen reads the pivot (`core.insights.lift.pivot`) in a
worker and calls `show`; the widget says which facet it wants next (`FacetWanted`) and which
node the analyst chose (`NodeChosen`, the screen opens it in the tree). Only the flagged cells
are rows (a few dozen), never the whole nodes x values pivot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from lmsys_tui.tui.text import inert

FACETS = ("model", "language", "dataset", "redacted", "flagged")
# lift and value first: the panel is narrow, the node's title is in the tree beside it
COLUMNS = ("lift", "value", "95% CI", "q", "count", "share", "run", "node", "title")


class Pivot(Vertical, can_focus=False):
    DEFAULT_CSS = """
    Pivot { height: 50%; background: $panel; border-left: vkey $primary-muted; }
    Pivot:focus-within { border-left: vkey $primary; }
    Pivot #pivot-status { height: 1; padding: 0 1; color: $text-muted; }
    Pivot #pivot-table { height: 1fr; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "next_facet", "facet", tooltip="Pivot by the next facet."),
        Binding("o", "flip_order", "order", tooltip="Highest lift first, or lowest first."),
    ]

    @dataclass
    class FacetWanted(Message):
        by: str

    @dataclass
    class NodeChosen(Message):
        node_id: int

    @dataclass
    class ValueHighlighted(Message):
        """The cursor is on a cell of `value`: the tree badges its nodes by their lift."""

        value: str
        badges: dict[int, str]

    def __init__(self, by: str = FACETS[0], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by = by
        self.highest_first = True
        self.data: dict[str, Any] | None = None
        self.node_ids: list[int] = []
        self.values: list[str] = []  # the value of each row

    def compose(self) -> ComposeResult:
        yield Static(id="pivot-status")
        table: DataTable[Any] = DataTable(id="pivot-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#pivot-table", DataTable)

    def show_message(self, text: str) -> None:
        self.query_one("#pivot-status", Static).update(Text(text))

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        self._fill()

    def _fill(self) -> None:
        data = self.data
        if data is None:
            return
        cells = sorted(data["significant"], key=lambda c: c["lift"], reverse=self.highest_first)
        where = f"level {data['level']}" if data["level"] else "clusters"
        self.show_message(
            f"{data['by']} over {where}: {len(cells)} of {data['tests']} cells significant"
            f" (BH q <= {data['alpha']:g}) · b facet · o order · enter open"
        )
        self.table.clear()
        self.node_ids = [int(c["node_id"]) for c in cells]
        self.values = [str(c["value"]) for c in cells]
        for c in cells:
            cols = (
                f"{c['lift']:.2f}", inert(c["value"], 30), f"{c['ci_low']:.2f}-{c['ci_high']:.2f}",
                f"{c['q_value']:.2g}", c["count"], f"{c['share']:.1%}",
                f"{c['overall_share']:.1%}", c["node_id"], inert(c["title"], 40),
            )  # fmt: skip
            self.table.add_row(*(v if isinstance(v, Text) else Text(str(v)) for v in cols))

    def action_next_facet(self) -> None:
        at = FACETS.index(self.by) + 1 if self.by in FACETS else 0
        self.by = FACETS[at % len(FACETS)]
        self.show_message(f"Reading the {self.by} pivot…")
        self.post_message(self.FacetWanted(self.by))

    def action_flip_order(self) -> None:
        self.highest_first = not self.highest_first
        self._fill()

    def badges(self, value: str) -> dict[int, str]:
        """Each node flagged for `value`: its lift, up or down (escaped by the tree)."""
        cells = (self.data or {}).get("significant", [])
        return {
            int(c["node_id"]): f"{'▲' if c['lift'] > 1 else '▼'}{c['lift']:.1f}× {value}"
            for c in cells
            if c["value"] == value
        }

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.values):
            value = self.values[event.cursor_row]
            self.post_message(self.ValueHighlighted(value, self.badges(value)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.node_ids):
            self.post_message(self.NodeChosen(self.node_ids[event.cursor_row]))
