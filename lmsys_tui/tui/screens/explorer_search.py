"""The explorer's live search: `ExplorerScreen` takes these from `SearchHost`.

`/` builds the `SearchPanel` on first use (most sessions only browse) above the detail; the
panel says how many matches each cluster has (`CountsChanged`, rolled up the tree here through
the node index) and which hit was chosen (`HitChosen`, whose place in the tree opens). Apart
from the explorer module, which stays under ~400 lines.
"""

from __future__ import annotations

from typing import Any

from lmsys_tui.core.read.tree import counts_by_node
from lmsys_tui.tui.widgets.search_panel import SearchPanel


class SearchHost:
    """What the explorer adds for live search; it provides `view`, `index`, `tree`,
    `jump_to` and the Screen methods used here."""

    view: Any
    index: Any
    tree: Any
    lmsys: Any
    searching: bool
    search_counts: dict[int, int]
    search_defaults: dict[str, str]
    query: Any
    query_one: Any
    call_later: Any
    add_class: Any
    remove_class: Any
    refresh_bindings: Any
    notify: Any
    jump_to: Any

    @property
    def search_panel(self) -> SearchPanel | None:
        """The live-search panel, once the first `/` built it."""
        found = self.query("#search").results(SearchPanel)
        return next(found, None)

    def do_search(self) -> None:
        """Open the search panel (or go back to it)."""
        self.call_later(self._open_search)

    async def _open_search(self) -> None:
        panel = self.search_panel
        if panel is None:  # built on first use: it costs start-up time, most sessions browse
            panel = SearchPanel(
                self.lmsys.searcher,
                self.lmsys.interrupt_search,
                target=self.search_defaults["target"],
                mode=self.search_defaults["mode"],
                id="search",
            )
            panel.index = self.index or {}
            await self.query_one("#side").mount(panel, before="#detail")
        if self.view is None:
            return
        self.searching = True
        self.add_class("-searching")
        panel.open(self.view)
        self.refresh_bindings()

    def do_search_cluster(self) -> None:
        if self.search_panel is not None:
            self.search_panel.target = "clusters"
        else:
            self.search_defaults["target"] = "clusters"
        self.do_search()

    def action_close_search(self) -> None:
        self.searching = False
        self.remove_class("-searching")
        if self.search_panel is not None:
            self.search_panel.close()
        self.tree.focus()
        self.refresh_bindings()

    def action_next_target(self) -> None:
        if self.search_panel is not None:
            self.search_panel.next_target()

    def action_next_mode(self) -> None:
        if self.search_panel is not None:
            self.search_panel.next_mode()

    def on_search_panel_counts_changed(self, message: SearchPanel.CountsChanged) -> None:
        self.search_counts = message.per_cluster
        self._show_counts()

    def _show_counts(self) -> None:
        """Each cluster's matches counted on it and on every node above it."""
        self.tree.set_hits(counts_by_node(self.index or {}, self.search_counts))

    def on_search_panel_hit_chosen(self, message: SearchPanel.HitChosen) -> None:
        cluster_id = message.hit.cluster_id
        if cluster_id is None or not self.jump_to(cluster_id):
            self.notify("That hit is not in this view of the run.", markup=False)
