"""One query, whole: its full first turn (escaped, wrapped, never clipped) and its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Static

from lmsys_tui.core.read.detail import query_detail
from lmsys_tui.core.read.runs import View
from lmsys_tui.tui.screens.base import LmsysModal
from lmsys_tui.tui.text import inert

FIELDS = (
    ("query_id", "query id"),
    ("dataset", "dataset"),
    ("conversation_id", "conversation"),
    ("model", "model"),
    ("language", "language"),
    ("turn_count", "turns"),
    ("redacted", "redacted"),
    ("moderation_flagged", "flagged"),
    ("timestamp", "timestamp"),
    ("cluster_id", "cluster"),
    ("distance", "distance"),
    ("confidence", "confidence"),
)


def _value(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in ("redacted", "moderation_flagged"):
        return "yes" if value else "no"
    if key in ("distance", "confidence"):
        return f"{float(value):.4f}"
    return str(value)


class QueryScreen(LmsysModal):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "back", tooltip="Close this query."),
    ]

    @dataclass
    class Read(Message):
        query: dict[str, Any]

    def __init__(self, view: View, query_id: int) -> None:
        super().__init__()
        self.view = view
        self.query_id = query_id
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="query-panel"):
            yield Label(f"Query {self.query_id}", id="query-heading")
            yield Static(id="query-meta")
            with VerticalScroll(id="query-scroll"):
                yield Static(Text("Reading…"), id="query-text")

    def on_mount(self) -> None:
        self.read()
        self.query_one("#query-scroll").focus()

    @work(thread=True, exclusive=True, group="query-read", exit_on_error=False)
    def read(self) -> None:
        self.post_message(self.Read(query_detail(self.view.db, self.query_id, self.view.run_id)))

    def on_query_screen_read(self, message: Read) -> None:
        q = self.record = message.query
        meta = Table.grid(padding=(0, 2))
        meta.add_column(style="bold")
        meta.add_column()
        meta.add_column(style="bold")
        meta.add_column()
        cells = [(label, inert(_value(key, q.get(key)), 60)) for key, label in FIELDS if key in q]
        for i in range(0, len(cells), 2):
            left = cells[i]
            right = cells[i + 1] if i + 1 < len(cells) else ("", Text(""))
            meta.add_row(left[0], left[1], right[0], right[1])
        self.query_one("#query-meta", Static).update(meta)
        chars = len(q["query_text"] or "")
        self.query_one("#query-heading", Label).update(
            inert(f"Query {q['query_id']} · {chars:,} characters")
        )
        self.query_one("#query-text", Static).update(inert(q["query_text"], one_line=False))

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        args = ["--run-id", self.view.run_id]
        if self.record is not None and self.record.get("cluster_id") is not None:
            args += ["--cluster-id", str(self.record["cluster_id"])]
        return "list", [*args, "--after-id", str(self.query_id - 1), "--limit", "1"]
