"""The Python API, for notebooks and agents: a store's runs, clusters, members and search.

    from lmsys_tui.api import open_store

    with open_store() as store:                      # $LMSYS_TUI_HOME/queries.db
        run = store.latest_run()
        for c in store.clusters(run.run_id)[:5]:
            print(c.num_queries, c.title)
        hits = store.search("sort a list in python", run_id=run.run_id, facets=("language",))

Each method is a thin typed wrapper over the core call the headless commands and the TUI make
(`core.read` for listings, `core.search.Searcher` for search), so the API answers exactly what
`list-clusters`, `list-queries`, `search` and `search-cluster` print with `--json`. Bad input
raises the same `UsageError` / `NotFoundError` (from `lmsys_tui.errors`) the commands turn into
exit codes. Nothing here writes to the store; the stages are the commands (or `run`'s pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.search import (
        Bucket,
        ClusterSearchResult,
        QuerySearchResult,
        Searcher,
    )

__all__ = ["Cluster", "Query", "Run", "Store", "open_store"]


@dataclass(frozen=True)
class Run:
    """One clustering run (`runs`)."""

    run_id: str
    algorithm: str
    num_clusters: int | None
    status: str
    embedding_provider: str | None
    embedding_model: str | None
    embedding_dim: int | None
    description: str | None
    created_at: str | None

    @classmethod
    def _from(cls, row: dict[str, Any]) -> Run:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Cluster:
    """One cluster of a run with its title: the summary's, else its keywords (`list-clusters`)."""

    cluster_id: int
    title: str
    title_source: str  # summary | keywords
    description: str | None
    num_queries: int
    share: float  # of the run's queries
    keywords: tuple[str, ...]
    noise: bool  # HDBSCAN's cluster -1


@dataclass(frozen=True)
class Query:
    """One stored query (first user turn) with its membership in the run asked about."""

    query_id: int
    text: str
    conversation_id: str
    dataset: str
    model: str | None
    language: str | None
    cluster_id: int | None = None
    distance: float | None = None  # to its cluster's centroid


class Store:
    """An open lmsys-tui store (SQLite, plus its Chroma folder for search). Use `open_store`."""

    def __init__(self, db_path: Path, chroma_path: Path, backend: str = "auto") -> None:
        self.db_path = db_path
        self.chroma_path = chroma_path
        self.backend = backend  # how search texts are embedded (core.embed.BACKENDS)
        self._searcher: Searcher | None = None

    # -- listings (core.read) --------------------------------------------------------------------

    def runs(self) -> list[Run]:
        """Clustering runs, newest first."""
        from lmsys_tui.core.read.catalog import list_runs

        return [Run._from(r) for r in list_runs(self.db_path)]

    def latest_run(self) -> Run:
        from lmsys_tui.core.read.catalog import list_runs

        found = list_runs(self.db_path, latest=True)
        if not found:
            raise NotFoundError(f"no clustering run in {self.db_path}; run `cluster` first")
        return Run._from(found[0])

    def clusters(
        self,
        run_id: str,
        *,
        summary_run_id: str | None = None,
        alias: str | None = None,
        limit: int | None = None,
    ) -> list[Cluster]:
        """The run's clusters, largest first (noise last), titled from the chosen summary pass
        (by id or alias; default the newest)."""
        from lmsys_tui.core.read.listing import list_clusters

        data = list_clusters(
            self.db_path, run_id, limit=limit, summary_run_id=summary_run_id, alias=alias
        )
        return [
            Cluster(
                cluster_id=c["cluster_id"],
                title=c["title"],
                title_source=c["title_source"],
                description=c["description"],
                num_queries=c["num_queries"],
                share=c["share"],
                keywords=tuple(c["keywords"]),
                noise=c["noise"],
            )
            for c in data["clusters"]
        ]

    def members(
        self, run_id: str, cluster_id: int, *, limit: int = 50, order: str | None = None
    ) -> list[Query]:
        """A cluster's queries: id order, or `order="distance"` for the most central first."""
        from lmsys_tui.core.read.listing import list_queries

        data = list_queries(
            self.db_path, run_id=run_id, cluster_id=cluster_id, limit=limit, order=order
        )
        return [_query(q) for q in data["queries"]]

    # -- search (core.search) --------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        run_id: str | None = None,
        mode: str = "semantic",
        n_results: int = 10,
        cluster_ids: tuple[int, ...] | None = None,
        within_clusters: str | None = None,
        facets: tuple[str, ...] = (),
        languages: tuple[str, ...] | None = None,
        models: tuple[str, ...] | None = None,
        alias: str | None = None,
    ) -> QuerySearchResult:
        """Queries nearest to `text` (semantic, keyword or hybrid), inside the filters, with
        exact facet counts (cluster, language, model) over the matched set."""
        from lmsys_tui.core.search import QuerySearch

        request = QuerySearch(
            text=text,
            run_id=run_id,
            mode=mode,
            n_results=n_results,
            cluster_ids=tuple(cluster_ids) if cluster_ids is not None else None,
            within_clusters=within_clusters,
            facets=tuple(facets),
            languages=tuple(languages) if languages is not None else None,
            models=tuple(models) if models is not None else None,
            alias=alias,
        )
        return self._search().search_queries(request)

    def search_clusters(
        self, text: str, *, run_id: str | None = None, top_k: int = 20, alias: str | None = None
    ) -> ClusterSearchResult:
        """The run's clusters nearest to `text`, by their summaries (else centroids)."""
        from lmsys_tui.core.search import ClusterSearch

        request = ClusterSearch(text=text, run_id=run_id, top_k=top_k, alias=alias)
        return self._search().search_clusters(request)

    def facets(
        self,
        text: str,
        *,
        run_id: str | None = None,
        facets: tuple[str, ...] = ("cluster", "language", "model"),
        mode: str = "semantic",
        n_results: int = 10,
    ) -> dict[str, list[Bucket]]:
        """Facet counts alone: how the queries matching `text` spread over clusters,
        languages and models."""
        return self.search(
            text, run_id=run_id, facets=facets, mode=mode, n_results=n_results
        ).facets

    def _search(self) -> Searcher:
        if self._searcher is None:
            from lmsys_tui.core.search import Searcher

            # a long-lived process, as the TUI is: vectors stay in memory between searches
            self._searcher = Searcher(
                self.db_path, chroma_path=self.chroma_path, interactive=True, backend=self.backend
            )
        return self._searcher

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _query(row: dict[str, Any]) -> Query:
    return Query(
        query_id=int(row["query_id"]),
        text=row["query_text"],
        conversation_id=row["conversation_id"],
        dataset=row["dataset"],
        model=row["model"],
        language=row["language"],
        cluster_id=row.get("cluster_id"),
        distance=row.get("distance"),
    )


def open_store(
    db_path: str | Path | None = None,
    chroma_path: str | Path | None = None,
    *,
    backend: str = "auto",
) -> Store:
    """The store at `db_path` (default `$LMSYS_TUI_HOME/queries.db`, as the commands use);
    NotFoundError when there is none. `backend` embeds search texts (auto | torch | onnx |
    onnx-int8, as `--embed-backend`)."""
    from lmsys_tui.config import load_settings
    from lmsys_tui.core.embed import BACKENDS

    settings = load_settings(
        Path(db_path) if db_path is not None else None,
        Path(chroma_path) if chroma_path is not None else None,
    )
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if not settings.db.exists():
        raise NotFoundError(f"no store at {settings.db}; run `lmsys-tui --headless load` first")
    return Store(settings.db, settings.chroma, backend)
