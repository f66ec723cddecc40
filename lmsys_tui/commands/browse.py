"""Browsing a run: `list-clusters`, `inspect`, and `list` (queries, keyset-paged).

Thin: the JSON comes from `core/read/listing.py`, the read layer the TUI uses too. Read-only
and quick (stdlib sqlite3, no SQLAlchemy). Unknown runs, clusters, nodes or datasets are a
one-line error with exit 3. Tables show untrusted text inert (no markup, no escapes).
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML, SUMMARY_PASS, RunId
from lmsys_tui.commands.output import emit, emit_table, handled, note, safe_text
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.commands.progress import existing_store


@handled
@takes(SUMMARY_PASS, DB_PATH, JSON_OR_XML)
def list_clusters(
    run_id: RunId,
    show_examples: Annotated[
        int, typer.Option(help="Show the N most central queries of each cluster.")
    ] = 0,
    limit: Annotated[int | None, typer.Option(help="Show at most N clusters.")] = None,
    example_width: Annotated[int, typer.Option(help="Characters per example query.")] = 80,
    *,
    params: Params,
) -> None:
    """List a run's clusters, largest first, with titles (summary, else keywords)."""
    from lmsys_tui.core.read.listing import list_clusters as core_list

    data = core_list(
        existing_store(params.db_path).db,
        run_id,
        limit=limit,
        show_examples=show_examples,
        example_width=example_width,
        summary_run_id=params.summary_run_id,
        alias=params.alias,
    )

    def table() -> None:
        emit_table(
            f"Clusters of {safe_text(run_id)}"
            + (f" (titles: {safe_text(data['summary_run_id'])})" if data["summary_run_id"] else ""),
            ["cluster", "queries", "share", "title"],
            [
                (c["cluster_id"], c["num_queries"], f"{c['share']:.1%}", c["title"])
                for c in data["clusters"]
            ],
        )
        if show_examples:
            emit_table(
                "Examples (most central first)",
                ["cluster", "query_id", "query"],
                [
                    (c["cluster_id"], ex["query_id"], ex["text"])
                    for c in data["clusters"]
                    for ex in c.get("examples", [])
                ],
                clip=example_width,
            )
        note(f"{len(data['clusters'])} of {data['total_clusters']} clusters")

    emit(data, params, root="clusters", table=table)


@handled
@takes(SUMMARY_PASS, DB_PATH, JSON_OR_XML)
def inspect(
    run_id: RunId,
    cluster_id: Annotated[
        int, typer.Argument(help="Cluster id; HDBSCAN noise is -1 (write it after --: -- -1).")
    ],
    show_queries: Annotated[int, typer.Option(help="Number of queries to show.")] = 10,
    *,
    params: Params,
) -> None:
    """Inspect one cluster: size, title, keywords and its most central queries."""
    from lmsys_tui.core.read.listing import inspect_cluster

    data = inspect_cluster(
        existing_store(params.db_path).db,
        run_id,
        cluster_id,
        show_queries=show_queries,
        summary_run_id=params.summary_run_id,
        alias=params.alias,
    )

    def table() -> None:
        emit_table(
            f"Cluster {cluster_id} of {safe_text(run_id)}",
            ["field", "value"],
            [
                ("title", data["title"]),
                ("description", data["description"] or ""),
                ("queries", f"{data['num_queries']} ({data['share']:.1%})"),
                ("keywords", ", ".join(data["keywords"])),
            ],
            clip=200,
        )
        emit_table(
            "Queries (most central first)",
            ["query_id", "distance", "model", "language", "query"],
            [
                (
                    q["query_id"],
                    "" if q["distance"] is None else f"{q['distance']:.4f}",
                    q["model"] or "",
                    q["language"] or "",
                    q["query_text"],
                )
                for q in data["queries"]
            ],
            clip=100,
        )
        if data["more"]:
            note(
                f"... and {data['more']} more; lmsys-tui --headless list --run-id "
                f"{run_id} --cluster-id {cluster_id}"
            )

    emit(data, params, root="cluster", table=table)


@handled
@takes(DB_PATH, JSON_OR_XML)
def list_queries(
    run_id: Annotated[str | None, typer.Option(help="Only queries of this run.")] = None,
    cluster_id: Annotated[
        int | None, typer.Option(help="Only this cluster (needs --run-id).")
    ] = None,
    node: Annotated[
        int | None,
        typer.Option(help="Only the clusters under this hierarchy node (needs --run-id)."),
    ] = None,
    hierarchy_id: Annotated[
        str | None,
        typer.Option(help="The hierarchy of --node (default: the run's newest finished one)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    language: Annotated[str | None, typer.Option(help="Only this language code.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset label.")] = None,
    order: Annotated[
        str | None,
        typer.Option(
            help="id (default), distance (closest to the centroid first) or -distance"
            " (farthest first); the distance orders need --run-id."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Queries per page (1-10000).")] = 50,
    after_id: Annotated[
        int | None, typer.Option(help="Page after this query id (the previous next_after_id).")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(help="Page after this key (the previous next_after; any order)."),
    ] = None,
    *,
    params: Params,
) -> None:
    """List queries, filtered, in id or distance order; keyset pages (never OFFSET)."""
    from lmsys_tui.core.read.listing import list_queries as core_list

    data = core_list(
        existing_store(params.db_path).db,
        run_id=run_id,
        cluster_id=cluster_id,
        node=node,
        hierarchy_id=hierarchy_id,
        model=model,
        language=language,
        dataset=dataset,
        order=order,
        limit=limit,
        after_id=after_id,
        after=after,
    )

    def table() -> None:
        cols = ["query_id", "dataset", "model", "language", "query"]
        if run_id:
            cols.insert(1, "cluster")
        rows = []
        for q in data["queries"]:
            row = [q["query_id"], q["dataset"], q["model"] or "", q["language"] or ""]
            if run_id:
                row.insert(1, q["cluster_id"])
            rows.append((*row, q["query_text"]))
        emit_table("Queries", cols, rows)
        if data.get("next_after_id") is not None:
            note(f"next page: --after-id {data['next_after_id']}")
        elif data.get("next_after") is not None:
            note(f"next page: --after={data['next_after']}")

    emit(data, params, root="queries", table=table)
