"""Two runs side by side: their clusters matched by shared members, and what changed.

The diff (`core.insights.compare.compare_runs`) is read in a worker; each row is a change
(merged, split, vanished, new, renamed) or a kept pair, with run A's cluster on the left and run
B's on the right. `a` / `b` open that side's run in the explorer at the row's cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from lmsys_tui.core.insights.compare import CompareOptions, compare_runs
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.text import inert, plain

COLUMNS = ("change", "A", "title in A", "B", "title in B", "overlap")
Row = tuple[str, int | None, str, int | None, str, str]


def diff_rows(diff: dict[str, Any]) -> list[Row]:
    """One line per change, then the kept pairs, largest first."""
    out: list[Row] = []
    for m in diff["merged"]:
        out += [("merged", s["cluster_id"], s["title"], m["into"], m["title"], str(s["overlap"]))
                for s in m["from"]]  # fmt: skip
    for s in diff["split"]:
        out += [("split", s["from"], s["title"], t["cluster_id"], t["title"], str(t["overlap"]))
                for t in s["into"]]  # fmt: skip
    out += [("vanished", v["cluster_id"], v["title"], None, "", "") for v in diff["vanished"]]
    out += [("new", None, "", n["cluster_id"], n["title"], "") for n in diff["new"]]
    renamed = {(r["a"], r["b"]) for r in diff["renamed"]}
    out += [("renamed" if (k["a"], k["b"]) in renamed else "kept", k["a"], k["title_a"], k["b"],
             k["title_b"], f"{k['jaccard']:.0%}") for k in diff["kept"]]  # fmt: skip
    return out


class CompareScreen(LmsysScreen):
    SUB_TITLE = "Compare runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "open_side('a')", "open in A", tooltip="Open run A at this row's cluster."),
        Binding("b", "open_side('b')", "open in B", tooltip="Open run B at this row's cluster."),
    ]

    @dataclass
    class Loaded(Message):
        diff: dict[str, Any]

    def __init__(self, run_a: str, run_b: str) -> None:
        super().__init__()
        self.opts = CompareOptions(run_a=run_a, run_b=run_b)
        self.diff: dict[str, Any] | None = None
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"Comparing {plain(self.opts.run_a, 60)} with "
                          f"{plain(self.opts.run_b, 60)}…"), id="compare-summary")  # fmt: skip
        table: DataTable[Any] = DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#compare-table", DataTable).focus()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        diff = compare_runs(self.lmsys.settings.db, self.opts)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(diff))

    def on_compare_screen_loaded(self, message: Loaded) -> None:
        diff = self.diff = message.diff
        levels = " · ".join(
            f"level {v['level']}: ARI {v['ari']:.3f} NMI {v['nmi']:.3f}" for v in diff["levels"]
        )
        changes = ", ".join(f"{n} {k}" for k, n in diff["changes"].items())
        self.query_one("#compare-summary", Static).update(
            inert(
                f"A {diff['run_a']} -> B {diff['run_b']}: {changes}; "
                f"{diff['moved_share']:.1%} of {diff['queries']['common']:,} queries moved\n"
                f"{levels}",
                one_line=False,
            )
        )
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        self.rows = diff_rows(diff)
        for kind, a, title_a, b, title_b, overlap in self.rows:
            table.add_row(
                Text(kind), Text("" if a is None else str(a)), inert(title_a, 50),
                Text("" if b is None else str(b)), inert(title_b, 50), Text(overlap),
            )  # fmt: skip

    def action_open_side(self, side: str) -> None:
        table = self.query_one("#compare-table", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        row = self.rows[table.cursor_row]
        node = row[1] if side == "a" else row[3]
        if node is None:
            self.notify(f"This cluster is not in run {side.upper()}.", markup=False)
            return
        self.lmsys.open_run(self.opts.run_a if side == "a" else self.opts.run_b, flat=True)
        explorer = self.lmsys.explorer()
        if explorer is not None:
            explorer.pending_jump = node

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        if action_id in (None, "compare"):
            return "compare", self.opts.to_argv()
        return None
