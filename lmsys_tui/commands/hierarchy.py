"""Headless `merge-clusters RUN_ID` (Clio hierarchy) and `show-hierarchy HIER_ID`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML, LLM, SUMMARY_PASS
from lmsys_tui.commands.output import emit, handled, report, safe_text, stdout_console
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.hierarchy.options import MergeOptions as M
from lmsys_tui.core.options import RunArg
from lmsys_tui.errors import UsageError


@handled
@takes(SUMMARY_PASS, LLM, DB_PATH, JSON_OR_XML)
def merge_clusters(
    run_id: Annotated[str, typer.Argument(help="Clustering run whose clusters are merged.")],
    target_levels: Annotated[int, typer.Option(help="Levels including the leaves.")] = (
        M.target_levels
    ),
    merge_ratio: Annotated[
        float | None,
        typer.Option(
            help="Each level has this fraction of the nodes below (default: sizes chosen from "
            "the centroids by silhouette, the top within 4-30 nodes)."
        ),
    ] = M.merge_ratio,
    top_nodes: Annotated[
        int | None,
        typer.Option(help="Nodes at the top level (default: chosen from the centroids)."),
    ] = M.top_nodes,
    neighborhood_size: Annotated[
        int, typer.Option(help="Clusters per LLM context when proposing parents (Clio: 40).")
    ] = M.neighborhood_size,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this hierarchy run.")
    ] = None,
    llm_provider: Annotated[
        str | None,
        typer.Option(
            help="anthropic | openai | groq | ...: with --llm-model, same as --model P/M."
        ),
    ] = M.llm_provider,
    llm_model: Annotated[
        str | None, typer.Option(help="Model name at --llm-provider (the reference's spelling).")
    ] = M.llm_model,
    embedding_model: Annotated[
        str | None,
        typer.Option(
            "--embedding-model",
            help="sentence-transformers model that embeds titles (default: the run's model).",
        ),
    ] = M.embedding_model,
    *,
    params: Params,
) -> None:
    """Merge a run's clusters into a multi-level hierarchy (Clio; offline with no key)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.hierarchy.merge import run_merge

    run, opts = RunArg.from_params(params), M.from_params(params)
    if opts.dry_run:
        from lmsys_tui.commands.dry_run import dry_run
        from lmsys_tui.core.hierarchy.estimate import estimate_merge

        db = load_settings(params.db_path).db
        dry_run(db, lambda store: estimate_merge(store, run.run_id, opts), params)
        return
    result = run_on_store(
        load_settings(params.db_path).db,
        f"merge-clusters {run_id}",
        lambda store, progress: run_merge(store, run.run_id, opts, progress=progress),
        create=False,
    )
    report(result, params, root="merge")


def _shape_note(data: dict[str, Any]) -> str:
    """How the level sizes were chosen, and each LLM level that was built offline instead."""
    shape = data.get("shape") or {}
    note = f"; sizes by {shape['method']}" if shape.get("method") else ""
    if shape.get("score") is not None:
        note += f", top silhouette {shape['score']:.2f}"
    for fb in data.get("fallbacks") or []:
        note += f"; level {fb['level']} built offline ({fb['reason']})"
    return note


def _print_tree(data: dict[str, Any]) -> None:
    from rich.text import Text
    from rich.tree import Tree

    def label(n: dict[str, Any]) -> Text:
        text = Text(safe_text(n["title"] or f"cluster {n['cluster_id']}", 100), style="bold")
        text.append(f"  {n['query_count']} queries, {n['share']:.1%}", style="dim")
        if n["level"] > 0:
            text.append(f", {n['num_children']} children", style="dim")
        text.append(f"  [{n['cluster_id']}]", style="dim")
        return text

    def add(branch: Tree, n: dict[str, Any]) -> None:
        for child in n["children"]:
            add(branch.add(label(child)), child)

    head = Text(
        safe_text(
            f"{data['hierarchy_run_id']} (run {data['run_id']}, "
            f"{data['total_queries']} queries, levels {data['levels']}{_shape_note(data)})"
        )
    )
    root = Tree(head)
    for n in data["tree"]:
        add(root.add(label(n)), n)
    stdout_console().print(root)


@handled
@takes(DB_PATH, JSON_OR_XML)
def show_hierarchy(
    hier_id: Annotated[
        str, typer.Argument(help="Hierarchy id (or a run id: its newest hierarchy).")
    ],
    max_depth: Annotated[
        int | None, typer.Option(help="Show at most this many levels below the top.")
    ] = None,
    *,
    params: Params,
) -> None:
    """Print a hierarchy as a tree with query counts and each node's share of the run."""
    from lmsys_tui.commands.progress import existing_store
    from lmsys_tui.core.hierarchy.show import load_tree

    if max_depth is not None and max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    data = load_tree(existing_store(params.db_path).db, hier_id, max_depth)
    emit(
        data,
        params,
        root="hierarchy",
        table=lambda: _print_tree(data),
    )
