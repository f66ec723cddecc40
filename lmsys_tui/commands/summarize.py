"""Headless `summarize RUN_ID`: one summary pass over a run's clusters (LLM or offline).

Defaults come from `SummarizeOptions`, which the TUI's summarize form builds too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import CHROMA_SERVER, JSON_OR_XML, LLM, STORE_PATHS
from lmsys_tui.commands.output import emit_table, handled, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.options import RunArg
from lmsys_tui.core.summarize.options import SummarizeOptions as S
from lmsys_tui.errors import LmsysError


@handled
@takes(LLM, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def summarize(
    run_id: Annotated[str, typer.Argument(help="Clustering run to summarise.")],
    max_queries: Annotated[int, typer.Option(help="Queries sampled per cluster.")] = (
        S.max_queries
    ),
    cluster_ids: Annotated[
        list[int] | None, typer.Option("--cluster-id", help="Only this cluster (repeatable).")
    ] = None,
    summary_run_id: Annotated[
        str | None, typer.Option(help="Id of the new pass (default summary-<model>-<time>).")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Friendly name of the pass.")] = None,
    contrast_neighbors: Annotated[
        int, typer.Option(help="Nearest other clusters (by centroid) shown for contrast.")
    ] = S.contrast_neighbors,
    contrast_examples: Annotated[
        int, typer.Option(help="Example queries from each contrast cluster.")
    ] = S.contrast_examples,
    use_chroma: Annotated[
        bool, typer.Option("--use-chroma", help="Also embed the summaries into Chroma.")
    ] = S.use_chroma,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue this summary pass (done clusters are kept)."),
    ] = None,
    token_budget: Annotated[
        int, typer.Option(help="Tokens of query text per prompt (long queries are cut).")
    ] = S.token_budget,
    embed_backend: Annotated[
        str, typer.Option(help="auto | torch | onnx | onnx-int8: how --use-chroma embeds.")
    ] = S.embed_backend,
    *,
    params: Params,
) -> None:
    """Title, two-sentence description and coherence (1-5) for each cluster of a run."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.summarize import run_summarize, summaries_for_pass

    run = RunArg.from_params(params)
    settings = load_settings(params.db_path, params.chroma_path)
    opts = replace(S.from_params(params), chroma_path=str(settings.chroma))
    if opts.dry_run:
        from lmsys_tui.commands.dry_run import dry_run
        from lmsys_tui.core.summarize.estimate import estimate_summarize

        dry_run(settings.db, lambda store: estimate_summarize(store, run.run_id, opts), params)
        return

    def stage(store: Any, progress: Any) -> tuple[Any, tuple[Any, dict[int, Any]]]:
        result = run_summarize(store, run.run_id, opts, progress=progress)
        return result, summaries_for_pass(store, run.run_id, summary_run_id=result.summary_run_id)

    result, (_, rows) = run_on_store(settings.db, f"summarize {run_id}", stage, create=False)
    report(
        result,
        params,
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
