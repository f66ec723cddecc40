"""A run's curation as a table: its audit log (or one cluster's history), its orphaned
queries, or the clusters to review. ctrl+z here undoes the newest edit and the log follows.

Read in a thread worker through the same core reads as `edit audit / history / orphaned /
select-bad-clusters`; every cell is inert text (titles and reasons are user input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.screens.edit_runner import EditRunner
from lmsys_tui.tui.text import inert

COLUMNS: dict[str, tuple[str, ...]] = {
    "audit": ("edit", "time", "type", "cluster", "editor", "reason", "undone by"),
    "orphaned": ("query", "was in", "reason", "text"),
    "review": ("cluster", "title", "size", "languages", "quality", "coherence", "flags", "why"),
}


def _cells(kind: str, r: dict[str, Any]) -> tuple[Any, ...]:
    if kind == "audit":
        return (r["edit_id"], str(r["timestamp"])[:19], r["edit_type"], r["cluster_id"],
                r["editor"], r["reason"], r["undone_by"])  # fmt: skip
    if kind == "orphaned":
        return (r["query_id"], r["original_cluster_id"], r["reason"], r["query_text"])
    flags, why = ",".join(r["flags"]), "; ".join(r["reasons"])
    return (r["cluster_id"], r["title"] or "(no summary)", r["size"], r["languages"],
            r["quality"], r["coherence"], flags, why)  # fmt: skip


class AuditScreen(EditRunner, LmsysScreen):
    SUB_TITLE = "Curation"
    BINDINGS: ClassVar[list[BindingType]] = []

    @dataclass
    class Read(Message):
        rows: list[dict[str, Any]]

    def __init__(self, run_id: str, *, cluster_id: int | None = None, kind: str = "audit") -> None:
        super().__init__()
        self.run_id, self.cluster_id, self.kind = run_id, cluster_id, kind
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(self._title(), id="audit-title")
            yield DataTable(id="audit", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def _title(self) -> Text:
        what = {
            "audit": "Audit log",
            "orphaned": "Orphaned queries",
            "review": "Clusters to review",
        }
        title = f"{what[self.kind]} of run {self.run_id}"
        if self.cluster_id is not None:
            title = f"History of cluster {self.cluster_id} in run {self.run_id}"
        return inert(title, style="bold")

    def on_mount(self) -> None:
        table = self.query_one("#audit", DataTable)
        for col in COLUMNS[self.kind]:
            table.add_column(col, key=col)
        self.read()
        table.focus()

    @work(thread=True, exclusive=True, group="audit-read", exit_on_error=False)
    def read(self) -> None:
        from lmsys_tui.core.curate import reads

        db = self.lmsys.settings.db
        if self.kind == "orphaned":
            found = reads.orphaned(db, self.run_id)
        elif self.kind == "review":
            found = reads.select_bad_clusters(db, self.run_id)
        elif self.cluster_id is not None:
            found = reads.history(db, self.run_id, self.cluster_id)
        else:
            found = reads.audit(db, self.run_id)
        self.post_message(self.Read(found))

    def on_audit_screen_read(self, message: Read) -> None:
        self.rows = message.rows
        n = len(message.rows)
        count = {"audit": "edit", "orphaned": "query", "review": "cluster"}[self.kind]
        plural = "queries" if count == "query" else count + "s"
        line = self._title()
        line.append(f" · {n:,} {count if n == 1 else plural}", style="not bold")
        if self.kind == "audit" and self.cluster_id is None and n:
            line.append(" · ctrl+z undoes the newest", style="not bold")
        self.query_one("#audit-title", Static).update(line)
        table = self.query_one("#audit", DataTable)
        table.clear()
        for r in message.rows:
            table.add_row(*(inert("" if v is None else str(v), 200) for v in _cells(self.kind, r)))

    def edited(self, result: Any) -> None:
        self.read()

    def do_edit_undo(self) -> None:
        from lmsys_tui.core.curate.undo import undo

        db, run = self.lmsys.settings.db, self.run_id
        self.run_edit(lambda ch: undo(db, run_id=run, chroma=ch))

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        if self.kind == "orphaned":
            return "edit-orphaned", [self.run_id]
        if self.kind == "review":
            return "edit-select-bad-clusters", [self.run_id]
        if self.cluster_id is not None:
            return "edit-history", [self.run_id, "--cluster-id", str(self.cluster_id)]
        return "edit-audit", [self.run_id]
