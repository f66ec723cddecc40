"""Option types and option groups shared by the headless commands (names as in the reference
`lmsys` CLI).

Each type is declared once with its help text; its default comes from the core options class
the command builds (`= EmbedOptions.embed_batch_size`), so no default is written twice. A block
of options that several commands take is one group below (`commands/params.py` says how a
command takes it): each group's name says what it holds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.params import Params, group
from lmsys_tui.config import Settings, load_settings
from lmsys_tui.core.cluster.options import EmbedOptions as E
from lmsys_tui.core.cluster.options import Selection
from lmsys_tui.core.llm.options import LLMOptions

DbPath = Annotated[
    Path | None,
    typer.Option("--db-path", help="SQLite store (default: $LMSYS_TUI_HOME/queries.db)."),
]
ChromaPath = Annotated[
    Path | None,
    typer.Option("--chroma-path", help="Chroma folder (default: $LMSYS_TUI_HOME/chroma)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (nothing else).")]
Xml = Annotated[bool, typer.Option("--xml", help="Print XML on stdout.")]
RunId = Annotated[str, typer.Argument(help="Clustering run id (see `runs`).")]

# -- which queries (embed, backfill-chroma, cluster) -------------------------------------------

Dataset = Annotated[
    str | None, typer.Option("--dataset", help="Only queries of this dataset label.")
]
Limit = Annotated[
    int | None, typer.Option(help="Only the first N queries (by id) of the selection.")
]

# -- the embedding space and the Chroma index (embed, backfill-chroma, cluster, search) -------

Provider = Annotated[
    str,
    typer.Option(
        "--embedding-provider",
        help="sentence-transformers (local, default), openai or cohere ($CO_API_KEY).",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--embedding-model",
        help="Model name or local path (default all-MiniLM-L6-v2 / text-embedding-3-small / "
        "embed-v4.0 at 256-d).",
    ),
]
Dimensions = Annotated[
    int | None,
    typer.Option(help="Output size: openai text-embedding-3-*, cohere embed-v4.0 (256 default)."),
]
EmbedBatch = Annotated[
    int, typer.Option("--embed-batch-size", help="Texts per model call; each batch is committed.")
]
Backend = Annotated[
    str,
    typer.Option(
        "--embed-backend",
        "--backend",
        help="auto (GPU torch, else the fastest variant that passed the measured quality gate)"
        " | torch | onnx | onnx-int8 | onnx-128 | onnx-int8-128.",
    ),
]
Device = Annotated[
    str,
    typer.Option(
        "--device",
        help="auto (a GPU when torch sees one) | cpu | cuda: where torch embeds (fp16 and"
        " 8x larger batches on CUDA).",
    ),
]
UseChroma = Annotated[
    bool,
    typer.Option(
        "--use-chroma/--no-use-chroma",
        help="Also put the queries in the space's Chroma collection (from stored vectors).",
    ),
]
ChromaHost = Annotated[
    str | None, typer.Option("--chroma-host", help="Chroma server host (default: embedded).")
]
ChromaPort = Annotated[int | None, typer.Option("--chroma-port", help="Chroma server port.")]

# -- the LLM (summarize, merge-clusters) ---------------------------------------------------------

LlmModel = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="anthropic/…, openai/…, groq/…, ollama/…, any provider/name with --base-url, or "
        "offline. Default: the first provider with a key set, else offline.",
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server URL (vLLM, llama.cpp, …); also $LMSYS_TUI_LLM_BASE_URL.",
    ),
]
Concurrency = Annotated[int, typer.Option(help="Requests in flight at once.")]
RequestTimeout = Annotated[
    float | None,
    typer.Option(
        "--request-timeout",
        help="Seconds one request may take. Default: $LMSYS_TUI_LLM_TIMEOUT, else 60.",
    ),
]
ClusterDeadline = Annotated[
    float,
    typer.Option(
        "--cluster-deadline",
        help="Seconds one cluster's call may take, retries included; then it is recorded "
        "failed and the pass goes on.",
    ),
]
Rpm = Annotated[float | None, typer.Option("--rpm", help="At most this many requests per minute.")]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Build the real prompts and print the calls, tokens and dollars they would cost "
        "(answers already in the ledger are free); ask nothing, write nothing.",
    ),
]
BudgetUsd = Annotated[
    float | None,
    typer.Option(
        "--budget-usd",
        help="Stop before a request would take this invocation's spend past this many dollars "
        "(estimated from the price table); --resume continues without paying twice.",
    ),
]

# -- which summary pass to read (list-clusters, inspect, merge-clusters, search, search-cluster) -

SummaryRunId = Annotated[
    str | None, typer.Option(help="The summary pass to read (default: the run's newest).")
]
Alias = Annotated[str | None, typer.Option(help="... or the newest summary pass with this alias.")]

# -- the groups ----------------------------------------------------------------------------------

DB_PATH = group(db_path=(DbPath, None))
"""The SQLite store only (commands that never touch Chroma)."""
STORE_PATHS = group(db_path=(DbPath, None), chroma_path=(ChromaPath, None))
"""The SQLite store and its Chroma folder."""
JSON_ONLY = group(json_out=(Json, False))
"""`--json` only (commands with no XML form)."""
JSON_OR_XML = group(json_out=(Json, False), xml_out=(Xml, False))
"""`--json` or `--xml`, else a table."""
QUERIES = group(dataset=(Dataset, Selection.dataset), limit=(Limit, Selection.limit))
"""Which queries a stage takes (`Selection`)."""
EMBEDDING_SPACE = group(
    embedding_provider=(Provider, E.embedding_provider),
    embedding_model=(Model, E.embedding_model),
    dimensions=(Dimensions, E.dimensions),
)
"""The embedding space the vectors belong to (`EmbedOptions.space()`)."""
EMBEDDING_WORK = group(
    embed_batch_size=(EmbedBatch, E.embed_batch_size),
    embed_backend=(Backend, E.embed_backend),
    embed_device=(Device, E.embed_device),
    use_chroma=(UseChroma, E.use_chroma),
)
"""How missing vectors are computed, and whether they also go into Chroma."""
CHROMA_SERVER = group(chroma_host=(ChromaHost, None), chroma_port=(ChromaPort, None))
"""A Chroma server instead of the embedded folder."""
LLM = group(
    model=(LlmModel, None),
    base_url=(BaseUrl, None),
    concurrency=(Concurrency, LLMOptions.concurrency),
    rpm=(Rpm, None),
    request_timeout=(RequestTimeout, None),
    cluster_deadline=(ClusterDeadline, LLMOptions.cluster_deadline),
    dry_run=(DryRun, LLMOptions.dry_run),
    budget_usd=(BudgetUsd, None),
)
"""Which LLM writes (summarize, merge-clusters) and how hard it is called."""
SUMMARY_PASS = group(summary_run_id=(SummaryRunId, None), alias=(Alias, None))
"""Which summary pass of a run to read: by id or by alias, else the newest."""


def embedding_inputs(params: Params) -> tuple[Settings, Selection, E]:
    """The settings, `QUERIES` and embedding options (the space, how to fill it, the Chroma
    server and folder) a command's parameters give: embed, backfill-chroma, cluster."""
    settings = load_settings(params.db_path, params.chroma_path)
    opts = replace(E.from_params(params), chroma_path=str(settings.chroma))
    return settings, Selection.from_params(params), opts
