"""Headless commands that put data in the store or take it out: load, datasets, clear."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    CHROMA_SERVER,
    DB_PATH,
    EMBEDDING_SPACE,
    EMBEDDING_WORK,
    JSON_ONLY,
    JSON_OR_XML,
    STORE_PATHS,
    embedding_inputs,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.cluster.options import EmbedOptions, Selection
from lmsys_tui.core.delete import ClearOptions as C
from lmsys_tui.core.sources.spec import ColumnMap as M
from lmsys_tui.core.sources.spec import LoadOptions as L
from lmsys_tui.core.sources.spec import SourceSpec as S
from lmsys_tui.errors import UsageError


@handled
@takes(EMBEDDING_SPACE, EMBEDDING_WORK, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def load(
    source: Annotated[
        str | None,
        typer.Option(help="sharegpt (packaged, default) | lmsys | hf | file."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Load at most this many conversations.")] = None,
    hf: Annotated[
        str | None, typer.Option("--hf", help="Hugging Face dataset id (implies --source hf).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Local .jsonl/.json/.parquet/.csv (implies --source file)."),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--dataset-label", help="Name of the dataset in the store (default from source)."
        ),
    ] = None,
    streaming: Annotated[
        bool, typer.Option("--streaming/--no-streaming", help="Stream Hugging Face datasets.")
    ] = S.streaming,
    split: Annotated[str, typer.Option(help="Hugging Face split.")] = S.split,
    force_reload: Annotated[
        bool, typer.Option("--force-reload", help="Replace stored rows instead of skipping them.")
    ] = L.force_reload,
    text_column: Annotated[str | None, typer.Option(help="Column with messages or text.")] = None,
    text_format: Annotated[
        str, typer.Option(help="auto | messages (list of {role, content}) | plain (text).")
    ] = M.text_format,
    model_column: Annotated[str | None, typer.Option(help="Column with the model name.")] = None,
    language_column: Annotated[
        str | None, typer.Option(help="Column with the language (else detected).")
    ] = None,
    timestamp_column: Annotated[str | None, typer.Option(help="Column with a timestamp.")] = None,
    conversation_id_column: Annotated[
        str | None, typer.Option(help="Column with a conversation id (else the row number).")
    ] = None,
    model_default: Annotated[
        str | None, typer.Option(help="Model name for rows without one.")
    ] = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="Column with a known class per row, stored for `evaluate`."),
    ] = None,
    max_chars: Annotated[
        int,
        typer.Option(
            help="First turns longer than this are kept whole (models embed only their start);"
            " with --skip-long they are skipped (counted as too_long)."
        ),
    ] = S.max_chars,
    skip_long: Annotated[
        bool, typer.Option("--skip-long", help="Skip first turns longer than --max-chars.")
    ] = S.skip_long,
    batch_size: Annotated[
        int, typer.Option("--db-batch-size", help="Rows per committed batch.")
    ] = L.batch_size,
    build_indexes: Annotated[
        str,
        typer.Option(
            help="When the store's indexes take the new rows: during (row by row) | after"
            " (keyword index in bulk per batch, the other indexes once at the end: ~1.9x faster"
            " on 1M rows; a killed load's are built by the next load) | auto (after for loads"
            " of 50,000+ rows that are no smaller than the store; a source of unknown size"
            " switches to after once it has loaded that many)."
        ),
    ] = L.build_indexes,
    *,
    params: Params,
) -> None:
    """Load conversations (first user turn + metadata) into the store; with --use-chroma or
    an --embedding-* option, then embed the dataset's new rows (and add them to Chroma)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.registry import open_source

    spec, opts = S.from_params(params), L.from_params(params)
    settings, _, embed_opts = embedding_inputs(params)
    space = embed_opts.space() if _embeds(params) else None  # a bad space fails before loading
    info, items = open_source(spec)
    summary = run_on_store(
        settings.db,
        f"load {info.default_label}",
        lambda store, progress: run_load(store, items, info, **opts.to_dict(), progress=progress),
    )
    data = summary.to_dict() | {"db_path": str(settings.db)}
    message = summary.message
    if space is not None:
        embedded, synced = _embed_dataset(settings, summary.dataset, space, embed_opts)
        data["embedded"] = embedded.to_dict()
        message += "\n" + embedded.message
        if synced is not None:
            data["chroma"] = synced.to_dict()
            message += "\n" + synced.message
    report(summary, params, root="load", data=data, message=message)


def _embeds(params: Params) -> bool:
    """Whether load goes on to embed: --use-chroma (as in the reference) or a space named."""
    return bool(
        params.use_chroma
        or params.embedding_model is not None
        or params.dimensions is not None
        or params.embedding_provider != EmbedOptions.embedding_provider
    )


def _embed_dataset(settings: Any, label: str, space: Any, opts: EmbedOptions) -> Any:
    """Embed what the dataset's queries lack in `space` (and sync Chroma with --use-chroma):
    the embed command's stage, over the dataset just loaded."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.cluster.stage import embed_selection, selected_ids

    return run_on_store(
        settings.db,
        f"embed {space.model}",
        lambda store, progress: embed_selection(
            store,
            space,
            selected_ids(store, Selection(dataset=label)),
            opts,
            cache_dir=settings.cache_dir,
            progress=progress,
        ),
        create=False,
    )


@handled
@takes(DB_PATH, JSON_OR_XML)
def datasets(*, params: Params) -> None:
    """List the datasets in the store with their query counts."""
    from lmsys_tui.core.read import catalog

    rows = catalog.list_datasets(load_settings(params.db_path).db)
    emit(
        {"datasets": rows},
        params,
        root="datasets",
        table=lambda: emit_table(
            "Datasets",
            ["id", "label", "source", "queries", "status", "updated"],
            [
                (r["id"], r["label"], r["source"], r["query_count"], r["status"], r["updated_at"])
                for r in rows
            ],
        ),
    )


@handled
@takes(STORE_PATHS, JSON_ONLY)
def clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = C.yes,
    keep_embeddings: Annotated[
        bool,
        typer.Option(
            "--keep-embeddings",
            help="Keep the stored vectors (keyed by text: reloading the same data embeds nothing).",
        ),
    ] = C.keep_embeddings,
    *,
    params: Params,
) -> None:
    """Delete the SQLite store, its embedding store and the Chroma folder."""
    from lmsys_tui.core.delete import clear_store
    from lmsys_tui.core.store import schema
    from lmsys_tui.core.store.embeddings import embeddings_path

    opts = C.from_params(params)
    settings = load_settings(params.db_path, params.chroma_path)
    db = settings.db
    if db.exists():
        schema.read_version(db)  # never delete a file that is not an lmsys-tui store
    if not opts.yes:
        if params.json_out:
            raise UsageError("clear --json needs --yes (no prompt when output is for a program)")
        vectors = "" if opts.keep_embeddings else f", {embeddings_path(db)}"
        typer.confirm(f"Delete {db}{vectors} and {settings.chroma}?", abort=True, err=True)
    removed = clear_store(db, settings.chroma, keep_embeddings=opts.keep_embeddings)
    if not params.json_out:
        note(f"removed {len(removed)} path(s)" if removed else "nothing to remove")
    emit({"removed": removed}, params)
