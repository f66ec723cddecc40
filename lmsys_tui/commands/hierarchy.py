"""Headless `merge-clusters RUN_ID` (Clio hierarchy) and `show-hierarchy HIER_ID`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DbPath, Json, Xml
from lmsys_tui.commands.output import emit, handled, note, safe_text
from lmsys_tui.commands.summarize import BaseUrlOpt, ConcurrencyOpt, ModelOpt, RpmOpt, _store
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError, UsageError


@handled
def merge_clusters(
    run_id: Annotated[str, typer.Argument(help="Clustering run whose clusters are merged.")],
    summary_run_id: Annotated[
        str | None, typer.Option(help="Summary pass naming the leaves (default: newest).")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Summary pass by alias.")] = None,
    target_levels: Annotated[int, typer.Option(help="Levels including the leaves.")] = 3,
    merge_ratio: Annotated[
        float, typer.Option(help="Each level has about this fraction of the nodes below.")
    ] = 0.35,
    neighborhood_size: Annotated[
        int, typer.Option(help="Clusters per LLM context when proposing parents (Clio: 40).")
    ] = 40,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this hierarchy run.")
    ] = None,
    db_path: DbPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Merge a run's clusters into a multi-level hierarchy (Clio; offline with no key)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge

    opts = MergeOptions(
        summary_run_id=summary_run_id,
        alias=alias,
        target_levels=target_levels,
        merge_ratio=merge_ratio,
        neighborhood_size=neighborhood_size,
        model=model,
        base_url=base_url,
        concurrency=concurrency,
        rpm=rpm,
        resume=resume,
    )
    store = _store(db_path)
    try:
        with stderr_progress(f"merge-clusters {run_id}") as progress:
            result = run_merge(store, run_id, opts, progress=progress)
    finally:
        store.close()
    if not json_out and not xml_out:
        note(result.message)
    emit(result.to_dict(), as_json=json_out, as_xml=xml_out, root="merge", table=lambda: None)


def _print_tree(data: dict[str, Any]) -> None:
    from rich.console import Console
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
            f"{data['total_queries']} queries, levels {data['levels']})"
        )
    )
    root = Tree(head)
    for n in data["tree"]:
        add(root.add(label(n)), n)
    Console(markup=False, highlight=False).print(root)


@handled
def show_hierarchy(
    hier_id: Annotated[
        str, typer.Argument(help="Hierarchy id (or a run id: its newest hierarchy).")
    ],
    max_depth: Annotated[
        int | None, typer.Option(help="Show at most this many levels below the top.")
    ] = None,
    db_path: DbPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Print a hierarchy as a tree with query counts and each node's share of the run."""
    from lmsys_tui.core.hierarchy.show import load_tree

    if max_depth is not None and max_depth < 1:
        raise UsageError("--max-depth must be at least 1")
    settings = load_settings(db_path)
    if not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db}")
    data = load_tree(settings.db, hier_id, max_depth)
    emit(data, as_json=json_out, as_xml=xml_out, root="hierarchy", table=lambda: _print_tree(data))
