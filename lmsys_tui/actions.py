"""The one registry of user actions, read by both front doors.

Each action is declared once: its headless command (where it has one), the callable that
implements that command, and its TUI key, palette title and help text. The CLI is built from
this list, and so are the TUI's bindings, palette and help screen; a parity test iterates it.
Plain declarations only: importing this module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    id: str
    title: str  # palette title, "verb: object"
    help: str
    command: str | None = None  # headless command path, e.g. "load" or "chroma info"
    target: str | None = None  # "module:function" implementing the headless command
    key: str | None = None  # TUI binding
    tui: bool = True  # reachable in the TUI (key, palette or screen)
    show_in_footer: bool = False
    footer: str | None = None  # short footer label (default: the object of the title)


ACTIONS: tuple[Action, ...] = (
    Action(
        "load",
        "Load: dataset",
        "Load conversations (first user turn + metadata) into the store.",
        command="load",
        target="lmsys_tui.commands.data:load",
        key="l",
    ),
    Action(
        "datasets",
        "Show: datasets",
        "List the datasets in the store with their query counts.",
        command="datasets",
        target="lmsys_tui.commands.data:datasets",
        key="d",
        show_in_footer=True,
    ),
    Action(
        "runs",
        "Show: clustering runs",
        "List clustering runs, newest first.",
        command="runs",
        target="lmsys_tui.commands.runs:runs",
        key="r",
        show_in_footer=True,
    ),
    Action(
        "status",
        "Show: store status",
        "Store path, schema version and row counts.",
        command="status",
        target="lmsys_tui.commands.runs:status",
        key="s",
    ),
    Action(
        "embed",
        "Embed: queries",
        "Embed the distinct query texts not stored yet (each text once per space, resumable).",
        command="embed",
        target="lmsys_tui.commands.embed:embed",
    ),
    Action(
        "backfill-chroma",
        "Backfill: Chroma",
        "Add to Chroma the queries it lacks, from the embedding store (embeds nothing).",
        command="backfill-chroma",
        target="lmsys_tui.commands.embed:backfill_chroma",
    ),
    Action(
        "chroma-info",
        "Show: Chroma collections",
        "List Chroma collections with their counts, distance and embedding space.",
        command="chroma info",
        target="lmsys_tui.commands.embed:chroma_info",
    ),
    Action(
        "clear",
        "Clear: store",
        "Delete the SQLite store, its vectors and the Chroma folder.",
        command="clear",
        target="lmsys_tui.commands.data:clear",
    ),
    Action(
        "cluster-kmeans",
        "Cluster: k-means",
        "Run MiniBatchKMeans clustering (shuffled epochs until it converges).",
        command="cluster kmeans",
        target="lmsys_tui.commands.cluster:kmeans",
        key="k",
    ),
    Action(
        "cluster-hdbscan",
        "Cluster: HDBSCAN",
        "Run HDBSCAN clustering after dimension reduction (noise kept as cluster -1).",
        command="cluster hdbscan",
        target="lmsys_tui.commands.cluster:hdbscan",
    ),
    Action(
        "list-clusters",
        "Show: clusters of a run",
        "List a run's clusters, largest first, with titles (summary, else keywords).",
        command="list-clusters",
        target="lmsys_tui.commands.browse:list_clusters",
    ),
    Action(
        "inspect",
        "Show: cluster detail",
        "Inspect one cluster: size, title, keywords and its most central queries.",
        command="inspect",
        target="lmsys_tui.commands.browse:inspect",
        key="g",
    ),
    Action(
        "list",
        "Show: queries",
        "List queries in id order, filtered; page with --after-id (keyset, never OFFSET).",
        command="list",
        target="lmsys_tui.commands.browse:list_queries",
        key="v",
        show_in_footer=True,
    ),
    Action(
        "export",
        "Export: run",
        "Export a run's queries with their clusters: csv, json, jsonl or parquet (streamed).",
        command="export",
        target="lmsys_tui.commands.export:export",
        key="e",
    ),
    Action(
        "summarize",
        "Summarize: clusters",
        "Title, description and coherence per cluster (LLM, or offline c-TF-IDF with no key).",
        command="summarize",
        target="lmsys_tui.commands.summarize:summarize",
        key="u",
    ),
    Action(
        "merge-clusters",
        "Merge: clusters into a hierarchy",
        "Clio hierarchy: propose, dedupe, assign and rename parents level by level.",
        command="merge-clusters",
        target="lmsys_tui.commands.hierarchy:merge_clusters",
        key="m",
    ),
    Action(
        "show-hierarchy",
        "Show: hierarchy",
        "A hierarchy as a tree with query counts and each node's share of the run.",
        command="show-hierarchy",
        target="lmsys_tui.commands.hierarchy:show_hierarchy",
        key="h",
    ),
    Action(
        "delete",
        "Delete: run, summary pass or hierarchy",
        "Delete one clustering run, summary pass or hierarchy and what depends on it (asks first).",
        command="delete",
        target="lmsys_tui.commands.delete:delete",
        key="x",
    ),
    Action(
        "demo",
        "Build: demo store",
        "Load packaged ShareGPT, embed, k-means, summarize and merge offline; reuses what exists.",
        command="demo",
        target="lmsys_tui.commands.demo:demo",
        key="b",
    ),
    Action(
        "search",
        "Search: queries",
        "Semantic, keyword or hybrid search inside run/cluster/language/model filters.",
        command="search",
        target="lmsys_tui.commands.search:search",
        key="slash",
        show_in_footer=True,
        footer="search",
    ),
    Action(
        "search-cluster",
        "Search: clusters",
        "Rank a run's clusters by their summaries (or centroids and keywords before any).",
        command="search-cluster",
        target="lmsys_tui.commands.search:search_cluster",
    ),
    Action(
        "verify-sync",
        "Verify: SQLite and Chroma agree",
        "Check a run's Chroma documents against SQLite by ids and content; --fix repairs them.",
        command="verify sync",
        target="lmsys_tui.commands.verify:verify_sync",
    ),
    Action("help", "Show: help", "Keys and actions.", key="f1", show_in_footer=True),
    Action("quit", "Quit", "Leave lmsys-tui.", key="ctrl+q", show_in_footer=True),
    Action(
        "edit-view-query",
        "Edit: view query",
        "A query in full with its cluster in every run.",
        command="edit view-query",
        target="lmsys_tui.commands.edit:view_query",
    ),
    Action(
        "edit-move-query",
        "Edit: move query",
        "Move one query to another cluster of the run (audited, undoable).",
        command="edit move-query",
        target="lmsys_tui.commands.edit:move_query",
    ),
    Action(
        "edit-move-queries",
        "Edit: move selected queries",
        "Move queries to another cluster (in the TUI: the drill-down's selection, via a picker).",
        command="edit move-queries",
        target="lmsys_tui.commands.edit:move_queries",
        key="o",
    ),
    Action(
        "edit-rename-cluster",
        "Edit: rename cluster or topic",
        "New title/description of a cluster (all passes, hierarchy leaves) or a hierarchy node.",
        command="edit rename-cluster",
        target="lmsys_tui.commands.edit:rename_cluster",
        key="f2",
    ),
    Action(
        "edit-merge-clusters",
        "Edit: merge clusters",
        "Merge clusters into a target; queries, sizes, roll-ups and Chroma follow.",
        command="edit merge-clusters",
        target="lmsys_tui.commands.edit:merge_clusters",
        key="j",
    ),
    Action(
        "edit-split-cluster",
        "Edit: split cluster",
        "Split the given queries off a cluster into a new cluster.",
        command="edit split-cluster",
        target="lmsys_tui.commands.edit:split_cluster",
        key="n",
    ),
    Action(
        "edit-delete-cluster",
        "Edit: delete cluster",
        "Delete a cluster; its queries become orphans or move to another cluster.",
        command="edit delete-cluster",
        target="lmsys_tui.commands.edit:delete_cluster",
    ),
    Action(
        "edit-tag-cluster",
        "Edit: tag cluster",
        "Tag a cluster: coherence 1-5, quality high/medium/low, notes.",
        command="edit tag-cluster",
        target="lmsys_tui.commands.edit:tag_cluster",
        key="a",
    ),
    Action(
        "edit-flag-cluster",
        "Edit: flag cluster",
        "Flag a cluster for review, such as language_mixing.",
        command="edit flag-cluster",
        target="lmsys_tui.commands.edit:flag_cluster",
        key="f",
    ),
    Action(
        "edit-history",
        "Edit: cluster history",
        "The edits of a run, or of one cluster.",
        command="edit history",
        target="lmsys_tui.commands.edit:history",
    ),
    Action(
        "edit-audit",
        "Edit: audit log",
        "Every edit of a run with editor, time, old and new values, reason.",
        command="edit audit",
        target="lmsys_tui.commands.edit:audit",
        key="y",
    ),
    Action(
        "edit-orphaned",
        "Edit: orphaned queries",
        "Queries left without a cluster by delete-cluster --orphan.",
        command="edit orphaned",
        target="lmsys_tui.commands.edit:orphaned",
    ),
    Action(
        "edit-select-bad-clusters",
        "Edit: clusters to review",
        "Clusters by size, languages, quality or coherence; unsummarised ones too.",
        command="edit select-bad-clusters",
        target="lmsys_tui.commands.edit:select_bad_clusters",
    ),
    Action(
        "edit-undo",
        "Edit: undo",
        "Undo an edit (default: the newest one left): its rows put back exactly.",
        command="edit undo",
        target="lmsys_tui.commands.edit:undo",
        key="ctrl+z",
    ),
)


# Help lines of the command groups (the first word of a two-word `command`), for `--help`.
GROUPS: dict[str, str] = {
    "chroma": "Chroma, the vector store beside SQLite: its collections.",
    "cluster": "Cluster the queries by their embeddings: kmeans, hdbscan.",
    "verify": "Check that SQLite and Chroma agree (and repair Chroma).",
    "edit": "Curate a run's clusters: move, rename, merge, split, delete, tag; audit and undo.",
}


def by_id(action_id: str) -> Action:
    for action in ACTIONS:
        if action.id == action_id:
            return action
    raise KeyError(action_id)


def headless_command(action: Action, *args: str) -> str | None:
    """The shell command that does what `action` does, for "show the headless command"."""
    if action.command is None:
        return None
    return " ".join(["lmsys-tui --headless", action.command, *args])
