"""`embed`, `backfill-chroma` and `chroma info`: the embedding stage and the Chroma index.

The reference has no `embed` command (it embeds inside `load`/`cluster`); the TUI pipeline and
scripts need it as a stage of its own. Option names follow the reference.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import (
    Backend,
    ChromaHost,
    ChromaPath,
    ChromaPort,
    DbPath,
    Dimensions,
    EmbedBatch,
    Json,
    Model,
    Provider,
    UseChroma,
    Xml,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError, UsageError

Dataset = Annotated[str | None, typer.Option("--dataset", help="Only this dataset's queries.")]
Limit = Annotated[int | None, typer.Option(help="Only the first N queries (by id).")]


def _check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number")


def _selection(store: object, dataset: str | None, limit: int | None) -> list[int] | None:
    from lmsys_tui.core.embed import select_query_ids

    ids = select_query_ids(store, dataset, limit)  # type: ignore[arg-type]
    if ids is not None and not ids:
        where = f"dataset {dataset!r}" if dataset else "the store"
        raise NotFoundError(f"no queries in {where}; run load first")
    return ids


@handled
def embed(
    dataset: Dataset = None,
    limit: Limit = None,
    embedding_provider: Provider = "sentence-transformers",
    embedding_model: Model = None,
    dimensions: Dimensions = None,
    embed_batch_size: EmbedBatch = 64,
    backend: Backend = "auto",
    use_chroma: UseChroma = False,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Embed the queries' distinct texts that are not stored yet (resumable, never twice)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.embed import BACKENDS, embed_queries, resolve_space
    from lmsys_tui.core.store.db import open_store

    _check_positive(limit=limit, embed_batch_size=embed_batch_size, dimensions=dimensions)
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    settings = load_settings(db_path, chroma_path)
    if not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db}; run load first")
    space = resolve_space(embedding_provider, embedding_model, dimensions)
    store = open_store(settings.db, create=False)
    try:
        ids = _selection(store, dataset, limit)
        with stderr_progress(f"embed {space.model}") as progress:
            summary = embed_queries(
                store,
                space,
                ids,
                batch_size=embed_batch_size,
                backend=backend,
                progress=progress,
                cache_dir=settings.cache_dir,
            )
        for line in summary.notes:
            note(f"note: {line}")
        data = summary.to_dict()
        if use_chroma:
            from lmsys_tui.core import chroma

            synced = chroma.backfill(
                store,
                space,
                ids,
                path=settings.chroma,
                host=chroma_host,
                port=chroma_port,
            )
            data["chroma"] = synced.to_dict()
    finally:
        store.close()
    if not json_out and not xml_out:
        note(summary.message)
        if use_chroma:
            note(synced.message)
    emit(data, as_json=json_out, as_xml=xml_out, root="embed", table=lambda: None)


@handled
def backfill_chroma(
    dataset: Dataset = None,
    limit: Limit = None,
    embedding_provider: Provider = "sentence-transformers",
    embedding_model: Model = None,
    dimensions: Dimensions = None,
    chunk_size: Annotated[int, typer.Option(help="Queries per Chroma read/write.")] = 5000,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Add to Chroma the queries it lacks, from the embedding store (embeds nothing)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core import chroma
    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.store.db import open_store

    _check_positive(limit=limit, chunk_size=chunk_size, dimensions=dimensions)
    settings = load_settings(db_path, chroma_path)
    if not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db}; run load first")
    space = resolve_space(embedding_provider, embedding_model, dimensions)
    store = open_store(settings.db, create=False)
    try:
        ids = _selection(store, dataset, limit)
        with stderr_progress(f"backfill {space.model}") as progress:
            summary = chroma.backfill(
                store,
                space,
                ids,
                path=settings.chroma,
                host=chroma_host,
                port=chroma_port,
                chunk_size=chunk_size,
                progress=progress,
            )
    finally:
        store.close()
    if not json_out and not xml_out:
        note(summary.message)
    emit(summary.to_dict(), as_json=json_out, as_xml=xml_out, root="backfill", table=lambda: None)


@handled
def chroma_info(
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """List Chroma collections with their counts, distance and embedding space."""
    from lmsys_tui.core import chroma

    settings = load_settings(db_path, chroma_path)
    data = chroma.info(settings.chroma, chroma_host, chroma_port)
    rows = data["collections"]
    emit(
        data,
        as_json=json_out,
        as_xml=xml_out,
        root="chroma",
        table=lambda: emit_table(
            f"Chroma collections ({chroma_host or settings.chroma})",
            ["name", "kind", "count", "distance", "space"],
            [
                (c["name"], c["kind"], c["count"], c["distance"], (c["space"] or {}).get("key"))
                for c in rows
            ],
        ),
    )
