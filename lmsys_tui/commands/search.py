"""`search` and `search-cluster`: the reference's options and `--json` shapes, done right.

Filters (run, clusters, language, model, dataset) are applied before ranking, so a narrow filter
still returns full top-k; facet and --by counts are exact over the matched set, which the JSON
names under `matched`. The command is a one-shot process: it ranks exactly over the stored
vectors instead of paying Chroma's import (see core/search/semantic.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    CHROMA_SERVER,
    JSON_OR_XML,
    STORE_PATHS,
    SUMMARY_PASS,
    Backend,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note, safe_text
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.commands.progress import existing_store
from lmsys_tui.errors import UsageError

Text = Annotated[str, typer.Argument(help="What to search for.")]
RunId = Annotated[
    str | None, typer.Option("--run-id", help="Search within this clustering run (and its space).")
]


@handled
@takes(SUMMARY_PASS, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def search(
    text: Text,
    search_type: Annotated[
        str, typer.Option("--search-type", help="queries (default) or clusters.")
    ] = "queries",
    run_id: RunId = None,
    cluster_ids: Annotated[
        str | None,
        typer.Option("--cluster-ids", help="Only these clusters of the run: 12,27,44."),
    ] = None,
    within_clusters: Annotated[
        str | None,
        typer.Option(
            "--within-clusters",
            help="First find the clusters nearest to this text, then search inside them.",
        ),
    ] = None,
    top_clusters: Annotated[
        int, typer.Option("--top-clusters", help="How many clusters --within-clusters uses.")
    ] = 10,
    n_results: Annotated[int, typer.Option("--n-results", help="Hits to return.")] = 10,
    n_candidates: Annotated[
        int,
        typer.Option(
            "--n-candidates",
            help="Size of the semantic candidate set that facets and --by count (nearest N).",
        ),
    ] = 250,
    by: Annotated[
        str | None, typer.Option("--by", help="Grouped counts: cluster | language | model.")
    ] = None,
    facets: Annotated[
        str | None,
        typer.Option("--facets", help="Facet counts, comma-separated: cluster,language,model."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only these languages (comma-separated).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only these LLMs (comma-separated).")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="semantic (default) | keyword (FTS5) | hybrid (RRF).")
    ] = "semantic",
    hierarchy_run_id: Annotated[
        str | None,
        typer.Option(help="With the table: show each hit's path in this hierarchy."),
    ] = None,
    snippet_chars: Annotated[
        int, typer.Option("--snippet-chars", help="Characters of query text per hit.")
    ] = 300,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="auto (exact here) | exact (numpy over stored vectors) | chroma."
        ),
    ] = "auto",
    embedding_provider: Annotated[
        str | None,
        typer.Option("--embedding-provider", help="Space to search without --run-id."),
    ] = None,
    embedding_model: Annotated[
        str | None,
        typer.Option(
            "--embedding-model",
            help="Model of the space without --run-id (a run always uses its own space).",
        ),
    ] = None,
    embed_backend: Backend = "auto",
    *,
    params: Params,
) -> None:
    """Search queries: semantic, keyword or hybrid, inside run/cluster/language/model filters."""
    from lmsys_tui.core.embed.onnx_runtime import one_shot
    from lmsys_tui.core.search import ClusterSearch, QuerySearch, Searcher
    from lmsys_tui.core.search.filters import parse_ints, parse_list

    one_shot()  # this process embeds a text or two and exits: the model starts 4x faster

    if search_type not in ("queries", "clusters"):
        raise UsageError(f"--search-type must be queries or clusters, not {search_type!r}")
    settings = existing_store(params.db_path, params.chroma_path)
    summary_run_id, alias = params.summary_run_id, params.alias
    with Searcher(
        settings.db,
        chroma_path=settings.chroma,
        chroma_host=params.chroma_host,
        chroma_port=params.chroma_port,
        interactive=False,
        backend=embed_backend,
    ) as searcher:
        if search_type == "clusters":  # the reference's `search --search-type clusters`
            found = searcher.search_clusters(
                ClusterSearch(text=text, run_id=run_id, top_k=n_results, alias=alias,
                              summary_run_id=summary_run_id)
            )  # fmt: skip
            _emit_clusters(found, params)
            return
        if run_id is not None and (embedding_model or embedding_provider):
            note("note: a run is always searched in its own embedding space")
        req = QuerySearch(
            text=text,
            run_id=run_id,
            mode=mode,
            cluster_ids=parse_ints(cluster_ids, "cluster-ids"),
            within_clusters=within_clusters,
            top_clusters=top_clusters,
            n_results=n_results,
            n_candidates=n_candidates,
            by=by,
            facets=parse_list(facets, "facets") or (),
            languages=parse_list(language, "language"),
            models=parse_list(model, "model"),
            dataset=dataset,
            summary_run_id=summary_run_id,
            alias=alias,
            hierarchy_run_id=hierarchy_run_id,
            snippet_chars=snippet_chars,
            engine=engine,
            embedding_provider=embedding_provider,
            embedding_model=embedding_model,
        )
        result = searcher.search_queries(req)
    data = result.to_json()

    def table() -> None:
        if result.applied_clusters:
            emit_table(
                "Clusters searched (--within-clusters)",
                ["cluster", "distance", "queries", "title"],
                [
                    (c.cluster_id, f"{c.distance:.3f}", c.num_queries, c.title or "")
                    for c in result.applied_clusters
                ],
            )
        columns = ["query_id", "distance", "cluster", "language", "model", "query"]
        rows = [
            (
                h.query_id,
                "" if h.distance is None else f"{h.distance:.3f}",
                "" if h.cluster_id is None else h.cluster_id,
                h.language or "",
                h.model or "",
                h.snippet.replace("\n", " "),
            )
            for h in result.hits
        ]
        if hierarchy_run_id:
            columns.insert(3, "path")
            rows = [
                (*r[:3], " > ".join(map(str, reversed(h.nodes))), *r[3:])
                for r, h in zip(rows, result.hits, strict=True)
            ]
        emit_table(f"Search: {safe_text(text, 60)}", columns, rows, clip=100)
        for name, buckets in data["facets"].items():
            emit_table(
                f"Counts by {name}",
                [name, "count"] + (["title"] if name == "clusters" else []),
                [
                    (
                        (b["cluster_id"], b["count"], b["meta"]["title"] or "")
                        if name == "clusters"
                        else (b["key"] if b["key"] is not None else "(unknown)", b["count"])
                    )
                    for b in buckets
                ],
            )
        if result.matched is not None:
            note(f"{len(result.hits)} hits; counts cover {result.matched.description}")

    emit(data, params, root="search", table=table)


def _emit_clusters(found: Any, params: Params) -> None:
    def table() -> None:
        emit_table(
            f"Clusters of {safe_text(found.request.run_id)} nearest to"
            f" {safe_text(found.request.text, 60)}"
            + (f" (summaries {safe_text(found.summary_run_id)})" if found.summary_run_id else
               " (no summaries: centroids + keywords)"),
            ["cluster", "distance", "queries", "title", "description"],
            [
                (h.cluster_id, f"{h.distance:.3f}", h.num_queries, h.title or "",
                 h.description or "")
                for h in found.hits
            ],
        )  # fmt: skip

    emit(
        found.to_json(),
        params,
        root="search_cluster",
        table=table,
    )


@handled
@takes(SUMMARY_PASS, STORE_PATHS, JSON_OR_XML)
def search_cluster(
    text: Text,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="The run whose clusters to rank (default: the newest)."),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Clusters to return.")] = 20,
    embed_backend: Backend = "auto",
    *,
    params: Params,
) -> None:
    """Rank a run's clusters by their summaries (one pass), or centroids + keywords before any."""
    from lmsys_tui.core.embed.onnx_runtime import one_shot
    from lmsys_tui.core.search import ClusterSearch, Searcher

    one_shot()  # as in `search`

    settings = existing_store(params.db_path, params.chroma_path)
    with Searcher(
        settings.db, chroma_path=settings.chroma, interactive=False, backend=embed_backend
    ) as searcher:
        found = searcher.search_clusters(
            ClusterSearch(
                text=text,
                run_id=run_id,
                alias=params.alias,
                summary_run_id=params.summary_run_id,
                top_k=top_k,
            )
        )
    _emit_clusters(found, params)
