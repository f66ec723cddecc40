"""`embed`, `backfill-chroma` and `chroma info`: the embedding stage and the Chroma index.

The reference has no `embed` command (it embeds inside `load`/`cluster`); the TUI pipeline and
scripts need it as a stage of its own. Option names follow the reference; defaults come from
`Selection` and `EmbedOptions`, which the TUI's embed and backfill jobs build too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    Backend,
    ChromaHost,
    ChromaPath,
    ChromaPort,
    Dataset,
    DbPath,
    Dimensions,
    EmbedBatch,
    Json,
    Limit,
    Model,
    Provider,
    UseChroma,
    Xml,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import Settings, load_settings
from lmsys_tui.core.cluster.options import EmbedOptions as E
from lmsys_tui.core.cluster.options import Selection


def _inputs(command: dict[str, Any]) -> tuple[Settings, Selection, E]:
    """The store's settings and the options a command's parameters give."""
    settings = load_settings(command["db_path"], command["chroma_path"])
    opts = replace(E.from_params(command), chroma_path=str(settings.chroma))
    return settings, Selection.from_params(command), opts


@handled
def embed(
    dataset: Dataset = None,
    limit: Limit = None,
    embedding_provider: Provider = E.embedding_provider,
    embedding_model: Model = None,
    dimensions: Dimensions = None,
    embed_batch_size: EmbedBatch = E.embed_batch_size,
    embed_backend: Backend = E.embed_backend,
    use_chroma: UseChroma = E.use_chroma,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Embed the queries' distinct texts that are not stored yet (resumable, never twice)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.cluster.stage import embed_selection, selected_ids

    settings, selection, opts = _inputs(locals())
    space = opts.space()
    summary, synced = run_on_store(
        settings.db,
        f"embed {space.model}",
        lambda store, progress: embed_selection(
            store,
            space,
            selected_ids(store, selection),
            opts,
            cache_dir=settings.cache_dir,
            progress=progress,
        ),
        create=False,
    )
    for line in summary.notes:
        note(f"note: {line}")
    data = summary.to_dict()
    if synced is not None:
        data["chroma"] = synced.to_dict()
    if not json_out and not xml_out:
        note(summary.message)
        if synced is not None:
            note(synced.message)
    emit(data, as_json=json_out, as_xml=xml_out, root="embed", table=lambda: None)


@handled
def backfill_chroma(
    dataset: Dataset = None,
    limit: Limit = None,
    embedding_provider: Provider = E.embedding_provider,
    embedding_model: Model = None,
    dimensions: Dimensions = None,
    # = core.chroma.DEFAULT_CHUNK (importing core.chroma here would slow every start)
    chunk_size: Annotated[int, typer.Option(help="Queries per Chroma read/write.")] = 5000,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Add to Chroma the queries it lacks, from the embedding store (embeds nothing)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core import chroma
    from lmsys_tui.core.cluster.stage import selected_ids

    settings, selection, opts = _inputs(locals())
    space = opts.space()
    summary = run_on_store(
        settings.db,
        f"backfill {space.model}",
        lambda store, progress: chroma.backfill(
            store,
            space,
            selected_ids(store, selection),
            path=opts.chroma_path,
            host=opts.chroma_host,
            port=opts.chroma_port,
            chunk_size=chunk_size,
            progress=progress,
        ),
        create=False,
    )
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
