"""Curation in the TUI: the `edit-*` actions of the registry on the explorer and drill-down.

Every edit runs the same core function as `lmsys-tui --headless edit …` in a thread worker
(`edit_runner.EditRunner`). After it, the explorer re-reads its
node index and updates the loaded tree in place (`ClusterTree.apply_index`): titles, counts and
shares change where they are, merged or deleted clusters leave, a split's new cluster appears,
and the cursor and open nodes stay.

On the explorer (the highlighted node): rename (F2, a cluster or a topic), merge into a cluster
picked from a list, delete (orphaning its queries, after a yes), tag, flag, undo (ctrl+z), the
audit log and the node's history. On the drill-down: space marks queries, then move them to a
picked cluster or split them off into a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.tui.screens.edit_runner import EditRunner
from lmsys_tui.tui.text import plain

if TYPE_CHECKING:
    from lmsys_tui.core.read.tree import NodeRow


class ExplorerEditing(EditRunner):
    """The explorer's `do_edit_*` handlers (ExplorerScreen mixes this in)."""

    view: Any
    tree: Any
    detail: Any
    index: Any
    _edit_pending: bool = False

    def _row(self, *, cluster: bool = False) -> NodeRow | None:
        row = self.tree.cursor_row
        if self.view is None or row is None:
            self.app.notify("Put the cursor on a cluster first.", markup=False)
            return None
        if cluster and not row.is_cluster:
            self.app.notify("That works on a cluster, not on a topic above clusters.", markup=False)
            return None
        return row

    def edited(self, result: Any) -> None:
        """Re-read the node index; the tree takes it in place when it arrives."""
        if self.view is not None:
            self._edit_pending = True
            self.load_index(self.view)  # type: ignore[attr-defined]

    def index_after_edit(self, index: dict[int, Any]) -> None:
        """(IndexLoaded after an edit) the loaded tree follows the store, and the detail."""
        self._edit_pending = False
        self.tree.apply_index(index)
        row = self.tree.cursor_row
        if row is not None:
            self.detail.wanted_id = None
            self.detail.want(row)

    def curation_of(self, view: Any, cluster_id: int) -> dict[str, Any] | None:
        """(worker thread) The cluster's tags, flags and edit count for the detail panel."""
        from lmsys_tui.core.curate.reads import cluster_tags
        from lmsys_tui.core.store.sql import reader

        with reader(self.lmsys.settings.db) as conn:
            return cluster_tags(conn, view.run_id, cluster_id)

    def do_edit_rename_cluster(self) -> None:
        from lmsys_tui.core.curate.labels import rename_cluster

        row = self._row()
        if row is None:
            return
        db, run, hier = self.lmsys.settings.db, self.view.run_id, self.view.hierarchy_run_id
        topic = None if row.is_cluster else hier
        what = "cluster" if row.is_cluster else "topic"
        self.ask(
            f"Rename {what} {row.node_id}",
            [("title", "Title", row.title)],
            lambda v: self.run_edit(
                lambda ch: rename_cluster(db, run, row.node_id, title=v["title"],
                                          hierarchy_run_id=topic, chroma=ch)
            ),
        )  # fmt: skip

    def do_edit_merge_clusters(self) -> None:
        from lmsys_tui.core.curate.membership import merge_clusters

        row = self._row(cluster=True)
        if row is None:
            return
        db, run = self.lmsys.settings.db, self.view.run_id
        self.pick_cluster(
            f"Merge cluster {row.node_id} into…",
            {row.node_id},
            lambda target: self.run_edit(
                lambda ch: merge_clusters(db, run, [row.node_id], target, chroma=ch)
            ),
        )

    def do_edit_split_cluster(self) -> None:
        row = self._row(cluster=True)
        if row is not None:
            self.app.notify("Mark the queries to split off (space), then press n.", markup=False)
            self.open_queries(row)  # type: ignore[attr-defined]

    def do_edit_delete_cluster(self) -> None:
        from lmsys_tui.core.curate.membership import delete_cluster
        from lmsys_tui.tui.screens.confirm import ConfirmScreen

        row = self._row(cluster=True)
        if row is None:
            return
        db, run = self.lmsys.settings.db, self.view.run_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_edit(
                    lambda ch: delete_cluster(db, run, row.node_id, orphan=True, chroma=ch)
                )

        question = (f"Delete cluster {row.node_id} ({plain(row.title, 80)})? Its {row.count:,}"
                    " queries become orphans (edit undo puts everything back).")  # fmt: skip
        self.app.push_screen(ConfirmScreen("Delete cluster", question), answered)

    def do_edit_tag_cluster(self) -> None:
        from lmsys_tui.core.curate.labels import tag_cluster

        row = self._row(cluster=True)
        if row is None:
            return
        db, run = self.lmsys.settings.db, self.view.run_id

        def tag(v: dict[str, str]) -> None:
            coherence = v["coherence"].strip()
            if coherence and not coherence.isdigit():
                self.app.notify("coherence must be a whole number 1-5", severity="error",
                                markup=False)  # fmt: skip
                return
            self.run_edit(lambda ch: tag_cluster(
                db, run, row.node_id, coherence=int(coherence) if coherence else None,
                quality=v["quality"].strip() or None, notes=v["notes"].strip() or None,
                chroma=ch,
            ))  # fmt: skip

        fields = [("coherence", "Coherence (1-5)", ""),
                  ("quality", "Quality (high/medium/low)", ""), ("notes", "Notes", "")]  # fmt: skip
        self.ask(f"Tag cluster {row.node_id}", fields, tag)

    def do_edit_flag_cluster(self) -> None:
        from lmsys_tui.core.curate.labels import flag_cluster

        row = self._row(cluster=True)
        if row is None:
            return
        db, run = self.lmsys.settings.db, self.view.run_id
        self.ask(f"Flag cluster {row.node_id}", [("flag", "Flag", "review")],
                 lambda v: self.run_edit(lambda ch: flag_cluster(db, run, row.node_id, v["flag"],
                                                                 chroma=ch)))  # fmt: skip

    def do_edit_undo(self) -> None:
        from lmsys_tui.core.curate.undo import undo

        if self.view is not None:
            db, run = self.lmsys.settings.db, self.view.run_id
            self.run_edit(lambda ch: undo(db, run_id=run, chroma=ch))

    def do_edit_audit(self) -> None:
        from lmsys_tui.tui.screens.audit import AuditScreen

        if self.view is not None:
            self.app.push_screen(AuditScreen(self.view.run_id))

    def do_edit_history(self) -> None:
        from lmsys_tui.tui.screens.audit import AuditScreen

        row = self._row(cluster=True)
        if row is not None:
            self.app.push_screen(AuditScreen(self.view.run_id, cluster_id=row.node_id))

    def do_edit_orphaned(self) -> None:
        from lmsys_tui.tui.screens.audit import AuditScreen

        if self.view is not None:
            self.app.push_screen(AuditScreen(self.view.run_id, kind="orphaned"))

    def do_edit_select_bad_clusters(self) -> None:
        from lmsys_tui.tui.screens.audit import AuditScreen

        if self.view is not None:
            self.app.push_screen(AuditScreen(self.view.run_id, kind="review"))

    def do_edit_view_query(self) -> None:
        from lmsys_tui.tui.screens.query import QueryScreen

        def show(v: dict[str, str]) -> None:
            text = v["query_id"].strip()
            if not text.isdigit():
                self.app.notify("a query id is a whole number", severity="error", markup=False)
                return
            self.app.push_screen(QueryScreen(self.view, int(text)))

        if self.view is not None:
            self.ask("View query", [("query_id", "Query id", "")], show)


class QueriesEditing(EditRunner):
    """The drill-down's `do_edit_*` handlers: the marked queries (space), else the cursor's."""

    view: Any
    row: Any
    marked: set[int]

    def _cursor_query(self) -> int | None:
        from textual.widgets import DataTable

        table = self.query_one("#queries", DataTable)  # type: ignore[attr-defined]
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else int(key)

    def _chosen(self) -> list[int]:
        if self.marked:
            return sorted(self.marked)
        cursor = self._cursor_query()
        return [] if cursor is None else [cursor]

    def _move(self, ids: list[int]) -> None:
        from lmsys_tui.core.curate.membership import move_queries

        if not ids:
            self.app.notify("No query here to move.", markup=False)
            return
        db, run = self.lmsys.settings.db, self.view.run_id
        but = {self.row.node_id} if self.row.is_cluster else set()
        what = f"query {ids[0]}" if len(ids) == 1 else f"{len(ids)} queries"
        self.pick_cluster(
            f"Move {what} to…",
            but,
            lambda target: self.run_edit(lambda ch: move_queries(db, run, ids, target, chroma=ch)),
        )

    def do_edit_move_queries(self) -> None:
        self._move(self._chosen())

    def do_edit_move_query(self) -> None:
        cursor = self._cursor_query()
        self._move([] if cursor is None else [cursor])

    def do_edit_split_cluster(self) -> None:
        from lmsys_tui.core.curate.membership import split_cluster

        if not self.row.is_cluster:
            self.app.notify("Split works on a cluster's queries.", markup=False)
            return
        ids = sorted(self.marked)
        if not ids:
            self.app.notify("Mark the queries to split off with space first.", markup=False)
            return
        db, run, cid = self.lmsys.settings.db, self.view.run_id, self.row.node_id
        self.ask(
            f"Split {len(ids)} queries off cluster {cid}",
            [("title", "New cluster's title", "")],
            lambda v: self.run_edit(
                lambda ch: split_cluster(db, run, cid, ids, new_title=v["title"], chroma=ch)
            ),
        )

    def edited(self, result: Any) -> None:
        self.marked.clear()
        self.refetch()  # type: ignore[attr-defined]
