"""Chroma: the vector index for semantic search (SQLite stays the source of truth).

An embedded `PersistentClient` at the Chroma folder by default, a Chroma server with a host
and port. One queries collection per embedding space (vectors of different spaces never meet),
cosine distance (the reference promised cosine and used L2), ids `query_<id>`. We always pass
the embeddings ourselves: a collection is opened with no embedding function, so Chroma never
tries to fetch its default model. Telemetry is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store.names import slug
from lmsys_tui.errors import LmsysError, NeedsKeyError, NotFoundError, UsageError, first_line

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from lmsys_tui.core.embed.space import Space

QUERIES_KIND = "queries"
SUMMARIES_KIND = "summaries"
DISTANCE = "cosine"
DEFAULT_PORT = 8000


def query_doc_id(query_id: int) -> str:
    return f"query_{int(query_id)}"


def queries_collection_name(space: Space) -> str:
    """`queries_<provider>_<model>_<dim>`, sanitised to Chroma's name rules (hash if long)."""
    return slug(f"{QUERIES_KIND}_{space.provider}_{space.model}_{space.dim}")


def summaries_collection_name(space: Space) -> str:
    """`summaries_<provider>_<model>_<dim>`: cluster summaries embedded in the run's space."""
    return slug(f"{SUMMARIES_KIND}_{space.provider}_{space.model}_{space.dim}")


def summary_doc_id(run_id: str, cluster_id: int, summary_run_id: str) -> str:
    """One document per run + cluster + summary pass (the reference's id ignored the pass, so
    each pass overwrote the previous one)."""
    return f"summary_{run_id}_{int(cluster_id)}_{summary_run_id}"


def summary_document(title: str | None, description: str | None) -> str:
    """What is embedded for a summary: title and description, as the reference did."""
    return "\n".join(t for t in (title, description) if t)


def where(path: Path | str | None, host: str | None, port: int | None) -> str:
    """The Chroma location in words, for messages and summaries."""
    if host:
        return f"http://{host}:{port or DEFAULT_PORT}"
    return str(path)


def open_chroma(
    path: Path | str | None = None, host: str | None = None, port: int | None = None
) -> ClientAPI:
    """The embedded client at `path` (default: the home's Chroma folder) or a server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if host:
        try:
            client = chromadb.HttpClient(host=host, port=port or DEFAULT_PORT, settings=settings)
            client.heartbeat()
        except Exception as exc:
            raise NeedsKeyError(
                f"cannot reach the Chroma server at {where(None, host, port)}: {first_line(exc)}"
            ) from exc
        return client
    if port is not None:
        raise UsageError("--chroma-port needs --chroma-host")
    if path is None:
        from lmsys_tui.config import Settings

        path = Settings().chroma
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:
        raise UsageError(f"cannot open the Chroma folder {path}: {first_line(exc)}") from exc


def distance_of(collection: Collection) -> str:
    import warnings

    with warnings.catch_warnings():  # chroma 1.x warns about its own stored config format
        warnings.simplefilter("ignore", DeprecationWarning)
        config = getattr(collection, "configuration", None) or {}
    hnsw = config.get("hnsw") if isinstance(config, dict) else None
    if isinstance(hnsw, dict) and hnsw.get("space"):
        return str(hnsw["space"])
    return str((collection.metadata or {}).get("hnsw:space", "l2"))


def queries_collection(client: ClientAPI, space: Space, *, create: bool = True) -> Collection:
    """The space's queries collection, created with cosine distance the first time."""
    return _space_collection(client, space, QUERIES_KIND, create)


def summaries_collection(client: ClientAPI, space: Space, *, create: bool = True) -> Collection:
    """The space's cluster-summaries collection (ids from `summary_doc_id`)."""
    return _space_collection(client, space, SUMMARIES_KIND, create)


def _space_collection(client: ClientAPI, space: Space, kind: str, create: bool) -> Collection:
    name = (
        queries_collection_name(space) if kind == QUERIES_KIND else summaries_collection_name(space)
    )
    metadata = {
        "hnsw:space": DISTANCE,
        "kind": kind,
        "space_key": space.key,
        "provider": space.provider,
        "model": space.model,
        "dim": space.dim,
    }
    try:
        if create:
            collection = client.get_or_create_collection(
                name,
                metadata=metadata,
                configuration={"hnsw": {"space": DISTANCE}},
                embedding_function=None,
            )
        else:
            collection = client.get_collection(name, embedding_function=None)
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":
            raise NotFoundError(
                f"no Chroma collection {name} for {space.key}; run backfill-chroma"
            ) from exc
        raise LmsysError(f"Chroma: {first_line(exc)}") from exc
    if distance_of(collection) != DISTANCE:
        raise UsageError(
            f"Chroma collection {name} uses {distance_of(collection)} distance, not cosine"
            " (made by another tool?); delete it and run backfill-chroma"
        )
    return collection


def collections_info(client: ClientAPI) -> list[dict[str, Any]]:
    """Every collection with its count, distance and (for ours) embedding space."""
    out = []
    for collection in sorted(client.list_collections(), key=lambda c: c.name):
        meta = dict(collection.metadata or {})
        space = None
        if meta.get("space_key"):
            space = {
                "provider": meta.get("provider"),
                "model": meta.get("model"),
                "dim": meta.get("dim"),
                "key": meta.get("space_key"),
            }
        out.append(
            {
                "name": collection.name,
                "kind": meta.get("kind", "other"),
                "count": collection.count(),
                "distance": distance_of(collection),
                "space": space,
                "metadata": meta,
            }
        )
    return out


def chroma_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """A query's metadata as Chroma takes it: scalars only, None values left out."""
    return {k: v for k, v in row.items() if v is not None}
