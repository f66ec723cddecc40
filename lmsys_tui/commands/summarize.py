"""Headless `summarize RUN_ID`: one summary pass over a run's clusters (LLM or offline)."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import ChromaPath, DbPath, Json, Xml
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import LmsysError, NotFoundError

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="anthropic/…, openai/…, groq/…, ollama/…, any provider/name with --base-url, or "
        "offline. Default: the first provider with a key set, else offline.",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server URL (vLLM, llama.cpp, …); also $LMSYS_TUI_LLM_BASE_URL.",
    ),
]
ConcurrencyOpt = Annotated[int, typer.Option(help="Requests in flight at once.")]
RpmOpt = Annotated[
    float | None, typer.Option("--rpm", help="At most this many requests per minute.")
]


def _store(db_path):  # type: ignore[no-untyped-def]
    from lmsys_tui.core.store.db import open_store

    settings = load_settings(db_path)
    if not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db} (run `load` first)")
    return open_store(settings.db)


@handled
def summarize(
    run_id: Annotated[str, typer.Argument(help="Clustering run to summarise.")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    max_queries: Annotated[int, typer.Option(help="Queries sampled per cluster.")] = 100,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    cluster_id: Annotated[
        list[int] | None, typer.Option("--cluster-id", help="Only this cluster (repeatable).")
    ] = None,
    summary_run_id: Annotated[
        str | None, typer.Option(help="Id of the new pass (default summary-<model>-<time>).")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Friendly name of the pass.")] = None,
    contrast_neighbors: Annotated[
        int, typer.Option(help="Nearest other clusters (by centroid) shown for contrast.")
    ] = 2,
    contrast_examples: Annotated[
        int, typer.Option(help="Example queries from each contrast cluster.")
    ] = 2,
    use_chroma: Annotated[
        bool, typer.Option("--use-chroma", help="Also embed the summaries into Chroma.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue this summary pass (done clusters are kept)."),
    ] = None,
    token_budget: Annotated[
        int, typer.Option(help="Tokens of query text per prompt (long queries are cut).")
    ] = 6000,
    embed_backend: Annotated[
        str, typer.Option(help="auto | torch | onnx | onnx-int8: how --use-chroma embeds.")
    ] = "auto",
    chroma_host: Annotated[
        str | None, typer.Option(help="Chroma server host (default: embedded).")
    ] = None,
    chroma_port: Annotated[int | None, typer.Option(help="Chroma server port.")] = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Title, two-sentence description and coherence (1-5) for each cluster of a run."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize, summaries_for_pass

    settings = load_settings(db_path, chroma_path)
    opts = SummarizeOptions(
        model=model,
        base_url=base_url,
        max_queries=max_queries,
        concurrency=concurrency,
        rpm=rpm,
        cluster_ids=list(cluster_id) if cluster_id else None,
        summary_run_id=summary_run_id,
        alias=alias,
        contrast_neighbors=contrast_neighbors,
        contrast_examples=contrast_examples,
        use_chroma=use_chroma,
        chroma_path=str(settings.chroma),
        chroma_host=chroma_host,
        chroma_port=chroma_port,
        embed_backend=embed_backend,
        resume=resume,
        token_budget=token_budget,
    )
    store = _store(db_path)
    try:
        with stderr_progress(f"summarize {run_id}") as progress:
            result = run_summarize(store, run_id, opts, progress=progress)
        _, rows = summaries_for_pass(store, run_id, summary_run_id=result.summary_run_id)
    finally:
        store.close()
    data = result.to_dict()
    if not json_out and not xml_out:
        note(result.message)
    emit(
        data,
        as_json=json_out,
        as_xml=xml_out,
        root="summarize",
        table=lambda: emit_table(
            f"Summary pass {result.summary_run_id} ({result.model})",
            ["cluster", "queries", "coherence", "status", "title"],
            [
                (
                    r["cluster_id"],
                    r["num_queries"],
                    r["coherence"],
                    r["status"],
                    r["title"] or r["error"],
                )
                for r in rows.values()
            ],
        ),
    )
    if result.failed:
        raise LmsysError(result.message)
