"""`embed`, `backfill-chroma` and `chroma info`: the embedding stage and the Chroma index.

The reference has no `embed` command (it embeds inside `load`/`cluster`); the TUI pipeline and
scripts need it as a stage of its own. Option names follow the reference; defaults come from
`Selection` and `EmbedOptions`, which the TUI's embed and backfill jobs build too.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import (
    CHROMA_SERVER,
    EMBEDDING_SPACE,
    EMBEDDING_WORK,
    JSON_OR_XML,
    QUERIES,
    STORE_PATHS,
    embedding_inputs,
)
from lmsys_tui.commands.output import emit, emit_table, handled, note, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings


@handled
@takes(QUERIES, EMBEDDING_SPACE, EMBEDDING_WORK, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def embed(*, params: Params) -> None:
    """Embed the queries' distinct texts that are not stored yet (resumable, never twice)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.cluster.stage import embed_selection, selected_ids

    settings, selection, opts = embedding_inputs(params)
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
    message = summary.message
    if synced is not None:
        data["chroma"] = synced.to_dict()
        message += "\n" + synced.message
    report(summary, params, root="embed", data=data, message=message)


@handled
@takes(QUERIES, EMBEDDING_SPACE, CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def backfill_chroma(
    # = core.chroma.DEFAULT_CHUNK (importing core.chroma here would slow every start)
    chunk_size: Annotated[int, typer.Option(help="Queries per Chroma read/write.")] = 5000,
    *,
    params: Params,
) -> None:
    """Add to Chroma the queries it lacks, from the embedding store (embeds nothing)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core import chroma
    from lmsys_tui.core.cluster.stage import selected_ids

    settings, selection, opts = embedding_inputs(params)
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
    report(summary, params, root="backfill")


@handled
@takes(CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def chroma_info(*, params: Params) -> None:
    """List Chroma collections with their counts, distance and embedding space."""
    from lmsys_tui.core import chroma

    settings = load_settings(params.db_path, params.chroma_path)
    data = chroma.info(settings.chroma, params.chroma_host, params.chroma_port)
    rows = data["collections"]
    emit(
        data,
        params,
        root="chroma",
        table=lambda: emit_table(
            f"Chroma collections ({params.chroma_host or settings.chroma})",
            ["name", "kind", "count", "distance", "space"],
            [
                (c["name"], c["kind"], c["count"], c["distance"], (c["space"] or {}).get("key"))
                for c in rows
            ],
        ),
    )
