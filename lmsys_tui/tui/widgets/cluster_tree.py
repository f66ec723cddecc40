"""The cluster tree: a run's hierarchy (or its flat clusters) loaded one level at a time.

The widget holds only what has been expanded. Expanding a node that was never loaded shows a
"loading…" placeholder and asks its screen for the children (`ChildrenWanted`); the screen reads
them in a worker and hands them back with `add_children`, which adds wide levels in chunks so a
level of thousands never blocks the event loop. A `generation` counter drops answers to a tree
that has been reset since (another hierarchy, pass or sort).

Each line: a share bar, the share of the run, the query count, the title (inert text) and,
while a search is active, the hits under that node. After a curation edit `apply_index` updates
the loaded nodes in place. How a line is drawn is in `tree_lines`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.tui.widgets.tree_lines import ClusterLines, Item

INLINE_CHILDREN = 200  # a level this small is one indexed read (~1 ms): no worker, no placeholder


@dataclass
class TreeMessage(Message):
    """What a `ClusterTree` posts about itself; its `control` is the tree (`@on` selectors)."""

    tree: ClusterTree

    @property
    def control(self) -> ClusterTree:
        return self.tree


class ClusterTree(ClusterLines):
    COMPONENT_CLASSES: ClassVar[set[str]] = Tree.COMPONENT_CLASSES | {
        "cluster-tree--bar",
        "cluster-tree--numbers",
        "cluster-tree--hits",
        "cluster-tree--placeholder",
        "cluster-tree--noise",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "expand_cursor", "expand", show=False),
        Binding("left", "collapse_cursor", "collapse", show=False),
    ]
    CHUNK = 100

    @dataclass
    class ChildrenWanted(TreeMessage):
        """Load the children of `node_id` (None: the roots) for tree `generation`."""

        node_id: int | None
        generation: int

    @dataclass
    class ClusterHighlighted(TreeMessage):
        """The cursor rests on a node (a cluster or a hierarchy node)."""

        row: NodeRow

    @dataclass
    class ClusterChosen(TreeMessage):
        """Enter on a cluster (a node without children): open its queries."""

        row: NodeRow

    @dataclass
    class LevelLoaded(TreeMessage):
        """All children of `node_id` (None: roots) are in the tree now."""

        node_id: int | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("clusters", data=Item(loaded=True), id=id)
        self.show_root = False
        self.guide_depth = 3
        self.generation = 0
        self.nodes_by_id: dict[int, TreeNode[Item]] = {}
        self._reveal: list[int] = []
        self._restore: tuple[set[int], int | None] | None = None
        self._adding: dict[int | None, int] = {}
        self.inline_loader: Callable[[int | None], list[NodeRow] | None] | None = None
        """Given by the screen: reads a small level at once (see INLINE_CHILDREN)."""

    # -- loading ------------------------------------------------------------------------------

    def reset_tree(self, *, keep_open: bool = False) -> None:
        """Forget every node and ask for the roots again; with `keep_open`, re-open what was
        open and put the cursor back on its node as their levels arrive."""
        self._restore = None
        if keep_open:
            cursor = self.cursor_row
            self._restore = (set(self.expanded_ids()), cursor.node_id if cursor else None)
        self.generation += 1
        self.clear()
        self.nodes_by_id.clear()
        self._adding.clear()
        self.root.data = Item(loading=True)
        self.root.add_leaf("loading…", data=Item(note="loading…"))
        self.post_message(self.ChildrenWanted(self, None, self.generation))

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[Item]) -> None:
        item = event.node.data
        if item is None or item.row is None or item.loaded or item.loading:
            return
        if self.inline_loader is not None and item.row.child_count <= INLINE_CHILDREN:
            rows = self.inline_loader(item.row.node_id)
            if rows is not None:
                self.add_children(item.row.node_id, rows, self.generation)
                return
        item.loading = True
        event.node.add_leaf("loading…", data=Item(note="loading…"))
        self.post_message(self.ChildrenWanted(self, item.row.node_id, self.generation))

    def _on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Item]) -> None:
        item = event.node.data
        if item is not None and item.row is not None:
            self.post_message(self.ClusterHighlighted(self, item.row))

    def _on_tree_node_selected(self, event: Tree.NodeSelected[Item]) -> None:
        item = event.node.data
        if item is not None and item.row is not None and item.row.child_count == 0:
            self.post_message(self.ClusterChosen(self, item.row))

    def add_children(self, parent_id: int | None, rows: list[NodeRow], generation: int) -> bool:
        """Put loaded children under their parent, in chunks; False when the answer is stale."""
        if generation != self.generation:
            return False
        parent = self.root if parent_id is None else self.nodes_by_id.get(parent_id)
        if parent is None or parent.data is None:
            return False
        token = self._adding[parent_id] = self._adding.get(parent_id, 0) + 1
        parent.remove_children()
        if not rows:
            parent.data.loaded, parent.data.loading = True, False
            if parent is self.root:
                parent.add_leaf("(no clusters)", data=Item(note="(no clusters)"))
            else:
                parent.allow_expand = False
            self._level_done(parent_id)
            return True
        self._add_chunk(parent, parent_id, rows, 0, (generation, token))
        return True

    def _add_chunk(
        self,
        parent: TreeNode[Item],
        parent_id: int | None,
        rows: list[NodeRow],
        start: int,
        stamp: tuple[int, int],
    ) -> None:
        """Add rows[start:start+CHUNK]; the rest after the next refresh. A newer answer for
        the same parent (or a reset tree) makes the remaining chunks of this one moot."""
        if stamp != (self.generation, self._adding.get(parent_id)):
            return
        placeholder = None
        if start and parent.children and parent.children[-1].data is not None:
            last = parent.children[-1]
            if last.data is not None and last.data.row is None:
                placeholder = last
        if placeholder is not None:
            placeholder.remove()
        for row in rows[start : start + self.CHUNK]:
            node = parent.add(
                "",
                data=Item(row=row, loaded=row.child_count == 0),
                allow_expand=row.child_count > 0,
            )
            self.nodes_by_id[row.node_id] = node
        end = start + self.CHUNK
        if end < len(rows):
            note = f"loading… ({len(rows) - end:,} more)"
            parent.add_leaf(note, data=Item(note=note))
            self.call_after_refresh(self._add_chunk, parent, parent_id, rows, end, stamp)
            return
        assert parent.data is not None
        parent.data.loaded, parent.data.loading = True, False
        self._level_done(parent_id)

    def _level_done(self, parent_id: int | None) -> None:
        self.post_message(self.LevelLoaded(self, parent_id))
        if parent_id is None and self.cursor_line < 0 and self.root.children:
            self.move_cursor(self.root.children[0])
        self._continue_restore()
        self._continue_reveal()

    def _continue_restore(self) -> None:
        """Expand the remembered nodes that are in the tree now; the rest when they arrive."""
        if self._restore is None:
            return
        expanded, cursor = self._restore
        pending = False
        for node_id in expanded:
            node = self.nodes_by_id.get(node_id)
            if node is None:
                pending = True
                continue
            if not node.is_expanded:
                node.expand()
            if node.data is not None and not node.data.loaded:
                pending = True
        if cursor is not None:
            self.select_id(cursor)
        if not pending:
            self._restore = None

    # -- jumping to a node -------------------------------------------------------------------

    def reveal(self, path: list[int]) -> None:
        """Expand the path from a root down to its last node (loading levels as needed),
        then put the cursor on that node."""
        self._reveal = list(path)
        self._continue_reveal()

    def _continue_reveal(self) -> None:
        while self._reveal:
            node = self.nodes_by_id.get(self._reveal[0])
            if node is None:
                return  # its level is still loading; LevelLoaded will call back
            self._reveal.pop(0)
            if not self._reveal:
                self.place_cursor(node)
                return
            node.expand()
            if node.data is not None and not node.data.loaded:
                return

    def select_id(self, node_id: int) -> bool:
        node = self.nodes_by_id.get(node_id)
        if node is None:
            return False
        self.place_cursor(node)
        return True

    def place_cursor(self, node: TreeNode[Item], tries: int = 3) -> None:
        """Move the cursor to `node` once the tree has laid out the lines just added (a node
        added in this frame has no line yet)."""
        if node.line < 0:
            if tries:
                self.call_after_refresh(self.place_cursor, node, tries - 1)
            return
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)

    @property
    def cursor_row(self) -> NodeRow | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return node.data.row

    def expanded_ids(self) -> list[int]:
        """Ids of expanded nodes, parents before children (to restore a view after a reset)."""
        out: list[int] = []

        def walk(node: TreeNode[Item]) -> None:
            for child in node.children:
                if child.is_expanded and child.data is not None and child.data.row is not None:
                    out.append(child.data.row.node_id)
                    walk(child)

        walk(self.root)
        return out

    def action_expand_cursor(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_collapse_cursor(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    # -- after a curation edit ---------------------------------------------------------------

    def apply_index(self, index: dict[int, NodeRow]) -> None:
        """Follow the store after an edit, in place: loaded nodes take their new row (title,
        count, share, children), nodes gone from the run leave, new nodes (a split's cluster)
        join loaded parents. Open nodes and the cursor stay where they are."""
        gone = {n for n in self.nodes_by_id if n not in index}
        for node_id in gone:
            node = self.nodes_by_id.pop(node_id)
            parent = node.parent
            above = parent.data.row if parent is not None and parent.data is not None else None
            if above is None or above.node_id not in gone:  # else it goes with its parent
                node.remove()
        for node_id, node in self.nodes_by_id.items():
            row = index[node_id]
            assert node.data is not None
            node.data.row = row
            node.allow_expand = row.child_count > 0 or bool(node.children)
            node.refresh()
        for row in index.values():
            if row.node_id in self.nodes_by_id:
                continue
            parent = self.root if row.parent_id is None else self.nodes_by_id.get(row.parent_id)
            if parent is None or parent.data is None or not parent.data.loaded:
                continue  # read when its parent is expanded
            self.nodes_by_id[row.node_id] = parent.add(
                "", data=Item(row=row, loaded=row.child_count == 0),
                allow_expand=row.child_count > 0,
            )  # fmt: skip
        self.refresh(layout=True)
