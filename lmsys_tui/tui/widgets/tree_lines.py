"""How a cluster tree line is drawn: a share bar, the share of the run, the query count, the
title (inert text) and the notes after it (a search's hits, the facet pivot's badge). Apart
from `cluster_tree`, which keeps the loading and node bookkeeping; labels are drawn for every
line on every refresh, so their width is computed without drawing and styles are memoised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.tui.text import plain
from lmsys_tui.tui.widgets.bars import bar, percent

BAR_WIDTH = 6
TITLE_LIMIT = 90
BADGE_LIMIT = 48  # a pivot badge: lift and facet value


@dataclass
class Item:
    """A tree node's data: a row of the store, or a placeholder (row None)."""

    row: NodeRow | None = None
    loaded: bool = False
    loading: bool = False
    note: str = ""


class ClusterLines(Tree[Item]):
    """The drawing half of `ClusterTree` (which fills `nodes_by_id`)."""

    nodes_by_id: dict[int, TreeNode[Item]]

    def __init__(self, label: str, *, data: Item, id: str | None = None) -> None:
        super().__init__(label, data=data, id=id)
        self.hits: dict[int, int] = {}
        self.badges: dict[int, str] = {}  # node -> a short note (the facet pivot's lift)
        self._styles_memo: dict[str, Style] = {}

    # -- notes after the titles ---------------------------------------------------------------

    def set_hits(self, hits: dict[int, int]) -> None:
        """The search's hits under each node; {} clears."""
        self.hits = self._renote(self.hits, hits)

    def set_badges(self, badges: dict[int, str]) -> None:
        """A note after a node's title (the facet pivot's lift of one value); {} clears."""
        self.badges = self._renote(self.badges, badges)

    def _renote(self, old: dict[int, Any], new: dict[int, Any]) -> dict[int, Any]:
        """Redraw the nodes whose note changes; the new notes, copied."""
        for node_id in set(old) | set(new):
            node = self.nodes_by_id.get(node_id)
            if node is not None:
                node.refresh()
        self.refresh(layout=True)
        return dict(new)

    # -- drawing ------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        """A component class's style, computed once until the styles change (labels are
        drawn for every line on every refresh); none before the widget is mounted."""
        found = self._styles_memo.get(name)
        if found is None:
            try:
                found = self.get_component_rich_style(name, partial=True)
            except KeyError:
                return Style()
            self._styles_memo[name] = found
        return found

    def notify_style_update(self) -> None:
        self._styles_memo.clear()
        super().notify_style_update()

    def get_label_width(self, node: TreeNode[Item]) -> int:
        """The label's width without drawing it (the tree asks for every line's width)."""
        item = node.data
        if item is None or item.row is None:
            return cell_len(item.note if item else str(node.label))
        row = item.row
        width = 2 + BAR_WIDTH + 1 + 6 + 1 + max(8, len(f"{row.count:,}")) + 2
        width += cell_len(plain(row.title, TITLE_LIMIT))
        hits = self.hits.get(row.node_id)
        if hits:
            width += len(f"  {hits:,} hits")
        if row.node_id in self.badges:
            width += 2 + cell_len(plain(self.badges[row.node_id], BADGE_LIMIT))
        return width

    def render_label(self, node: TreeNode[Item], base_style: Style, style: Style) -> Text:
        item = node.data
        if item is None or item.row is None:
            text = Text(item.note if item else str(node.label))
            text.stylize(self._style("cluster-tree--placeholder"))
            text.stylize(style)
            return text
        row = item.row
        numbers = self._style("cluster-tree--numbers")
        label = Text(no_wrap=True, end="")
        if node.allow_expand:
            label.append(
                self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE,
                base_style + Style(bold=True),
            )
        else:
            label.append("  ")
        label.append(
            bar(row.share, BAR_WIDTH),
            self._style("cluster-tree--bar"),
        )
        label.append(f" {percent(row.share):>6} {row.count:>8,}  ", numbers)
        title = Text(plain(row.title, TITLE_LIMIT))
        if row.is_noise:
            title.stylize(self._style("cluster-tree--noise"))
        label.append_text(title)
        hits = self.hits.get(row.node_id)
        if hits:
            label.append(
                f"  {hits:,} hit{'s' if hits != 1 else ''}",
                self._style("cluster-tree--hits"),
            )
        badge = self.badges.get(row.node_id)
        if badge:
            label.append(f"  {plain(badge, BADGE_LIMIT)}", self._style("cluster-tree--hits"))
        label.stylize(style)
        return label
