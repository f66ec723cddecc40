"""The runs screen: what the store holds (datasets, clustering runs), the TUI's home.

It watches the App's `overview` and `store_error` and redraws from them, so a refresh started
anywhere (a key, the palette, a finished job) updates it. Below the runs it lists the summary
passes and hierarchies of the highlighted run (read by a small worker). Enter opens a run, a
pass or a hierarchy in the explorer; `x` deletes one after a confirmation that says exactly
what goes with it. Every value from the store is shown through `inert()`, and dates are the
stored ones (no clock on screen).

Over 450 lines (~480) on purpose: one screen, its four tables and the actions on their rows share
the cursor state; split, each half would need the other's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Label, Static
from textual.worker import get_current_worker

from lmsys_tui.actions import by_id
from lmsys_tui.core.read import runs as read_runs
from lmsys_tui.tui.overview import StoreOverview
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.text import inert, plain

PIPELINE_KEY = "p"
# Each table's columns, (heading, key); a heading starting with ">" is a number, right-aligned.
COLUMNS = {
    "datasets": (("Label", "label"), ("Source", "source"), (">Queries", "queries"),
                 ("Status", "status"), ("Updated (UTC)", "updated")),
    "runs": (("Run", "run"), ("Algorithm", "algorithm"), (">k", "k"), ("Dataset", "dataset"),
             ("Embedding model", "embedding"), (">Dim", "dim"), ("Status", "status"),
             ("Created (UTC)", "created")),
    "passes": (("Summary pass", "pass"), ("Alias", "alias"), ("Model", "model"),
               (">Titled", "titled"), ("Status", "status")),
    "hierarchies": (("Hierarchy", "hierarchy"), (">Levels", "levels"), (">Nodes", "nodes"),
                    ("Status", "status")),
}  # fmt: skip


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


class RunsScreen(LmsysScreen):
    SUB_TITLE = "Runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "open", tooltip="Open the highlighted run, pass or hierarchy."),
        # the App's own `p`, shown here: the home screen is where a new user looks for it
        Binding(
            PIPELINE_KEY,
            "app.pipeline",
            "pipeline",
            tooltip="Pipeline jobs: load data, run any stage, watch and cancel.",
        ),
    ]

    @dataclass
    class RunChildren(Message):
        run_id: str
        passes: list[dict[str, Any]]
        hierarchies: list[dict[str, Any]]
        spend: str = ""  # LLM spend per stage, from the ledger

    @dataclass
    class DeletePlanned(Message):
        plan: Any

    def __init__(self, select_run: str | None = None, *, lazy: bool = False) -> None:
        super().__init__()
        self.select_run = select_run
        self.children_of: str | None = None
        self.lazy = lazy
        """Build the widgets when first shown (`--run-id` starts on a tree above this screen:
        its tables would only delay the tree's first paint)."""
        self.built = False
        self._passed_over = False

    def compose(self) -> ComposeResult:
        if not self.lazy:
            yield from self._widgets()

    def _widgets(self) -> list[Any]:
        return [
            Header(),
            Vertical(
                Static(id="store-line"),
                Label("Datasets", classes="section"),
                DataTable(id="datasets", cursor_type="row", zebra_stripes=True),
                Static(self._datasets_hint(), id="datasets-empty", classes="empty"),
                Label("Clustering runs", classes="section"),
                DataTable(id="runs", cursor_type="row", zebra_stripes=True),
                Static(self._runs_hint(), id="runs-empty", classes="empty"),
                Label(
                    "Summary passes and hierarchies of the highlighted run",
                    id="children-heading",
                    classes="section",
                ),
                Horizontal(
                    DataTable(id="passes", cursor_type="row", zebra_stripes=True),
                    DataTable(id="hierarchies", cursor_type="row", zebra_stripes=True),
                    id="run-children",
                ),
                id="runs-body",
            ),
            Footer(),
        ]

    def on_mount(self) -> None:
        if not self.lazy:
            self._set_up()

    async def on_screen_resume(self) -> None:
        if self.built:
            return
        if self.lazy and not self._passed_over:
            self._passed_over = True  # the start-up resume: the tree is pushed over us now
            return
        await self.mount_all(self._widgets())
        self._set_up()

    def _set_up(self) -> None:
        self.built = True
        for table_id, columns in COLUMNS.items():
            table = self.query_one(f"#{table_id}", DataTable)
            for heading, key in columns:
                number = heading.startswith(">")
                table.add_column(Text(heading[1:], justify="right") if number else heading, key=key)
        self.add_class("-loading")
        self.watch(self.app, "overview", self._show_overview, init=True)
        self.watch(self.app, "store_error", self._show_error, init=True)
        self.watch(self.app, "data_version", lambda _v: self._read_children(force=True), init=False)

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
        self.query_one("#store-line", Static).update(self.store_line(overview))
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
        self._read_children(force=True)

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
    def store_line(overview: StoreOverview) -> Text:
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
        return Text.assemble(
            "No datasets yet. Press ",
            (str(by_id("demo").key), "bold"),
            " to build the demo store from the packaged ShareGPT sample (offline: load, embed,"
            " k-means, summaries, hierarchy), or ",
            (PIPELINE_KEY, "bold"),
            " for the pipeline screen to load your own data and run each stage.",
        )

    @staticmethod
    def _runs_hint() -> Text:
        return Text.assemble(
            "No clustering runs yet. A run appears here once a dataset is embedded and clustered:"
            " press ",
            (str(by_id("cluster-kmeans").key), "bold"),
            " for k-means (it embeds what is missing first) or ",
            (PIPELINE_KEY, "bold"),
            " for every stage.",
        )

    # -- actions (reached through App.invoke) -----------------------------------------------

    def do_datasets(self) -> None:
        if self.built:
            self.query_one("#datasets", DataTable).focus()

    def do_runs(self) -> None:
        """Show runs, re-reading the store (the `r` key doubles as refresh)."""
        self.lmsys.refresh_store()
        if self.built:
            self.query_one("#runs", DataTable).focus()

    # -- the highlighted run's passes and hierarchies --------------------------------------------

    def selected_run(self) -> str | None:
        if not self.built:
            return self.select_run
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "runs":
            self._read_children()

    def _read_children(self, force: bool = False) -> None:
        run_id = self.selected_run()
        if run_id is None:
            self.children_of = None
            self.set_class(True, "-no-children")
            return
        if run_id != self.children_of or force:
            self.children_of = run_id
            self.read_children(run_id)

    @work(thread=True, exclusive=True, group="runs-children", exit_on_error=False)
    def read_children(self, run_id: str) -> None:
        from lmsys_tui.core.llm.budget import spend_by_stage, spend_line

        passes, hierarchies = read_runs.run_children(self.lmsys.settings.db, run_id)
        spend = spend_line(spend_by_stage(self.lmsys.settings.db, run_id))
        if not get_current_worker().is_cancelled:
            self.post_message(self.RunChildren(run_id, passes, hierarchies, spend))

    def on_runs_screen_run_children(self, message: RunChildren) -> None:
        if message.run_id != self.children_of:
            return
        self.set_class(False, "-no-children")
        self.query_one("#children-heading", Label).update(
            inert(
                f"Summary passes and hierarchies of {message.run_id}"
                + (f" · LLM spend: {message.spend}" if message.spend else "")
            )
        )
        self._fill(
            self.query_one("#passes", DataTable),
            (
                (
                    str(p["summary_run_id"]),
                    (
                        inert(p["summary_run_id"], 40),
                        inert(p["alias"] or "", 16),
                        inert(p["model"], 28),
                        _count(p["titled"]),
                        inert(p["status"], 10),
                    ),
                )
                for p in message.passes
            ),
        )
        self._fill(
            self.query_one("#hierarchies", DataTable),
            (
                (
                    str(h["hierarchy_run_id"]),
                    (
                        inert(h["hierarchy_run_id"], 44),
                        _count(h["levels"]),
                        _count(h["nodes"]),
                        inert(h["status"], 10),
                    ),
                )
                for h in message.hierarchies
            ),
        )

    # -- open and delete ------------------------------------------------------------------------

    def _focused_item(self) -> tuple[str, str] | None:
        """(kind, id) of the row under the cursor of the focused table, for open and delete."""
        focused = self.focused
        kinds = {"runs": "run", "passes": "summary", "hierarchies": "hierarchy"}
        if not isinstance(focused, DataTable) or focused.id not in kinds or not focused.row_count:
            return None
        key = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
        return (kinds[focused.id], str(key)) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id in ("runs", "passes", "hierarchies"):
            self.action_open()

    def action_open(self) -> None:
        item = self._focused_item()
        run_id = self.selected_run()
        if item is None or run_id is None:
            return
        kind, ident = item
        if kind == "run":
            self.lmsys.open_run(ident)
        elif kind == "summary":
            self.lmsys.open_run(run_id, summary_run_id=ident)
        else:
            self.lmsys.open_run(run_id, hierarchy_run_id=ident)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return self._focused_item() is not None
        return True

    def do_delete(self) -> None:
        item = self._focused_item()
        if item is None:
            self.notify("Put the cursor on a run, summary pass or hierarchy first.", markup=False)
            return
        self.plan_delete(*item)

    @work(thread=True, exclusive=True, group="runs-delete-plan", exit_on_error=False)
    def plan_delete(self, kind: str, ident: str) -> None:
        from lmsys_tui.core.delete import plan_delete

        self.post_message(self.DeletePlanned(plan_delete(self.lmsys.settings.db, ident, kind)))

    def on_runs_screen_delete_planned(self, message: DeletePlanned) -> None:
        from lmsys_tui.tui import jobspecs
        from lmsys_tui.tui.screens.confirm import ConfirmScreen

        plan = message.plan
        running = [j for j in self.lmsys.jobs.values() if j.active]
        question = plan.describe()
        if plan.status == "running":
            question += "\n\nIt is marked running: deleting is refused while a stage writes it."
        if running:
            question += f"\n\n{len(running)} job(s) are running in this session."
        rows = ", ".join(f"{t} {n:,}" for t, n in plan.rows.items())
        question += f"\n\nRows: {rows}\n\nThis cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self.lmsys.start_job(jobspecs.delete(self.lmsys.settings, plan.id, plan.kind))

        self.app.push_screen(ConfirmScreen(f"Delete {plan.kind} {plan.id}?", question), answered)

    def do_clear(self) -> None:
        from lmsys_tui.core.store.embeddings import embeddings_path
        from lmsys_tui.tui.screens.confirm import ConfirmScreen

        settings = self.lmsys.settings

        def answered(yes: bool | None) -> None:
            if yes:
                from lmsys_tui.tui import jobspecs

                self.lmsys.start_job(jobspecs.clear(settings))

        self.app.push_screen(
            ConfirmScreen(
                "Clear the store?",
                f"Delete {settings.db}, {embeddings_path(settings.db)} and {settings.chroma}:"
                " every dataset, run, summary, hierarchy and stored vector. This cannot be"
                " undone.",
                yes="Clear",
            ),
            answered,
        )

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        item = self._focused_item()
        if action_id == "delete" and item is not None:
            return "delete", [item[1], "--kind", item[0]]
        if action_id is None and item is not None and item[0] == "run":
            return "list-clusters", [item[1]]
        if action_id is None and item is not None and item[0] == "hierarchy":
            return "show-hierarchy", [item[1]]
        if action_id is None and item is not None:
            run_id = self.selected_run() or ""
            return "list-clusters", [run_id, "--summary-run-id", item[1]]
        if action_id is None:
            return "runs", []
        return None

    def do_status(self) -> None:
        overview = self.lmsys.overview
        if overview is None:
            return
        self.notify(
            plain(self.store_line(overview).plain, one_line=False),
            title="Store status",
            markup=False,
        )
