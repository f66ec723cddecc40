"""The explorer: a run's cluster tree with the highlighted node's detail beside it, and search.

The screen owns the reads: the tree asks for children (`ClusterTree.ChildrenWanted`), the screen
reads them in a thread worker and hands them back; the detail of the highlighted node is read by
an exclusive worker whose SQL is interrupted when the cursor moves on. The whole node index (a
few hundred rows) is read once per view in the background, for "jump to cluster…". Switching
the sort, the summary pass or the hierarchy rebuilds the tree and re-opens what was open.

Live search (`/`): each keystroke restarts a 250 ms timer; when it fires, an exclusive thread
worker asks the search core (one `Searcher` per App, model loaded once in a warm-up worker) and
posts the result only if it has not been superseded (`is_cancelled`, plus a sequence number),
so a stale answer never lands. Hits are counted per tree node (the core gives every hit its
hierarchy path); enter on a hit opens its place in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from lmsys_tui.core.read import runs, tree
from lmsys_tui.core.read.detail import node_detail
from lmsys_tui.core.read.runs import RunOverview, View
from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.errors import Cancelled
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.text import inert, plain
from lmsys_tui.tui.widgets.cluster_detail import ClusterDetail
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

SORT_LABEL = {"size": "largest first", "title": "by title"}
DEBOUNCE = 0.12  # seconds of quiet typing before a search starts (a stale one is aborted)
DETAIL_DELAY = 0.08  # seconds the cursor rests on a node before its detail is read
SEARCH_GROUP = "explorer-search"
RESULTS = 50
MODES = ("hybrid", "semantic", "keyword")
TARGETS = ("queries", "clusters")


class ExplorerScreen(LmsysScreen):
    SUB_TITLE = "Clusters"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_sort", "sort", tooltip="Sort the tree by size or by title."),
        Binding("escape", "close_search", "close search", tooltip="Close the search and its hits."),
        Binding(
            "ctrl+t",
            "next_target",
            "queries/clusters",
            show=False,
            tooltip="Search queries or clusters.",
        ),
        Binding(
            "ctrl+o", "next_mode", "mode", show=False, tooltip="Search semantic, keyword or hybrid."
        ),
        Binding(
            "z",
            "zoom_detail",
            "zoom",
            show=False,
            tooltip="Show the detail panel alone (z again: back).",
        ),
        Binding(
            "w",
            "next_pass",
            "pass",
            show=False,
            tooltip="Title clusters from the next summary pass.",
        ),
    ]

    @dataclass
    class Opened(Message):
        overview: RunOverview

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

    @dataclass
    class SearchDone(Message):
        """A search finished for request number `seq` (older numbers are stale)."""

        seq: int
        target: str
        text: str
        mode: str
        hits: list[Any]
        seconds: float

    @dataclass
    class MatchesCounted(Message):
        """Every keyword match of search `seq`, counted per cluster (after its hits)."""

        seq: int
        text: str
        per_cluster: dict[int, int]

    @dataclass
    class ModelReady(Message):
        note: str

    def __init__(
        self,
        run_id: str,
        *,
        hierarchy_run_id: str | None = None,
        summary_run_id: str | None = None,
        flat: bool = False,
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self._ask = {
            "hierarchy_run_id": hierarchy_run_id,
            "summary_run_id": summary_run_id,
            "flat": flat,
        }
        self.overview: RunOverview | None = None
        self.view: View | None = None
        self.sort = "size"
        self.index: dict[int, NodeRow] | None = None
        self._restore: tuple[set[int], int | None] | None = None
        self._detail_for: int | None = None
        self.searching = False
        self.search_seq = 0
        self.search_hits: list[Any] = []
        self.search_hits_for: str | None = None  # the text the shown hits answer
        self._search_timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._warmed = False  # the embedding model is loaded (or loading)
        self._prepared = False  # the search core has read the run
        self.search_defaults = {"target": "queries", "mode": "hybrid"}
        """What the search bar starts with (it is built on the first `/`, not at start)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"Opening run {plain(self.run_id, 60)}…"), id="view-line")
        with Horizontal(id="explorer-body"):
            yield ClusterTree(id="tree")
            with Vertical(id="side"):
                yield ClusterDetail(id="detail")
        yield Footer()

    async def _build_search(self) -> None:
        """Mount the search bar and results on first use: they cost start-up time and most
        sessions browse before they search."""
        if self.query("#search-bar"):
            return
        bar = Horizontal(
            Input(placeholder="search… (esc closes)", id="search-input"),
            Select(
                [(t, t) for t in TARGETS],
                value=self.search_defaults["target"],
                allow_blank=False,
                id="search-target",
            ),
            Select(
                [(m, m) for m in MODES],
                value=self.search_defaults["mode"],
                allow_blank=False,
                id="search-mode",
            ),
            id="search-bar",
        )
        await self.mount(bar, before="#explorer-body")
        await self.query_one("#side").mount(
            Static(id="search-status"), OptionList(id="search-results"), before="#detail"
        )

    @property
    def tree(self) -> ClusterTree:
        return self.query_one("#tree", ClusterTree)

    @property
    def detail(self) -> ClusterDetail:
        return self.query_one("#detail", ClusterDetail)

    def on_mount(self) -> None:
        self.tree.inline_loader = self._small_level
        self.detail.show_message("Reading the run…")
        self.open_run(**self._ask)
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.tree.focus()

    # -- reads (threads) ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="explorer-open", exit_on_error=False)
    def open_run(
        self,
        hierarchy_run_id: str | None = None,
        summary_run_id: str | None = None,
        flat: bool = False,
    ) -> None:
        overview = runs.open_run(
            self.lmsys.settings.db,
            self.run_id,
            hierarchy_run_id=hierarchy_run_id,
            summary_run_id=summary_run_id,
            flat=flat,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.Opened(overview))

    @work(thread=True, group="explorer-children", exit_on_error=False)
    def load_children(self, view: View, node_id: int | None, sort: str, generation: int) -> None:
        rows = tree.children(view, node_id, sort=sort)
        self.post_message(self.ChildrenLoaded(node_id, rows, generation))

    @work(thread=True, exclusive=True, group="explorer-detail", exit_on_error=False)
    def load_detail(self, view: View, row: NodeRow) -> None:
        worker = get_current_worker()
        detail = node_detail(view, row.node_id, row.level, cancelled=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.DetailLoaded(view, row.node_id, detail))

    @work(thread=True, exclusive=True, group="explorer-index", exit_on_error=False)
    def load_index(self, view: View) -> None:
        index = tree.node_index(view)
        if not get_current_worker().is_cancelled:
            self.post_message(self.IndexLoaded(view, index))

    # -- results (UI thread) ------------------------------------------------------------------

    def on_explorer_screen_opened(self, message: Opened) -> None:
        self.overview = message.overview
        self._set_view(message.overview.view)

    def _set_view(self, view: View, *, keep_open: bool = False) -> None:
        if keep_open:
            cursor = self.tree.cursor_row
            self._restore = (set(self.tree.expanded_ids()), cursor.node_id if cursor else None)
        else:
            self._restore = None
        self.view = view
        self.index = None
        self._detail_for = None
        self._show_view_line()
        self.tree.reset_tree()
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
        return tree.children(self.view, node_id, sort=self.sort)

    def on_explorer_screen_children_loaded(self, message: ChildrenLoaded) -> None:
        self.tree.add_children(message.node_id, message.rows, message.generation)

    def on_cluster_tree_level_loaded(self, message: ClusterTree.LevelLoaded) -> None:
        if message.node_id is None and not self.tree.nodes_by_id:
            self.detail.show_message("This run has no clusters.")
        if self._restore is None:
            return
        expanded, cursor = self._restore
        pending = False
        for node_id in list(expanded):
            node = self.tree.nodes_by_id.get(node_id)
            if node is None:
                pending = True
                continue
            if not node.is_expanded:
                node.expand()
            if node.data is not None and not node.data.loaded:
                pending = True
        if cursor is not None:
            self.tree.select_id(cursor)
        if not pending:
            self._restore = None

    def on_cluster_tree_cluster_highlighted(self, message: ClusterTree.ClusterHighlighted) -> None:
        if self.view is None or message.row.node_id == self._detail_for:
            return
        self._detail_for = message.row.node_id
        self.detail.add_class("-loading")
        # a short restartable delay: holding an arrow key starts one read, not one per row,
        # and the tree paints before the first detail read competes with it
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(
            DETAIL_DELAY, partial(self._read_detail, self.view, message.row)
        )

    def _read_detail(self, view: View, row: NodeRow) -> None:
        self._detail_timer = None
        if row.node_id == self._detail_for:
            self.load_detail(view, row)

    @property
    def detail_pending(self) -> bool:
        """A highlighted node's detail read waits on its short delay (tests settle on it)."""
        return self._detail_timer is not None

    def on_explorer_screen_detail_loaded(self, message: DetailLoaded) -> None:
        if message.view != self.view or message.node_id != self._detail_for:
            return
        self.detail.remove_class("-loading")
        self.detail.show(message.detail)

    def on_explorer_screen_index_loaded(self, message: IndexLoaded) -> None:
        if message.view == self.view:
            self.index = message.index

    def on_cluster_tree_cluster_chosen(self, message: ClusterTree.ClusterChosen) -> None:
        self.open_queries(message.row)

    def _data_changed(self, _version: int) -> None:
        """A job changed the store: re-read the run's passes and hierarchies (the tree stays)."""
        if self.view is not None:
            self.refresh_lists()

    @work(thread=True, exclusive=True, group="explorer-lists", exit_on_error=False)
    def refresh_lists(self) -> None:
        view = self.view
        if view is None:
            return
        overview = runs.open_run(
            view.db,
            self.run_id,
            hierarchy_run_id=view.hierarchy_run_id,
            summary_run_id=view.summary_run_id,
            flat=view.hierarchy_run_id is None,
        )
        if not get_current_worker().is_cancelled:
            self.post_message(self.ListsRead(overview))

    @dataclass
    class ListsRead(Message):
        overview: RunOverview

    def on_explorer_screen_lists_read(self, message: ListsRead) -> None:
        self.overview = message.overview
        self._show_view_line()

    # -- the view line --------------------------------------------------------------------------

    def _show_view_line(self) -> None:
        view, overview = self.view, self.overview
        if view is None or overview is None:
            return
        run = overview.run
        parts = [
            f"run {run['run_id']}",
            f"{run['algorithm']}",
            f"{view.total:,} queries",
        ]
        if view.hierarchy_run_id:
            hier = next(
                (h for h in overview.hierarchies if h["hierarchy_run_id"] == view.hierarchy_run_id),
                None,
            )
            levels = f" ({hier['levels']} levels)" if hier and hier.get("levels") else ""
            parts.append(f"hierarchy {view.hierarchy_run_id}{levels}")
        else:
            parts.append("flat clusters")
        if view.summary_run_id:
            p = next(
                (p for p in overview.passes if p["summary_run_id"] == view.summary_run_id), None
            )
            alias = f" ({p['alias']})" if p and p.get("alias") else ""
            parts.append(f"titles: pass {view.summary_run_id}{alias}")
        else:
            parts.append("titles: keywords")
        parts.append(SORT_LABEL[self.sort])
        self.query_one("#view-line", Static).update(inert(" · ".join(parts)))

    # -- actions ------------------------------------------------------------------------------

    def action_toggle_sort(self) -> None:
        if self.view is None:
            return
        self.sort = "title" if self.sort == "size" else "size"
        self._set_view(self.view, keep_open=True)

    def action_next_pass(self) -> None:
        if self.view is None or self.overview is None:
            return
        passes = [p["summary_run_id"] for p in self.overview.passes if p["titled"]]
        if not passes:
            self.notify("This run has no summary pass yet (press u to summarize).", markup=False)
            return
        current = self.view.summary_run_id
        following = (
            passes[(passes.index(current) + 1) % len(passes)] if current in passes else passes[0]
        )
        if following == current:
            self.notify("This run has only one summary pass.", markup=False)
            return
        self._set_view(self.view.with_pass(following), keep_open=True)
        self.notify(f"Titles from summary pass {plain(following, 80)}", markup=False)

    def do_show_hierarchy(self) -> None:
        """Cycle the hierarchies of the run, then the flat clusters."""
        if self.view is None or self.overview is None:
            return
        choices: list[str | None] = [
            h["hierarchy_run_id"] for h in self.overview.hierarchies if h["status"] == "done"
        ]
        choices.append(None)
        current = self.view.hierarchy_run_id
        following = (
            choices[(choices.index(current) + 1) % len(choices)]
            if current in choices
            else choices[0]
        )
        if following == current:
            self.notify("This run has no hierarchy yet (press m to merge).", markup=False)
            return
        summary = self.view.summary_run_id
        if following is not None:
            hier = next(h for h in self.overview.hierarchies if h["hierarchy_run_id"] == following)
            if hier["summary_run_id"] and any(
                p["summary_run_id"] == hier["summary_run_id"] for p in self.overview.passes
            ):
                summary = hier["summary_run_id"]
        self._set_view(
            View(self.view.db, self.run_id, following, summary, self.view.total), keep_open=False
        )

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

    def open_queries(self, row: NodeRow) -> None:
        from lmsys_tui.tui.screens.queries import QueriesScreen

        if self.view is not None:
            self.app.push_screen(QueriesScreen(self.view, row))

    def jump_to(self, node_id: int) -> bool:
        """Open the path down to `node_id` and put the cursor on it."""
        if self.index is None or node_id not in self.index:
            return False
        self.tree.reveal(tree.path_to(self.index, node_id))
        self.tree.focus()
        return True

    # -- live search ------------------------------------------------------------------------------

    def _search_value(self, name: str) -> str:
        found = self.query(f"#search-{name}")
        return str(found.first(Select).value) if found else self.search_defaults[name]

    @property
    def search_target(self) -> str:
        return self._search_value("target")

    @property
    def search_mode(self) -> str:
        return self._search_value("mode")

    @property
    def search_text(self) -> str:
        found = self.query("#search-input")
        return found.first(Input).value if found else ""

    def do_search(self) -> None:
        """Open the search bar (or go back to it)."""
        self.call_later(self._open_search)

    async def _open_search(self) -> None:
        await self._build_search()
        self.searching = True
        self.add_class("-searching")
        self.query_one("#search-input", Input).focus()
        self._warm_up()
        self.refresh_bindings()

    def do_search_cluster(self) -> None:
        if self.query("#search-target"):
            self.query_one("#search-target", Select).value = "clusters"
        else:
            self.search_defaults["target"] = "clusters"
        self.do_search()

    def action_close_search(self) -> None:
        self.searching = False
        self.search_seq += 1  # whatever is still running is stale now
        if self._search_timer is not None:
            self._search_timer.stop()
        self.workers.cancel_group(self, SEARCH_GROUP)
        self.remove_class("-searching")
        self.search_hits = []
        for results in self.query("#search-results").results(OptionList):
            results.clear_options()
        self.tree.set_hits({})
        self.tree.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("close_search", "next_target", "next_mode"):
            return self.searching
        return True

    def action_next_target(self) -> None:
        select = self.query_one("#search-target", Select)
        select.value = TARGETS[(TARGETS.index(self.search_target) + 1) % len(TARGETS)]

    def action_next_mode(self) -> None:
        select = self.query_one("#search-mode", Select)
        select.value = MODES[(MODES.index(self.search_mode) + 1) % len(MODES)]

    def _needs_model(self) -> bool:
        return self.search_target == "clusters" or self.search_mode != "keyword"

    def _warm_up(self) -> None:
        model = self._needs_model() and not self._warmed
        if self._prepared and not model:
            return
        self._prepared = True
        if model:
            self._warmed = True
            self._search_status("loading the embedding model…")
        self.warm_up(model)

    @work(thread=True, exclusive=True, group="explorer-warm", exit_on_error=False)
    def warm_up(self, model: bool) -> None:
        """Open the search core on the run and, for semantic search, load the embedding model
        once, so the first search is as fast as the rest."""
        searcher = self.lmsys.searcher()
        space = searcher.prepare(self.run_id)
        if model:
            searcher.embed(space, "warm up")
            self.post_message(self.ModelReady(f"model {space.model} ready"))

    def on_explorer_screen_model_ready(self, message: ModelReady) -> None:
        if not self.search_text.strip():
            self._search_status(message.note)

    def _search_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#search-status", Static)
        status.set_class(error, "-error")
        status.update(inert(text))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search-input":
            self._schedule_search()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("search-target", "search-mode") and self.searching:
            self._schedule_search()

    def _schedule_search(self) -> None:
        """Restart the debounce timer; the search starts once typing pauses."""
        self.search_seq += 1
        if self._search_timer is not None:
            self._search_timer.stop()
        self.lmsys.interrupt_search()  # whatever runs now answers an older text
        if not self.search_text.strip():
            self.workers.cancel_group(self, SEARCH_GROUP)
            self.search_hits = []
            self.query_one("#search-results", OptionList).clear_options()
            self.tree.set_hits({})
            self._search_status("")
            return
        self._search_timer = self.set_timer(DEBOUNCE, self._start_search)

    def _start_search(self) -> None:
        if self.view is None or not self.search_text.strip():
            return
        self._warm_up()
        self._search_status("searching…")
        self.run_search(
            self.search_seq, self.view, self.search_text, self.search_target, self.search_mode
        )

    @work(thread=True, exclusive=True, group=SEARCH_GROUP, exit_on_error=False)
    def run_search(self, seq: int, view: View, text: str, target: str, mode: str) -> None:
        from lmsys_tui.core.search import ClusterSearch, QuerySearch

        worker = get_current_worker()
        searcher = self.lmsys.searcher()
        try:
            if target == "clusters":
                result = searcher.search_clusters(
                    ClusterSearch(
                        text, run_id=view.run_id, summary_run_id=view.summary_run_id, top_k=RESULTS
                    ),
                    cancelled=lambda: worker.is_cancelled,
                )
            else:
                result = searcher.search_queries(
                    QuerySearch(
                        text,
                        run_id=view.run_id,
                        mode=mode,
                        n_results=RESULTS,
                        summary_run_id=view.summary_run_id,
                        hierarchy_run_id=view.hierarchy_run_id,
                        snippet_chars=200,
                    ),
                    cancelled=lambda: worker.is_cancelled,
                )
        except Cancelled:
            return  # a newer search replaced this one
        if worker.is_cancelled:
            return
        self.post_message(
            self.SearchDone(seq, target, text, mode, list(result.hits), result.seconds)
        )
        if target == "queries" and mode == "keyword":
            # the hits are the best few; the tree counts every match (a second, cheaper read)
            try:
                per_cluster = searcher.keyword_counts(text, view.run_id)
            except Cancelled:
                return
            if not worker.is_cancelled:
                self.post_message(self.MatchesCounted(seq, text, per_cluster))

    def on_explorer_screen_search_done(self, message: SearchDone) -> None:
        if message.seq != self.search_seq or not self.searching:
            return  # typed past it: a newer search is coming
        self.search_hits = message.hits
        self.search_hits_for = message.text
        options = self.query_one("#search-results", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(self._hit_label(message.target, h), id=str(i))
                for i, h in enumerate(message.hits)
            ]
        )
        self.tree.set_hits(hit_counts(message.hits, self.index))
        n = len(message.hits)
        what = "clusters" if message.target == "clusters" else f"queries · {message.mode}"
        self._search_status(
            f"{n} hit{'s' if n != 1 else ''} for {plain(message.text, 40)!r} · {what}"
        )

    def on_explorer_screen_matches_counted(self, message: MatchesCounted) -> None:
        if message.seq != self.search_seq or not self.searching:
            return
        per_node = (
            tree.counts_by_node(self.index, message.per_cluster)
            if self.index
            else dict(message.per_cluster)
        )
        self.tree.set_hits(per_node)
        total = sum(message.per_cluster.values())
        shown = len(self.search_hits)
        if total > shown:  # else the hits are every match, as the status already says
            self._search_status(
                f"{shown} best of {total:,} matches for {plain(message.text, 40)!r}"
                " · queries · keyword · the tree counts every match"
            )

    def _hit_label(self, target: str, hit: Any) -> Text:
        index = self.index or {}
        if target == "clusters":
            title = hit.title or (index[hit.cluster_id].title if hit.cluster_id in index else "")
            label = inert(f"{title} · {hit.num_queries:,} queries", 120)
        else:
            node = index.get(hit.cluster_id) if hit.cluster_id is not None else None
            where = f" · {node.title}" if node is not None else ""
            label = inert(f"{hit.snippet}{where}", 160)
        label.overflow = "ellipsis"
        return label

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search-input":
            options = self.query_one("#search-results", OptionList)
            if options.option_count:
                options.highlighted = 0
                options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id != "search-results" or event.option.id is None:
            return
        hit = self.search_hits[int(event.option.id)]
        if hit.cluster_id is None or not self.jump_to(hit.cluster_id):
            self.notify("That hit is not in this view of the run.", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed search says why in the search line (no toast per keystroke)."""
        if event.worker.group == SEARCH_GROUP and event.state == WorkerState.ERROR:
            from lmsys_tui.tui.app import describe_error

            self._search_status(describe_error(event.worker.error), error=True)
            event.prevent_default()  # Textual would also run the base class's handler
        # any other worker: the base class's handler (run by Textual after this one) reports it

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        view = self.view
        if view is None:
            return None
        text = self.search_text.strip()
        if self.searching and text and action_id in (None, "search", "search-cluster"):
            if self.search_target == "clusters" or action_id == "search-cluster":
                return "search-cluster", [text, "--run-id", view.run_id]
            return "search", [text, "--run-id", view.run_id, "--mode", self.search_mode]
        row = self.tree.cursor_row
        pass_args = ["--summary-run-id", view.summary_run_id] if view.summary_run_id else []
        if action_id in ("inspect", "list") and row is not None and row.is_cluster:
            if action_id == "list":
                return "list", ["--run-id", view.run_id, "--cluster-id", str(row.node_id)]
            return "inspect", [view.run_id, str(row.node_id), *pass_args]
        if action_id is None and view.hierarchy_run_id:
            return "show-hierarchy", [view.hierarchy_run_id]
        if action_id in (None, "list-clusters"):
            return "list-clusters", [view.run_id, *pass_args]
        return None


def hit_counts(hits: list[Any], index: dict[int, NodeRow] | None) -> dict[int, int]:
    """Hits per tree node: each hit counts at its cluster and every node above it."""
    per_cluster: dict[int, int] = {}
    out: dict[int, int] = {}
    for hit in hits:
        nodes = tuple(getattr(hit, "nodes", ()) or ())
        if nodes:
            for node in nodes:
                out[node] = out.get(node, 0) + 1
        elif hit.cluster_id is not None:
            per_cluster[hit.cluster_id] = per_cluster.get(hit.cluster_id, 0) + 1
    if per_cluster:
        rolled = tree.counts_by_node(index, per_cluster) if index else per_cluster
        for node, n in rolled.items():
            out[node] = out.get(node, 0) + n
    return out
