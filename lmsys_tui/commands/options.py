"""Option types shared by the headless commands (names as in the reference `lmsys` CLI).

Each is declared once with its help text; its default comes from the core options class the
command builds (`= EmbedOptions.embed_batch_size`), so no default is written twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    typer.Option("--embedding-provider", help="sentence-transformers (local, default) or openai."),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--embedding-model",
        help="Model name or local path (default all-MiniLM-L6-v2 / text-embedding-3-small).",
    ),
]
Dimensions = Annotated[
    int | None, typer.Option(help="Output size for openai text-embedding-3-* models.")
]
EmbedBatch = Annotated[
    int, typer.Option("--embed-batch-size", help="Texts per model call; each batch is committed.")
]
Backend = Annotated[
    str,
    typer.Option(
        "--embed-backend",
        "--backend",
        help="auto (GPU torch, else ONNX where it agrees with torch) | torch | onnx | onnx-int8.",
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
Rpm = Annotated[float | None, typer.Option("--rpm", help="At most this many requests per minute.")]
