"""The explorer: a run's cluster tree with the highlighted node's detail beside it, and search.

The screen owns the reads: the tree asks for children (`ClusterTree.ChildrenWanted`), the screen
reads them in a thread worker and hands them back; the detail of the highlighted node is read by
an exclusive worker whose SQL is interrupted when the cursor moves on. The whole node index (a
few hundred rows) is read once per view in the background, for "jump to cluster…" and for
counting search matches on every node above them. Switching the sort, the summary pass or the
hierarchy rebuilds the tree and re-opens what was open.

Live search (`/`) is its own widget (`SearchPanel`, built on first use), hosted by
`SearchHost` (screens/explorer_search.py): matches counted on every node above them, and the
chosen hit's place in the tree opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from lmsys_tui.core.read import runs
from lmsys_tui.core.read.detail import node_detail
from lmsys_tui.core.read.runs import RunOverview, View, ViewChoice
from lmsys_tui.core.read.tree import NodeRow, children, node_index, path_to
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.screens.editing import ExplorerEditing
from lmsys_tui.tui.screens.explorer_search import SearchHost
from lmsys_tui.tui.screens.facet_pivot import PivotHost
from lmsys_tui.tui.screens.queries import PAGE, QueriesScreen, list_args
from lmsys_tui.tui.text import plain
from lmsys_tui.tui.widgets.cluster_detail import ClusterDetail
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree
from lmsys_tui.tui.widgets.evaluation import EvaluationPanel
from lmsys_tui.tui.widgets.view_line import ViewLine

if TYPE_CHECKING:
    from typing import Unpack


class ExplorerScreen(ExplorerEditing, PivotHost, SearchHost, LmsysScreen):
    SUB_TITLE = "Clusters"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_sort", "sort", tooltip="Sort the tree by size or by title."),
        Binding("escape", "close_search", "close search", tooltip="Close the search and its hits."),
        Binding("ctrl+t", "next_target", "queries/clusters", show=False,
                tooltip="Search queries or clusters."),
        Binding("ctrl+o", "next_mode", "mode", show=False,
                tooltip="Search semantic, keyword or hybrid."),
        Binding("z", "zoom_detail", "zoom", show=False,
                tooltip="Show the detail panel alone (z again: back)."),
        Binding("w", "next_pass", "pass", show=False,
                tooltip="Title clusters from the next summary pass."),
    ]  # fmt: skip

    @dataclass
    class Opened(Message):
        """The run was read: first (`again` False: show its view) or again after a job
        changed the store (the view stays; its passes and hierarchies are new)."""

        overview: RunOverview
        again: bool = False

    @dataclass
    class ChildrenLoaded(Message):
        node_id: int | None
        rows: list[NodeRow]
        generation: int

    @dataclass
    class DetailLoaded(Message):
        view: View
        node_id: int
        detail: dict[str, Any]

    @dataclass
    class IndexLoaded(Message):
        view: View
        index: dict[int, NodeRow]

    def __init__(self, run_id: str, **choice: Unpack[ViewChoice]) -> None:
        super().__init__()
        self.run_id = run_id
        self._ask = choice
        self.overview: RunOverview | None = None
        self.view: View | None = None
        self.sort = "size"
        self.index: dict[int, NodeRow] | None = None
        self.searching = False
        self.search_counts: dict[int, int] = {}  # matches per cluster of the search shown
        self.pending_jump: int | None = None  # a node to open once the index is read
        self.search_defaults = {"target": "queries", "mode": "hybrid"}
        """What the search panel starts with (it is built on the first `/`, not at start)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield ViewLine(Text(f"Opening run {plain(self.run_id, 60)}…"), id="view-line")
        with Horizontal(id="explorer-body"):
            yield ClusterTree(id="tree")
            with Vertical(id="side"):
                yield ClusterDetail(id="detail")
        yield Footer()

    @property
    def tree(self) -> ClusterTree:
        return self.query_one("#tree", ClusterTree)

    @property
    def detail(self) -> ClusterDetail:
        return self.query_one("#detail", ClusterDetail)

    def on_mount(self) -> None:
        self.tree.inline_loader = self._small_level
        self.detail.show_message("Reading the run…")
        self.open_run(self._ask)
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.tree.focus()

    # -- reads (threads) ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="explorer-open", exit_on_error=False)
    def open_run(self, choice: ViewChoice, again: bool = False) -> None:
        overview = runs.open_run(self.lmsys.settings.db, self.run_id, **choice)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Opened(overview, again))

    @work(thread=True, group="explorer-children", exit_on_error=False)
    def load_children(self, view: View, node_id: int | None, sort: str, generation: int) -> None:
        rows = children(view, node_id, sort=sort)
        self.post_message(self.ChildrenLoaded(node_id, rows, generation))

    @work(thread=True, exclusive=True, group="explorer-detail", exit_on_error=False)
    def load_detail(self, view: View, row: NodeRow) -> None:
        worker = get_current_worker()
        detail = node_detail(view, row.node_id, row.level, cancelled=lambda: worker.is_cancelled)
        if row.is_cluster:  # curation: its tags, flags and edits (screens/editing.py)
            detail["curation"] = self.curation_of(view, row.node_id)
        if not worker.is_cancelled:
            self.post_message(self.DetailLoaded(view, row.node_id, detail))

    @work(thread=True, exclusive=True, group="explorer-index", exit_on_error=False)
    def load_index(self, view: View) -> None:
        index = node_index(view)
        if not get_current_worker().is_cancelled:
            self.post_message(self.IndexLoaded(view, index))

    # -- results (UI thread) ------------------------------------------------------------------

    def on_explorer_screen_opened(self, message: Opened) -> None:
        self.overview = message.overview
        if message.again:
            self._show_view_line()
        else:
            self._set_view(message.overview.view)

    def _set_view(self, view: View, *, keep_open: bool = False) -> None:
        self.view = view
        self.index = None
        self.detail.wanted_id = None
        if self.search_panel is not None:
            self.search_panel.view = view
        self._show_view_line()
        self.tree.reset_tree(keep_open=keep_open)
        self.load_index(view)

    def on_cluster_tree_children_wanted(self, message: ClusterTree.ChildrenWanted) -> None:
        if self.view is not None:
            self.load_children(self.view, message.node_id, self.sort, message.generation)

    def _small_level(self, node_id: int | None) -> list[NodeRow] | None:
        """The tree's inline loader: a level of at most INLINE_CHILDREN rows (the parent row
        says how many) is one indexed read of ~1 ms, done at once so no frame shows
        "loading…" only to replace it; roots and wide levels go to a worker instead."""
        if self.view is None:
            return None
        return children(self.view, node_id, sort=self.sort)

    def on_explorer_screen_children_loaded(self, message: ChildrenLoaded) -> None:
        self.tree.add_children(message.node_id, message.rows, message.generation)

    def on_cluster_tree_level_loaded(self, message: ClusterTree.LevelLoaded) -> None:
        if message.node_id is None and not self.tree.nodes_by_id:
            self.detail.show_message("This run has no clusters.")

    def on_cluster_tree_cluster_highlighted(self, message: ClusterTree.ClusterHighlighted) -> None:
        if self.view is not None:
            self.detail.want(message.row)

    def on_cluster_detail_wanted(self, message: ClusterDetail.Wanted) -> None:
        if self.view is not None:
            self.load_detail(self.view, message.row)

    @property
    def detail_pending(self) -> bool:
        """A highlighted node's detail read waits on its short rest (tests settle on it)."""
        return any(d.pending for d in self.query(ClusterDetail))

    def on_explorer_screen_detail_loaded(self, message: DetailLoaded) -> None:
        if message.view == self.view and message.node_id == self.detail.wanted_id:
            self.detail.show(message.detail)

    def on_explorer_screen_index_loaded(self, message: IndexLoaded) -> None:
        if message.view == self.view:
            self.index = message.index
            if self.search_panel is not None:
                self.search_panel.index = message.index
            if self._edit_pending:  # curation: the tree follows in place (screens/editing.py)
                self.index_after_edit(message.index)
            self._show_counts()
            if self.pending_jump is not None:
                self.jump_to(self.pending_jump)
                self.pending_jump = None

    def on_cluster_tree_cluster_chosen(self, message: ClusterTree.ClusterChosen) -> None:
        self.open_queries(message.row)

    def _data_changed(self, _version: int) -> None:
        """A job changed the store: re-read the run's passes and hierarchies (the tree stays)."""
        view = self.view
        if view is not None:
            choice = ViewChoice(
                hierarchy_run_id=view.hierarchy_run_id,
                summary_run_id=view.summary_run_id,
                flat=view.hierarchy_run_id is None,
            )
            self.open_run(choice, again=True)

    def _show_view_line(self) -> None:
        if self.view is not None and self.overview is not None:
            self.query_one("#view-line", ViewLine).show(self.overview, self.view, self.sort)

    # -- actions ------------------------------------------------------------------------------

    def action_toggle_sort(self) -> None:
        if self.view is None:
            return
        self.sort = "title" if self.sort == "size" else "size"
        self._set_view(self.view, keep_open=True)

    def action_next_pass(self) -> None:
        if self.view is None or self.overview is None:
            return
        following = self.overview.next_pass(self.view.summary_run_id)
        if following is None:
            self.notify("This run has no summary pass yet (press u to summarize).", markup=False)
            return
        if following == self.view.summary_run_id:
            self.notify("This run has only one summary pass.", markup=False)
            return
        self._set_view(self.view.with_pass(following), keep_open=True)
        self.notify(f"Titles from summary pass {plain(following, 80)}", markup=False)

    def do_show_hierarchy(self) -> None:
        """Cycle the hierarchies of the run, then the flat clusters."""
        if self.view is None or self.overview is None:
            return
        following = self.overview.next_hierarchy(self.view)
        if following.hierarchy_run_id == self.view.hierarchy_run_id:
            self.notify("This run has no hierarchy yet (press m to merge).", markup=False)
            return
        self._set_view(following)

    def action_zoom_detail(self) -> None:
        """Show the detail panel alone, or the tree and the panel again."""
        if self.maximized is self.detail:
            self.minimize()
        else:
            self.maximize(self.detail)

    def do_list(self) -> None:
        row = self.tree.cursor_row
        if row is not None:
            self.open_queries(row)

    def do_map(self) -> None:
        """The run's cluster map, the highlighted node's clusters lit."""
        from lmsys_tui.tui.screens.map import MapScreen

        if self.view is not None:
            self.app.push_screen(MapScreen(self.view, self.tree.cursor_row))

    def do_report(self) -> None:
        """Write this view's HTML report beside the store (reports/RUN.html), in a worker."""
        if self.view is not None:
            self.notify("Writing the report…", markup=False)
            self.write_report(self.view)

    @work(thread=True, group="explorer-report", exit_on_error=False)
    def write_report(self, view: View) -> None:
        from lmsys_tui.core.insights.map_options import ReportOptions
        from lmsys_tui.core.insights.report import write_report

        folder = view.db.parent / "reports"
        folder.mkdir(exist_ok=True)
        opts = ReportOptions(
            output=folder / f"{view.run_id}.html",
            summary_run_id=view.summary_run_id,
            hierarchy_run_id=view.hierarchy_run_id,
        )
        done = write_report(view.db, view.run_id, opts)
        self.app.call_from_thread(
            self.notify, f"Report written: {done['output']}", title="Report", markup=False
        )

    def open_queries(self, row: NodeRow) -> None:
        if self.view is not None:
            self.app.push_screen(QueriesScreen(self.view, row))

    def jump_to(self, node_id: int) -> bool:
        """Open the path down to `node_id` and put the cursor on it."""
        if self.index is None or node_id not in self.index:
            return False
        self.tree.reveal(path_to(self.index, node_id))
        self.tree.focus()
        return True

    def do_evaluate_run(self) -> None:
        """The run's (and the shown hierarchy's) figures against its labels, beside the tree."""
        self.call_later(self._evaluate, "evaluate")

    def do_evaluate_stability(self) -> None:
        self.call_later(self._evaluate, "stability")

    def do_evaluate_titles(self) -> None:
        """Clio's title check as a background job, judged by the model the environment's keys
        name (the headless command takes any --judge and --base-url)."""
        from lmsys_tui.core.llm.providers import default_model
        from lmsys_tui.tui import jobspecs

        spec = jobspecs.evaluate_titles(
            self.lmsys.settings, run_id=self.run_id, model=default_model()
        )
        self.lmsys.start_job(spec)

    async def _evaluate(self, kind: str) -> None:
        panel = next(self.query("#evaluation").results(EvaluationPanel), None)
        if panel is None:  # built on first use, above the detail
            panel = EvaluationPanel(id="evaluation")
            await self.query_one("#side").mount(panel, before="#detail")
        hierarchy = self.view.hierarchy_run_id if self.view is not None else None
        getattr(panel, kind)(self.lmsys.settings.db, self.run_id, hierarchy)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("close_search", "next_target", "next_mode"):
            return self.searching
        return True

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        view = self.view
        if view is None:
            return None
        panel = self.search_panel
        text = panel.text.strip() if panel is not None and self.searching else ""
        if panel is not None and text and action_id in (None, "search", "search-cluster"):
            if panel.target == "clusters" or action_id == "search-cluster":
                return "search-cluster", [text, "--run-id", view.run_id]
            return "search", [text, "--run-id", view.run_id, "--mode", panel.mode]
        row = self.tree.cursor_row
        pass_args = ["--summary-run-id", view.summary_run_id] if view.summary_run_id else []
        if action_id == "list" and row is not None:
            # what `v` shows: the node's first drill-down page, closest to the centroid first
            return "list", list_args(view, row, "distance", PAGE)
        if action_id == "inspect" and row is not None and row.is_cluster:
            return "inspect", [view.run_id, str(row.node_id), *pass_args]
        if action_id is None and view.hierarchy_run_id:
            return "show-hierarchy", [view.hierarchy_run_id]
        if action_id == "facets" and self.pivot is not None:
            opts = self._pivot_options(self.pivot.by)
            return ("facets", opts.to_argv()) if opts is not None else None
        if action_id in (None, "list-clusters"):
            return "list-clusters", [view.run_id, *pass_args]
        return None
