"""The explorer's facet pivot: `ExplorerScreen` takes these from `PivotHost`.

"Show: facet lift" mounts a `Pivot` beside the tree with the flagged cells of the highlighted
node's level (`core.insights.lift.pivot`, read in a worker); the row under the cursor badges
the tree's nodes by the lift of its value, and enter opens its node. Apart from the explorer
module, which stays under ~400 lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from lmsys_tui.core.insights.lift import FacetOptions
from lmsys_tui.tui.widgets.pivot import Pivot


class PivotHost:
    """What the explorer adds for the pivot; it provides `view`, `tree`, `jump_to` and the
    Screen methods used here."""

    view: Any
    tree: Any
    lmsys: Any
    query: Any
    query_one: Any
    call_later: Any
    post_message: Any
    notify: Any
    jump_to: Any

    @property
    def pivot(self) -> Pivot | None:
        return next(self.query("#pivot").results(Pivot), None)

    def do_facets(self) -> None:
        """Show the facet pivot of the highlighted node's level beside the tree (again: hide)."""
        self.call_later(self._toggle_pivot)

    async def _toggle_pivot(self) -> None:
        pivot = self.pivot
        if pivot is not None:
            await pivot.remove()
            self.tree.set_badges({})
            self.tree.focus()
            return
        if self.view is None:
            return
        pivot = Pivot(id="pivot")
        await self.query_one("#side").mount(pivot, before="#detail")
        pivot.table.focus()
        self.on_pivot_facet_wanted(Pivot.FacetWanted(pivot.by))

    def _pivot_options(self, by: str) -> FacetOptions | None:
        if self.view is None:
            return None
        row = self.tree.cursor_row
        level = row.level if row is not None and self.view.hierarchy_run_id else None
        return FacetOptions(
            run_id=self.view.run_id, by=by, level=level or None,
            hierarchy_run_id=self.view.hierarchy_run_id if level else None,
        )  # fmt: skip

    def on_pivot_facet_wanted(self, message: Pivot.FacetWanted) -> None:
        opts = self._pivot_options(message.by)
        if opts is not None:
            if self.pivot is not None:
                self.pivot.show_message(f"Reading the {message.by} pivot…")
            self.load_pivot(opts)

    @work(thread=True, exclusive=True, group="explorer-pivot", exit_on_error=False)
    def load_pivot(self, opts: FacetOptions) -> None:
        from lmsys_tui.core.insights.lift import pivot

        data = pivot(self.lmsys.settings.db, opts)
        if not get_current_worker().is_cancelled:
            self.post_message(self.PivotLoaded(data))

    @dataclass
    class PivotLoaded(Message):
        data: dict[str, Any]

    def on_pivot_host_pivot_loaded(self, message: PivotLoaded) -> None:
        if self.pivot is not None:
            self.pivot.show(message.data)

    def on_pivot_value_highlighted(self, message: Pivot.ValueHighlighted) -> None:
        self.tree.set_badges(message.badges)

    def on_pivot_node_chosen(self, message: Pivot.NodeChosen) -> None:
        if not self.jump_to(message.node_id):
            self.notify("That node is not in this view of the run.", markup=False)
