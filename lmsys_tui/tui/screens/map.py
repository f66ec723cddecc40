"""The cluster map of the open run: its stored layout (computed on first use, in a worker),
the clusters of the explorer's highlighted node lit, the cluster under the cursor named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from lmsys_tui.core.read.runs import View
from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.text import inert, plain
from lmsys_tui.tui.widgets.cluster_map import ClusterMap, MapData


class MapScreen(LmsysScreen):
    SUB_TITLE = "Cluster map"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_in_tree", "in tree", tooltip="Show the named cluster in the tree."),
    ]

    @dataclass
    class Loaded(Message):
        data: MapData
        points: int
        method: str

    def __init__(self, view: View, row: NodeRow | None = None) -> None:
        super().__init__()
        self.view = view
        self.row = row
        self.pointed: int | None = None  # the cluster the cursor names

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="map-title")
        yield ClusterMap(id="map")
        yield Static(Text("Placing the run's queries…"), id="map-status")
        yield Footer()

    def _title(self) -> Text:
        if self.row is None:
            return inert(f"run {self.view.run_id}", style="bold")
        kind = "cluster" if self.row.is_cluster else f"level {self.row.level} node"
        return inert(f"{plain(self.row.title, 80)} · {kind} {self.row.node_id} lit", style="bold")

    def on_mount(self) -> None:
        self.query_one(ClusterMap).focus()
        self.load(self.view, self.row)

    @work(thread=True, exclusive=True, group="map-load", exit_on_error=False)
    def load(self, view: View, row: NodeRow | None) -> None:
        from lmsys_tui.core.insights.layout import centres, run_layout
        from lmsys_tui.core.insights.map_stage import cluster_titles
        from lmsys_tui.core.read.tree import leaf_clusters

        worker = get_current_worker()
        layout = run_layout(view.db, view.run_id, cancelled=lambda: worker.is_cancelled)
        lit = frozenset(leaf_clusters(view, row.node_id, row.level)) if row else None
        data = MapData(layout.xy, layout.cluster_ids, centres(layout), cluster_titles(view), lit)
        if not worker.is_cancelled:
            self.post_message(self.Loaded(data, len(layout.query_ids), layout.method))

    def on_map_screen_loaded(self, message: Loaded) -> None:
        self.query_one(ClusterMap).show(message.data)

    def on_cluster_map_pointed(self, message: ClusterMap.Pointed) -> None:
        self.pointed = message.cluster_id
        if message.cluster_id is None:
            return
        status = (
            f"cluster {message.cluster_id} · {message.size:,} queries · "
            f"{plain(message.title, 80)}   (arrows or mouse: point at another)"
        )
        self.query_one("#map-status", Static).update(Text(status))

    def action_open_in_tree(self) -> None:
        """Back to the tree, its cursor on the named cluster."""
        explorer = self.lmsys.explorer()
        if self.pointed is None or explorer is None:
            return
        self.app.pop_screen()
        if not explorer.jump_to(self.pointed):
            self.notify("That cluster is not in this view of the run.", markup=False)

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        args = [self.view.run_id, "--output", "map.svg"]
        if self.row is not None:
            args += ["--node", str(self.row.node_id)]
        return "map", args
