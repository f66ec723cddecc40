"""The `edit` group: curate a run's clusters (reference `lmsys edit`), every change audited.

Changes (`move-query`, `move-queries`, `rename-cluster`, `merge-clusters`, `split-cluster`,
`delete-cluster`, `tag-cluster`, `flag-cluster`, `undo`) print what they did on stderr and the
audit row as JSON with --json; reads (`view-query`, `history`, `audit`, `orphaned`,
`select-bad-clusters`) print a table, or JSON/XML. Options are core/curate/options.py's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    CHROMA_SERVER,
    DB_PATH,
    JSON_OR_XML,
    STORE_PATHS,
    RunId,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.commands.params import Params, group, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.curate.options import BadClusterOptions as B
from lmsys_tui.core.curate.options import DeleteClusterOptions as D
from lmsys_tui.core.curate.options import EditBy, id_list
from lmsys_tui.core.curate.options import FlagOptions as F
from lmsys_tui.core.curate.options import HistoryOptions as H
from lmsys_tui.core.curate.options import MergeEditOptions as M
from lmsys_tui.core.curate.options import MoveOptions as V
from lmsys_tui.core.curate.options import RenameOptions as R
from lmsys_tui.core.curate.options import SplitOptions as S
from lmsys_tui.core.curate.options import TagOptions as T
from lmsys_tui.core.curate.options import UndoOptions as U
from lmsys_tui.core.options import RunArg

Editor = Annotated[
    str | None, typer.Option("--editor", help="Who makes the edit (default: the OS user).")
]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log).")]
EDIT_BY = group(editor=(Editor, None), reason=(Reason, None))
ClusterId = Annotated[int | None, typer.Option("--cluster-id", help="The cluster.")]
ChangeGroups = (EDIT_BY, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)


Change = Callable[..., Any]  # the core edit: do(db, editor=, reason=, chroma=) -> its result


def change(func: Callable[..., Change]) -> Callable[..., None]:
    """An edit command: `func` declares its own flags (Typer reads its signature) and returns
    the core call; the common flags, the error handling and the output are added here."""

    @handled
    @takes(*ChangeGroups)
    @functools.wraps(func)
    def command(*, params: Params, **own: Any) -> None:
        _run_change(params, func(**own, params=params))

    return command


def _run_change(params: Params, do: Change) -> None:
    """Run one edit with the common arguments and print what it did."""
    from lmsys_tui.core.curate.frame import Chroma

    settings = load_settings(params.db_path, params.chroma_path)
    by = EditBy.from_params(params)
    chroma = Chroma(settings.chroma, params.chroma_host, params.chroma_port)
    result = do(settings.db, editor=by.editor, reason=by.reason, chroma=chroma)
    if not params.json_out and not params.get("xml_out"):
        note(f"edit {result.edit_id}: {result.message}")
        if result.chroma.get("status") == "failed":
            note(f"Chroma not updated ({result.chroma['error']}); run {result.chroma['repair']}")
    emit(result.to_dict(), params, root="edit")


@change
def move_query(
    run_id: RunId,
    query_id: Annotated[int | None, typer.Option("--query-id", help="Query to move.")] = V.query_id,
    to_cluster: Annotated[
        int | None, typer.Option("--to-cluster", help="Target cluster.")
    ] = V.to_cluster,
    *,
    params: Params,
) -> Change:
    """Move a query to another cluster of the run."""
    from lmsys_tui.core.curate.membership import move_queries

    run, opts = RunArg.from_params(params), V.from_params(params)
    return lambda db, **kw: move_queries(db, run.run_id, opts.ids(), opts.to_cluster, **kw)


@change
def move_queries(
    run_id: RunId,
    query_ids: Annotated[
        str | None, typer.Option("--query-ids", help="Comma-separated query ids.")
    ] = V.query_ids,
    to_cluster: Annotated[
        int | None, typer.Option("--to-cluster", help="Target cluster.")
    ] = V.to_cluster,
    *,
    params: Params,
) -> Change:
    """Move several queries to a cluster (one edit, one undo)."""
    from lmsys_tui.core.curate.membership import move_queries as move

    run, opts = RunArg.from_params(params), V.from_params(params)
    return lambda db, **kw: move(db, run.run_id, opts.ids(), opts.to_cluster, **kw)


@change
def rename_cluster(
    run_id: RunId,
    cluster_id: ClusterId = R.cluster_id,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = R.title,
    description: Annotated[
        str | None, typer.Option("--description", help="New description.")
    ] = R.description,
    hierarchy_run_id: Annotated[
        str | None,
        typer.Option("--hierarchy-run-id", help="Rename this hierarchy's node (a topic) instead."),
    ] = R.hierarchy_run_id,
    *,
    params: Params,
) -> Change:
    """Rename a cluster (every summary pass and hierarchy leaf) or a hierarchy node."""
    from lmsys_tui.core.curate.labels import rename_cluster as rename

    run, o = RunArg.from_params(params), R.from_params(params)
    return lambda db, **kw: rename(
        db, run.run_id, o.cluster_id, title=o.title, description=o.description,
        hierarchy_run_id=o.hierarchy_run_id, **kw,
    )  # fmt: skip


@change
def merge_clusters(
    run_id: RunId,
    source: Annotated[
        str | None, typer.Option("--source", help="Comma-separated clusters to merge.")
    ] = M.source,
    target: Annotated[
        int | None, typer.Option("--target", help="Cluster to merge into.")
    ] = M.target,
    new_title: Annotated[
        str | None, typer.Option("--new-title", help="Title after.")
    ] = M.new_title,
    new_description: Annotated[
        str | None, typer.Option("--new-description", help="Description after.")
    ] = M.new_description,
    *,
    params: Params,
) -> Change:
    """Merge clusters into a target cluster (their queries, sizes and topics follow)."""
    from lmsys_tui.core.curate.membership import merge_clusters as merge

    run, o = RunArg.from_params(params), M.from_params(params)
    return lambda db, **kw: merge(
        db, run.run_id, id_list("--source", o.source), o.target, new_title=o.new_title,
        new_description=o.new_description, **kw,
    )  # fmt: skip


@change
def split_cluster(
    run_id: RunId,
    cluster_id: ClusterId = S.cluster_id,
    query_ids: Annotated[
        str | None, typer.Option("--query-ids", help="Comma-separated queries to split off.")
    ] = S.query_ids,
    new_title: Annotated[
        str | None, typer.Option("--new-title", help="New cluster's title.")
    ] = S.new_title,
    new_description: Annotated[
        str | None, typer.Option("--new-description", help="New cluster's description.")
    ] = S.new_description,
    *,
    params: Params,
) -> Change:
    """Split the given queries off a cluster into a new cluster."""
    from lmsys_tui.core.curate.membership import split_cluster as split

    run, o = RunArg.from_params(params), S.from_params(params)
    return lambda db, **kw: split(
        db, run.run_id, o.cluster_id, id_list("--query-ids", o.query_ids),
        new_title=o.new_title, new_description=o.new_description, **kw,
    )  # fmt: skip


@change
def delete_cluster(
    run_id: RunId,
    cluster_id: ClusterId = D.cluster_id,
    orphan: Annotated[
        bool, typer.Option("--orphan", help="Leave its queries orphaned.")
    ] = D.orphan,
    move_to: Annotated[
        int | None, typer.Option("--move-to", help="Move its queries to this cluster.")
    ] = D.move_to,
    *,
    params: Params,
) -> Change:
    """Delete a cluster; its queries become orphans (--orphan) or move (--move-to)."""
    from lmsys_tui.core.curate.membership import delete_cluster as delete

    run, o = RunArg.from_params(params), D.from_params(params)
    return lambda db, **kw: delete(
        db, run.run_id, o.cluster_id, orphan=o.orphan, move_to=o.move_to, **kw
    )


@change
def tag_cluster(
    run_id: RunId,
    cluster_id: ClusterId = T.cluster_id,
    coherence: Annotated[int | None, typer.Option("--coherence", help="1 to 5.")] = T.coherence,
    quality: Annotated[
        str | None, typer.Option("--quality", help="high | medium | low.")
    ] = T.quality,
    notes: Annotated[str | None, typer.Option("--notes", help="Free-form notes.")] = T.notes,
    *,
    params: Params,
) -> Change:
    """Tag a cluster: coherence, quality, notes."""
    from lmsys_tui.core.curate.labels import tag_cluster as tag

    run, o = RunArg.from_params(params), T.from_params(params)
    return lambda db, **kw: tag(
        db, run.run_id, o.cluster_id, coherence=o.coherence, quality=o.quality,
        notes=o.notes, **kw,
    )  # fmt: skip


@change
def flag_cluster(
    run_id: RunId,
    cluster_id: ClusterId = F.cluster_id,
    flag: Annotated[str | None, typer.Option("--flag", help="e.g. language_mixing.")] = F.flag,
    *,
    params: Params,
) -> Change:
    """Flag a cluster for review."""
    from lmsys_tui.core.curate.labels import flag_cluster as flag_it

    run, o = RunArg.from_params(params), F.from_params(params)
    return lambda db, **kw: flag_it(db, run.run_id, o.cluster_id, o.flag or "", **kw)


@change
def undo(
    edit_id: Annotated[
        int | None, typer.Argument(help="The edit to undo (default: the newest one left).")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Newest edit of this run.")] = U.run,
    *,
    params: Params,
) -> Change:
    """Undo an edit: the rows it changed are put back exactly; the undo is audited."""
    from lmsys_tui.core.curate.undo import undo as core_undo

    o = U.from_params(params)
    return lambda db, **kw: core_undo(db, edit_id, run_id=o.run, **kw)


# -- reads ---------------------------------------------------------------------------------------


@handled
@takes(DB_PATH, JSON_OR_XML)
def view_query(
    query_id: Annotated[int, typer.Argument(help="The query id.")], *, params: Params
) -> None:
    """A query in full with its cluster in every run."""
    from lmsys_tui.core.curate.reads import view_query as view

    found = view(load_settings(params.db_path).db, query_id)

    def table() -> None:
        q = found["query"]
        emit_table(f"query {query_id}", ["field", "value"],
                   [(k, q.get(k)) for k in ("model", "language", "conversation_id", "query_text")],
                   clip=400)  # fmt: skip
        emit_table("clusters", ["run", "cluster", "title", "confidence"],
                   [(c["run_id"], c["cluster_id"], c["title"], c["confidence_score"])
                    for c in found["clusters"]])  # fmt: skip

    emit(found, params, root="query", table=table)


def _edits_table(title: str, edits: list[dict[str, Any]]) -> None:
    emit_table(
        title,
        ["edit", "time", "cluster", "type", "editor", "reason", "undone by"],
        [(e["edit_id"], e["timestamp"], e["cluster_id"], e["edit_type"], e["editor"],
          e["reason"] or "", e["undone_by"] or "") for e in edits],
    )  # fmt: skip


@handled
@takes(DB_PATH, JSON_OR_XML)
def history(run_id: RunId, cluster_id: ClusterId = H.cluster_id, *, params: Params) -> None:
    """The edit history of a run, or of one cluster."""
    from lmsys_tui.core.curate.reads import history as read

    run, o = RunArg.from_params(params), H.from_params(params)
    edits = read(load_settings(params.db_path).db, run.run_id, o.cluster_id)
    emit({"edits": edits}, params, root="history",
         table=lambda: _edits_table(f"edits of {run_id}", edits))  # fmt: skip


@handled
@takes(DB_PATH, JSON_OR_XML)
def audit(
    run_id: RunId,
    since: Annotated[
        str | None, typer.Option("--since", help="Only edits since this date (YYYY-MM-DD).")
    ] = H.since,
    *,
    params: Params,
) -> None:
    """The full audit log of a run (old and new values in --json)."""
    from lmsys_tui.core.curate.reads import audit as read

    run, o = RunArg.from_params(params), H.from_params(params)
    edits = read(load_settings(params.db_path).db, run.run_id, o.since)
    emit({"edits": edits}, params, root="audit",
         table=lambda: _edits_table(f"audit log of {run_id}", edits))  # fmt: skip


@handled
@takes(DB_PATH, JSON_OR_XML)
def orphaned(run_id: RunId, *, params: Params) -> None:
    """Queries left without a cluster by delete-cluster --orphan."""
    from lmsys_tui.core.curate.reads import orphaned as read

    run = RunArg.from_params(params)
    found = read(load_settings(params.db_path).db, run.run_id)
    emit({"orphaned": found}, params, root="orphaned", table=lambda: emit_table(
        f"orphaned queries of {run_id}", ["query", "was in", "reason", "text"],
        [(r["query_id"], r["original_cluster_id"], r["reason"] or "", r["query_text"])
         for r in found]))  # fmt: skip


@handled
@takes(DB_PATH, JSON_OR_XML)
def select_bad_clusters(
    run_id: RunId,
    max_size: Annotated[int | None, typer.Option("--max-size", help="Size at most.")] = B.max_size,
    min_size: Annotated[int | None, typer.Option("--min-size", help="Size at least.")] = B.min_size,
    min_languages: Annotated[
        int | None, typer.Option("--min-languages", help="At least this many languages.")
    ] = B.min_languages,
    quality: Annotated[str | None, typer.Option("--quality", help="Tagged quality.")] = B.quality,
    max_coherence: Annotated[
        int | None, typer.Option("--max-coherence", help="Coherence at most (tag or summary).")
    ] = B.max_coherence,
    *,
    params: Params,
) -> None:
    """Clusters to review: every criterion given must hold; unsummarised ones say so."""
    from lmsys_tui.core.curate.reads import select_bad_clusters as select

    run, o = RunArg.from_params(params), B.from_params(params)
    found = select(
        load_settings(params.db_path).db, run.run_id, max_size=o.max_size, min_size=o.min_size,
        min_languages=o.min_languages, quality=o.quality, max_coherence=o.max_coherence,
    )  # fmt: skip
    emit({"clusters": found}, params, root="clusters", table=lambda: emit_table(
        f"clusters to review in {run_id}",
        ["cluster", "title", "size", "languages", "quality", "coherence", "flags", "why"],
        [(c["cluster_id"], c["title"] or "(no summary)", c["size"], c["languages"],
          c["quality"] or "", c["coherence"] or "", ",".join(c["flags"]), "; ".join(c["reasons"]))
         for c in found]))  # fmt: skip
