"""Plain data in and out of the search core (the CLI formats it, the TUI counts it per node).

Requests are frozen dataclasses so a worker can hold one while the user types the next. Every
query hit carries its cluster and, given a hierarchy, the hierarchy nodes above that cluster,
so the TUI can count hits per tree node without another query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MODES = ("semantic", "keyword", "hybrid")
GROUPS = ("cluster", "language", "model")
ENGINES = ("auto", "exact", "chroma")


@dataclass(frozen=True)
class QuerySearch:
    """One `search TEXT` request (option names as in the reference CLI)."""

    text: str
    run_id: str | None = None
    mode: str = "semantic"
    cluster_ids: tuple[int, ...] | None = None
    within_clusters: str | None = None
    top_clusters: int = 10
    n_results: int = 10
    n_candidates: int = 250
    by: str | None = None
    facets: tuple[str, ...] = ()
    languages: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    dataset: str | None = None
    summary_run_id: str | None = None  # titles (and --within-clusters) from this pass
    alias: str | None = None
    hierarchy_run_id: str | None = None  # hits carry their nodes in this hierarchy
    snippet_chars: int = 300
    engine: str = "auto"
    # the space to search without --run-id (with a run, the run's space always wins)
    embedding_provider: str | None = None
    embedding_model: str | None = None


@dataclass(frozen=True)
class ClusterSearch:
    """One `search-cluster TEXT` request."""

    text: str
    run_id: str | None = None
    alias: str | None = None
    summary_run_id: str | None = None
    top_k: int = 20


@dataclass
class QueryHit:
    query_id: int
    distance: float | None  # cosine distance in the run's space; None for keyword-only hits
    snippet: str
    model: str | None
    language: str | None
    cluster_id: int | None
    score: float = 0.0  # the rank score: -distance, bm25 or the fused RRF score
    nodes: tuple[int, ...] = ()  # hierarchy node ids above the cluster, leaf level first

    def to_json(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "distance": self.distance,
            "snippet": self.snippet,
            "model": self.model,
            "language": self.language,
            "cluster_id": self.cluster_id,
        }


@dataclass
class ClusterHit:
    cluster_id: int
    distance: float
    title: str | None
    description: str | None
    num_queries: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Bucket:
    key: Any
    count: int
    title: str | None = None  # cluster buckets only

    def to_json(self, facet: str) -> dict[str, Any]:
        if facet == "cluster":
            return {"cluster_id": self.key, "count": self.count, "meta": {"title": self.title}}
        return {"key": self.key, "count": self.count}


@dataclass
class Matched:
    """The set that facet and --by counts cover, said in the output (never a hidden cap)."""

    mode: str
    set: str  # nearest | keyword_matches | fused
    size: int  # queries in the matched set (what the counts add up to)
    population: int  # queries passing the filters (run, clusters, language, model, dataset)
    engine: str | None  # semantic engine used: exact | chroma (None: keyword only)
    description: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QuerySearchResult:
    request: QuerySearch
    hits: list[QueryHit]
    applied_clusters: list[ClusterHit] = field(default_factory=list)
    facets: dict[str, list[Bucket]] = field(default_factory=dict)  # cluster|language|model
    matched: Matched | None = None
    space: dict[str, Any] | None = None
    summary_run_id: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The reference `search --json` shape, plus `matched` (what the counts cover)."""
        names = {"cluster": "clusters", "language": "language", "model": "model"}
        return {
            "text": self.request.text,
            "run_id": self.request.run_id,
            "applied_clusters": [
                {
                    "cluster_id": c.cluster_id,
                    "title": c.title,
                    "description": c.description,
                    "num_queries": c.num_queries,
                    "distance": c.distance,
                }
                for c in self.applied_clusters
            ],
            "results": [h.to_json() for h in self.hits],
            "facets": {
                names[f]: [b.to_json(f) for b in buckets] for f, buckets in self.facets.items()
            },
            "matched": self.matched.to_json() if self.matched else None,
        }


@dataclass
class ClusterSearchResult:
    request: ClusterSearch
    hits: list[ClusterHit]
    source: str  # summaries | centroids
    summary_run_id: str | None = None
    space: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The reference `search-cluster --json` shape, exactly."""
        return {
            "text": self.request.text,
            "run_id": self.request.run_id,
            "results": [h.to_json() for h in self.hits],
        }
