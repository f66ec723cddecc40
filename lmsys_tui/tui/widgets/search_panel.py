"""Live search over one run: the search box, what to search (queries or clusters) and how
(hybrid, semantic, keyword), a status line and the hits.

Each keystroke restarts a short timer (DEBOUNCE) and interrupts the search statement still
running; when the timer fires, an exclusive thread worker asks the search core and posts the
answer only if nothing newer was asked meanwhile (`is_cancelled`, plus a sequence number), so a
stale answer never lands. The embedding model is loaded once, by a warm-up worker, when the
panel opens. The panel holds no tree: it tells its screen what happened — `CountsChanged`
(matches per cluster, for the tree to roll up) and `HitChosen` (enter on a hit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from lmsys_tui.core.read.runs import View
from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.errors import Cancelled
from lmsys_tui.tui.heap import freeze_after_imports
from lmsys_tui.tui.text import describe_error, inert, plain

DEBOUNCE = 0.12  # seconds of quiet typing before a search starts (a stale one is aborted)
SEARCH_GROUP = "search-panel"
RESULTS = 50
MODES = ("hybrid", "semantic", "keyword")
TARGETS = ("queries", "clusters")


@dataclass
class PanelMessage(Message):
    """What a `SearchPanel` posts about itself; its `control` is the panel (`@on` selectors)."""

    panel: SearchPanel

    @property
    def control(self) -> SearchPanel:
        return self.panel


class SearchPanel(Vertical):
    """Give it `searcher` (returns the session's one search core, made on first use) and
    `interrupt` (aborts the search statement running now, if any); while it is open, `view`
    is what it searches and `index` names the clusters in the hit list."""

    @dataclass
    class HitChosen(PanelMessage):
        """Enter on a hit: a `QueryHit` or a `ClusterHit` (both carry `cluster_id`)."""

        hit: Any

    @dataclass
    class CountsChanged(PanelMessage):
        """The matches of the search now shown, counted per cluster (empty: none)."""

        per_cluster: dict[int, int]

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
        searcher: Callable[[], Any],
        interrupt: Callable[[], None],
        *,
        target: str = "queries",
        mode: str = "hybrid",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.searcher = searcher
        self.interrupt = interrupt
        self._start = (target, mode)
        self.view: View | None = None
        self.index: Mapping[int, NodeRow] = {}
        self.active = False
        self.seq = 0
        self.hits: list[Any] = []
        self.hits_for: str | None = None  # the text the shown hits answer
        self._timer: Timer | None = None
        self._warmed = False  # the embedding model is loaded (or loading)
        self._prepared = False  # the search core has read the run

    def compose(self) -> ComposeResult:
        target, mode = self._start
        yield Input(placeholder="search… (esc closes)", id="search-input", compact=True)
        with Horizontal(id="search-options"):
            yield Select([(t, t) for t in TARGETS], value=target, allow_blank=False,
                         id="search-target", compact=True)  # fmt: skip
            yield Select([(m, m) for m in MODES], value=mode, allow_blank=False,
                         id="search-mode", compact=True)  # fmt: skip
        yield Static(id="search-status")
        yield OptionList(id="search-results")

    # -- state --------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        return str(self.query_one("#search-target", Select).value)

    @target.setter
    def target(self, value: str) -> None:
        self.query_one("#search-target", Select).value = value

    @property
    def mode(self) -> str:
        return str(self.query_one("#search-mode", Select).value)

    @property
    def text(self) -> str:
        return self.query_one("#search-input", Input).value

    def next_target(self) -> None:
        self.target = TARGETS[(TARGETS.index(self.target) + 1) % len(TARGETS)]

    def next_mode(self) -> None:
        select = self.query_one("#search-mode", Select)
        select.value = MODES[(MODES.index(self.mode) + 1) % len(MODES)]

    def open(self, view: View) -> None:
        """Start searching `view` (the box takes the focus)."""
        self.view = view
        self.active = True
        self.query_one("#search-input", Input).focus()
        self._warm_up()

    def close(self) -> None:
        """Stop: whatever still runs is stale, and nothing is counted any more."""
        self.active = False
        self._forget()
        self.query_one("#search-results", OptionList).clear_options()

    def _forget(self) -> None:
        self.seq += 1
        if self._timer is not None:
            self._timer.stop()
        self.workers.cancel_group(self, SEARCH_GROUP)
        self.hits = []
        self.post_message(self.CountsChanged(self, {}))

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#search-status", Static)
        status.set_class(error, "-error")
        status.update(inert(text))

    # -- warming up -------------------------------------------------------------------------------

    def _needs_model(self) -> bool:
        return self.target == "clusters" or self.mode != "keyword"

    def _warm_up(self) -> None:
        model = self._needs_model() and not self._warmed
        if self.view is None or (self._prepared and not model):
            return
        self._prepared = True
        if model:
            self._warmed = True
            self._status("loading the embedding model…")
        self.warm_up(self.view.run_id, model)

    @work(thread=True, exclusive=True, group="search-warm", exit_on_error=False)
    def warm_up(self, run_id: str, model: bool) -> None:
        """Open the search core on the run and, for semantic search, load the embedding model
        once, so the first search is as fast as the rest."""
        searcher = self.searcher()
        space = searcher.prepare(run_id)
        if model:
            searcher.embed(space, "warm up")
            self.post_message(self.ModelReady(f"model {space.model} ready"))

    def on_search_panel_model_ready(self, message: ModelReady) -> None:
        if not self.text.strip():
            self._status(message.note)

    # -- searching --------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._schedule()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self.active:
            self._schedule()

    def _schedule(self) -> None:
        """Restart the debounce timer; the search starts once typing pauses."""
        self.seq += 1
        if self._timer is not None:
            self._timer.stop()
        self.interrupt()  # whatever runs now answers an older text
        if not self.text.strip():
            self._forget()
            self.query_one("#search-results", OptionList).clear_options()
            self._status("")
            return
        self._timer = self.set_timer(DEBOUNCE, self._start_search)

    def _start_search(self) -> None:
        if self.view is None or not self.text.strip():
            return
        self._warm_up()
        self._status("searching…")
        self.run_search(self.seq, self.view, self.text, self.target, self.mode)

    @work(thread=True, exclusive=True, group=SEARCH_GROUP, exit_on_error=False)
    def run_search(self, seq: int, view: View, text: str, target: str, mode: str) -> None:
        from lmsys_tui.core.search import ClusterSearch, QuerySearch

        worker = get_current_worker()
        searcher = self.searcher()
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
                    QuerySearch(text, run_id=view.run_id, mode=mode, n_results=RESULTS,
                                summary_run_id=view.summary_run_id, snippet_chars=200),
                    cancelled=lambda: worker.is_cancelled,
                )  # fmt: skip
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

    def on_search_panel_search_done(self, message: SearchDone) -> None:
        if message.seq != self.seq or not self.active:
            return  # typed past it: a newer search is coming
        self.hits = message.hits
        self.hits_for = message.text
        options = self.query_one("#search-results", OptionList)
        options.clear_options()
        options.add_options(
            [Option(self._label(message.target, h), id=str(i)) for i, h in enumerate(message.hits)]
        )
        per_cluster: dict[int, int] = {}
        for hit in message.hits:
            if hit.cluster_id is not None:
                per_cluster[hit.cluster_id] = per_cluster.get(hit.cluster_id, 0) + 1
        self.post_message(self.CountsChanged(self, per_cluster))
        n = len(message.hits)
        what = "clusters" if message.target == "clusters" else f"queries · {message.mode}"
        self._status(f"{n} hit{'s' if n != 1 else ''} for {plain(message.text, 40)!r} · {what}")

    def on_search_panel_matches_counted(self, message: MatchesCounted) -> None:
        if message.seq != self.seq or not self.active:
            return
        self.post_message(self.CountsChanged(self, dict(message.per_cluster)))
        total = sum(message.per_cluster.values())
        shown = len(self.hits)
        if total > shown:  # else the hits are every match, as the status already says
            self._status(
                f"{shown} best of {total:,} matches for {plain(message.text, 40)!r}"
                " · queries · keyword · the tree counts every match"
            )

    def _label(self, target: str, hit: Any) -> Text:
        node = self.index.get(hit.cluster_id) if hit.cluster_id is not None else None
        if target == "clusters":
            title = hit.title or (node.title if node is not None else "")
            label = inert(f"{title} · {hit.num_queries:,} queries", 120)
        else:
            where = f" · {node.title}" if node is not None else ""
            label = inert(f"{hit.snippet}{where}", 160)
        label.overflow = "ellipsis"
        return label

    # -- choosing a hit -------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one("#search-results", OptionList)
        if options.option_count:
            options.highlighted = 0
            options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.HitChosen(self, self.hits[int(event.option.id)]))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed search (or model load) says why in the status line, where the user looks,
        not in a toast per keystroke."""
        freeze_after_imports()  # the warm-up may have loaded the model (see tui/heap.py)
        if event.state == WorkerState.ERROR:
            self._status(describe_error(event.worker.error), error=True)
