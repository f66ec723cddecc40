"""Query drill-down: the members of one node, a page at a time, keyset-paged from the store.

The table never holds more than one page (`PAGE` rows): `]` reads the next page from the last
row's key, `[` goes back to a key remembered on the way. Sorting (closest to the centroid first,
farthest first, by id) starts again at page one. The query column takes the width the other
columns leave, and follows the terminal's. Enter opens a query whole, escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from lmsys_tui.core.read.members import QueryPage, query_page
from lmsys_tui.core.read.runs import View
from lmsys_tui.core.read.tree import NodeRow, leaf_clusters
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.screens.editing import QueriesEditing
from lmsys_tui.tui.text import inert, plain

PAGE = 100
LANGUAGE_WIDTH = 10  # "Portuguese", "Indonesian"
MODEL_WIDTH = 16  # "llama-2-13b-chat", "claude-instant-1"
COLUMNS = (
    (Text("#", justify="right"), "n", 7),
    (Text("Distance", justify="right"), "distance", 8),
    ("Language", "language", LANGUAGE_WIDTH),
    ("Model", "model", MODEL_WIDTH),
)  # then the query, as wide as the rest of the table
SCROLLBAR = 2
MIN_TEXT = 30
ORDER_LABEL = {
    "distance": "closest to the centroid first",
    "-distance": "farthest from the centroid first",
    "id": "in load order (query id)",
}
NEXT_ORDER = {"distance": "-distance", "-distance": "id", "id": "distance"}


def _distance(value: Any) -> Text:
    return Text("" if value is None else f"{float(value):.3f}", justify="right")


class QueriesScreen(QueriesEditing, LmsysScreen):
    SUB_TITLE = "Queries"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket,pagedown", "next_page", "next page", key_display="]"),
        Binding("left_square_bracket,pageup", "previous_page", "prev page", key_display="["),
        Binding("t", "toggle_order", "order", tooltip="Closest first, farthest first, by id."),
        Binding("space", "toggle_mark", "mark", tooltip="Mark a query (to move or split off)."),
    ]

    @dataclass
    class PageRead(Message):
        page: QueryPage
        number: int

    def __init__(self, view: View, row: NodeRow) -> None:
        super().__init__()
        self.view = view
        self.row = row
        self.order = "distance"
        self.cluster_ids: list[int] | None = None
        self.pages: list[tuple[Any, ...] | None] = [None]  # keyset start of each page seen
        self.number = 0
        self.page: QueryPage | None = None
        self._filled_width = 0  # the query column's width when the table was last filled
        self.marked: set[int] = set()  # query ids marked with space (curation, editing.py)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="queries-body"):
            yield Static(self._title(), id="queries-title")
            yield Static(id="queries-status")
            yield DataTable(id="queries", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def _title(self) -> Text:
        kind = "cluster" if self.row.is_cluster else f"level {self.row.level} node"
        return inert(f"{plain(self.row.title, 100)} · {kind} {self.row.node_id}", style="bold")

    def on_mount(self) -> None:
        self._status("Reading…")
        self.fetch(None, 0)
        self.query_one("#queries", DataTable).focus()

    @property
    def text_width(self) -> int:
        """What the fixed columns, their padding and the scrollbar leave of the table."""
        table = self.query_one("#queries", DataTable)
        width = table.size.width or self.app.size.width - 2  # (before the first layout)
        fixed = sum(w for _, _, w in COLUMNS) + 2 * (len(COLUMNS) + 1) + SCROLLBAR
        return max(MIN_TEXT, width - fixed)

    def on_resize(self) -> None:
        """The query column takes whatever width the terminal gives the table."""
        if self.page is not None and self.text_width != self._filled_width:
            self._fill()

    def _status(self, text: str) -> None:
        self.query_one("#queries-status", Static).update(Text(text))

    def fetch(self, after: tuple[Any, ...] | None, number: int) -> None:
        """One cluster's page is a single index range scan (a few ms at any depth): read it
        at once, so the table fills in the same frame. A node over many clusters merges a
        scan per cluster: that goes to a worker."""
        if self.row.is_cluster or self.row.level == 0:
            self.cluster_ids = [self.row.node_id]
            self.workers.cancel_group(self, "queries-page")
            page = query_page(
                self.view, self.cluster_ids, order=self.order, after=after, limit=PAGE, width=400
            )
            self.show_page(page, number)
        else:
            self.read_page(after, number)

    @work(thread=True, exclusive=True, group="queries-page", exit_on_error=False)
    def read_page(self, after: tuple[Any, ...] | None, number: int) -> None:
        worker = get_current_worker()
        if self.cluster_ids is None:
            self.cluster_ids = leaf_clusters(self.view, self.row.node_id, self.row.level)
        page = query_page(
            self.view,
            self.cluster_ids,
            order=self.order,
            after=after,
            limit=PAGE,
            width=400,
            cancelled=lambda: worker.is_cancelled,
        )
        if not worker.is_cancelled:
            self.post_message(self.PageRead(page, number))

    def on_queries_screen_page_read(self, message: PageRead) -> None:
        self.show_page(message.page, message.number)

    def _fill(self) -> None:
        """(Re)build the table from the page shown, its query column as wide as there is room;
        the cursor stays on its row."""
        page, table = self.page, self.query_one("#queries", DataTable)
        assert page is not None
        cursor = table.cursor_row
        width = self._filled_width = self.text_width
        table.clear(columns=True)
        for label, key, column_width in COLUMNS:
            table.add_column(label, key=key, width=column_width)
        table.add_column("Query", key="query", width=width)
        first = self.number * PAGE
        for i, r in enumerate(page.rows):
            table.add_row(
                self._number(first + i + 1, int(r["query_id"])),
                _distance(r["distance"]),
                inert(r["language"] or "", LANGUAGE_WIDTH),
                inert(r["model"] or "", MODEL_WIDTH),
                inert(r["text"], width),
                key=str(r["query_id"]),
            )
        table.move_cursor(row=min(cursor, max(0, len(page.rows) - 1)), animate=False)

    def show_page(self, page: QueryPage, number: int) -> None:
        self.page, self.number = page, number
        del self.pages[number + 1 :]
        self.pages.append(page.next_after)
        self._fill()
        self.query_one("#queries", DataTable).move_cursor(row=0, animate=False)
        first = number * PAGE
        if page.rows:
            last = first + len(page.rows)
            more = "" if page.next_after is None else " · ] next page"
            back = " · [ previous page" if number else ""
            self._status(
                f"rows {first + 1:,}–{last:,} of {self.row.count:,} · "
                f"{ORDER_LABEL[self.order]}{more}{back}"
            )
        else:
            self._status(f"no queries · {ORDER_LABEL[self.order]}")

    # -- keys ---------------------------------------------------------------------------------

    def action_next_page(self) -> None:
        if self.page is None or self.page.next_after is None:
            return
        self.fetch(self.page.next_after, self.number + 1)

    def action_previous_page(self) -> None:
        if self.number == 0:
            return
        self.fetch(self.pages[self.number - 1], self.number - 1)

    def action_toggle_order(self) -> None:
        self.order = NEXT_ORDER[self.order]
        self.pages, self.page = [None], None
        self._status("Reading…")
        self.fetch(None, 0)

    def _number(self, n: int, query_id: int) -> Text:
        return Text(f"{'● ' if query_id in self.marked else ''}{n:,}", justify="right")

    def action_toggle_mark(self) -> None:
        """Mark (or unmark) the cursor's query and step down."""
        table = self.query_one("#queries", DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        qid = int(str(key.value))
        self.marked ^= {qid}
        row = table.cursor_row
        table.update_cell(key, "n", self._number(self.number * PAGE + row + 1, qid))
        table.move_cursor(row=min(row + 1, table.row_count - 1), animate=False)
        self._status(f"{len(self.marked):,} marked · o: move to a cluster · n: split off")

    def refetch(self) -> None:
        """Read the page again from the start (after an edit changed the members)."""
        self.pages, self.page = [None], None
        self.fetch(None, 0)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from lmsys_tui.tui.screens.query import QueryScreen

        if event.row_key.value is not None:
            self.app.push_screen(QueryScreen(self.view, int(event.row_key.value)))

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        return "list", list_args(self.view, self.row, self.order, PAGE)


def list_args(view: View, row: NodeRow, order: str, limit: int) -> list[str]:
    """The `list` arguments that page exactly the queries of `row` in `order`, `limit` a page:
    a cluster by `--cluster-id`, a hierarchy node by `--node` in the view's hierarchy."""
    if row.is_cluster:
        args = ["--run-id", view.run_id, "--cluster-id", str(row.node_id)]
    else:
        assert view.hierarchy_run_id is not None  # only a hierarchy has nodes above clusters
        args = ["--run-id", view.run_id, "--node", str(row.node_id)]
        args += ["--hierarchy-id", view.hierarchy_run_id]
    if order != "id":
        args += ["--order", order]
    return [*args, "--limit", str(limit)]
