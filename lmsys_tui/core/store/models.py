"""The SQLModel tables of the store (DESIGN.md "Store"): the one definition of its schema.

`db.open_store` creates a new store from these classes (`create_all`), so each class stays even
where no code writes its rows through the ORM (most rows are written with plain SQL, see
`sql.py`): the classes are the database-neutral schema that PostgreSQL would be created from,
and `cluster_edits`, `cluster_metadata` and `orphaned_queries` wait for curation. A change here
changes the DDL, which `tests/golden/store_schema.sql` pins: it needs a migration in `schema.py`.

Names follow the reference `lmsys` CLI so its users recognise them. Every timestamp is
timezone-aware UTC (current sqlmodel refuses naive datetimes). JSON columns hold small
structured extras; anything queried by filter has its own indexed column.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from lmsys_tui.core.store.sql import utcnow

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store


class UTCDateTime(TypeDecorator):
    """Stores UTC, returns timezone-aware UTC (SQLite itself keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _json(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class SchemaInfo(SQLModel, table=True):
    """Key/value facts about the store itself, above all its schema version."""

    __tablename__ = "schema_info"
    key: str = Field(primary_key=True)
    value: str


class Dataset(SQLModel, table=True):
    __tablename__ = "datasets"
    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(index=True, unique=True)
    source: str  # lmsys | sharegpt | hf | file
    source_ref: str | None = None  # HF id or file path
    status: str = "running"  # running | done | failed | cancelled
    error: str | None = None
    query_count: int = 0
    parameters: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Query(SQLModel, table=True):
    """One conversation, represented by its first user turn."""

    __tablename__ = "queries"
    __table_args__ = (
        UniqueConstraint("dataset_id", "conversation_id", name="uq_queries_dataset_conversation"),
        Index("ix_queries_dataset_model", "dataset_id", "model"),
        Index("ix_queries_dataset_language", "dataset_id", "language"),
    )
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="datasets.id")
    conversation_id: str
    query_text: str
    text_hash: str = Field(index=True)
    model: str | None = None
    language: str | None = None
    turn_count: int | None = None
    redacted: bool | None = None
    moderation_flagged: bool | None = None
    timestamp: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extra_metadata: dict[str, Any] | None = _json()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # (v4) a known class per query (load --label-column): what `evaluate` measures against
    label: str | None = None


class ClusteringRun(SQLModel, table=True):
    __tablename__ = "clustering_runs"
    run_id: str = Field(primary_key=True)
    algorithm: str
    num_clusters: int | None = None
    dataset_id: int | None = Field(default=None, foreign_key="datasets.id")
    embedding_provider: str | None = None
    embedding_model: str | None = None
    embedding_dim: int | None = None
    parameters: dict[str, Any] = _json(dict)
    metrics: dict[str, Any] = _json(dict)
    description: str | None = None
    status: str = "running"  # running | done | failed | cancelled
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Cluster(SQLModel, table=True):
    """One row per cluster of a run (noise is cluster -1 with its own row)."""

    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("run_id", "cluster_id", name="uq_clusters_run_cluster"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id", index=True)
    cluster_id: int
    size: int = 0
    centroid: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    keywords: list[str] = _json(list)
    metrics: dict[str, Any] = _json(dict)


class QueryCluster(SQLModel, table=True):
    __tablename__ = "query_clusters"
    __table_args__ = (
        Index("ix_query_clusters_run_cluster", "run_id", "cluster_id"),
        # (v3) a node's members in distance order straight from the index: drill-down pages,
        # the most central queries and sampled breakdowns never touch the rows
        Index(
            "ix_query_clusters_run_cluster_distance", "run_id", "cluster_id", "distance", "query_id"
        ),
        UniqueConstraint("run_id", "query_id", name="uq_query_clusters_run_query"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    query_id: int = Field(foreign_key="queries.id", index=True)
    cluster_id: int
    confidence_score: float | None = None
    distance: float | None = None


class SummaryRun(SQLModel, table=True):
    __tablename__ = "summary_runs"
    summary_run_id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id", index=True)
    alias: str | None = Field(default=None, index=True)
    model: str
    parameters: dict[str, Any] = _json(dict)
    status: str = "running"
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ClusterSummary(SQLModel, table=True):
    __tablename__ = "cluster_summaries"
    __table_args__ = (
        UniqueConstraint("summary_run_id", "cluster_id", name="uq_cluster_summaries_pass_cluster"),
        Index("ix_cluster_summaries_run_cluster", "run_id", "cluster_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    cluster_id: int
    summary_run_id: str = Field(foreign_key="summary_runs.summary_run_id")
    alias: str | None = None
    title: str | None = None
    description: str | None = None
    summary: str | None = None
    coherence: int | None = None
    num_queries: int | None = None
    representative_queries: list[Any] = _json(list)
    model: str | None = None
    parameters: dict[str, Any] = _json(dict)
    status: str = "done"  # done | failed
    error: str | None = None
    generated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HierarchyRun(SQLModel, table=True):
    __tablename__ = "hierarchy_runs"
    hierarchy_run_id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id", index=True)
    summary_run_id: str | None = Field(default=None, foreign_key="summary_runs.summary_run_id")
    model: str | None = None
    parameters: dict[str, Any] = _json(dict)
    checkpoint: dict[str, Any] = _json(dict)
    status: str = "running"
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ClusterHierarchy(SQLModel, table=True):
    """A node of a hierarchy; level 0 nodes are the run's clusters, node counts rolled up."""

    __tablename__ = "cluster_hierarchies"
    __table_args__ = (
        UniqueConstraint("hierarchy_run_id", "cluster_id", name="uq_hierarchy_node"),
        Index("ix_hierarchy_parent", "hierarchy_run_id", "parent_cluster_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    hierarchy_run_id: str = Field(foreign_key="hierarchy_runs.hierarchy_run_id")
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    cluster_id: int
    parent_cluster_id: int | None = None
    level: int = 0
    children_ids: list[int] = _json(list)
    title: str | None = None
    description: str | None = None
    query_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ClusterEdit(SQLModel, table=True):
    """Audit log of curation edits (core/curate). `snapshot` (v4) holds the rows the edit
    changed as they were before it, and the ids it left, so `edit undo` restores them exactly;
    `undone_by` (v4) is the id of the undo that reversed it (replay skips it)."""

    __tablename__ = "cluster_edits"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id", index=True)
    cluster_id: int | None = None
    edit_type: str
    editor: str = "cli"
    old_value: dict[str, Any] | None = _json()
    new_value: dict[str, Any] | None = _json()
    reason: str | None = None
    timestamp: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    snapshot: dict[str, Any] | None = _json()
    undone_by: int | None = None


class ClusterMetadata(SQLModel, table=True):
    __tablename__ = "cluster_metadata"
    __table_args__ = (UniqueConstraint("run_id", "cluster_id", name="uq_cluster_metadata"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    cluster_id: int
    coherence_score: int | None = None
    quality: str | None = None  # high | medium | low
    flags: list[str] = _json(list)
    notes: str | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrphanedQuery(SQLModel, table=True):
    __tablename__ = "orphaned_queries"
    __table_args__ = (UniqueConstraint("run_id", "query_id", name="uq_orphaned_run_query"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    query_id: int = Field(foreign_key="queries.id")
    original_cluster_id: int | None = None
    reason: str | None = None
    orphaned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RunLayout(SQLModel, table=True):
    """(v4) A run's 2-D map, computed once per (run, method) and reused: query ids and their
    x, y in [0, 1] as packed little-endian arrays (one row, read in one go for any size)."""

    __tablename__ = "run_layouts"
    __table_args__ = (UniqueConstraint("run_id", "method", name="uq_run_layouts_run_method"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="clustering_runs.run_id")
    method: str  # pca | umap
    members: int  # the run's memberships when computed: a different count means stale
    points: int
    query_ids: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # int64 each
    coords: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32 x, y each
    parameters: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChromaPending(SQLModel, table=True):
    """(v7) An edit whose summary documents in Chroma must still follow it: written in the
    edit's own transaction, deleted once Chroma is in step (core/curate/chroma_sync), so an edit
    killed between its commit and Chroma is finished by the next edit or `verify sync`."""

    __tablename__ = "chroma_pending"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str  # no foreign key: a marker of a deleted run is simply dropped
    clusters: list[int] = _json(list)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LLMCall(SQLModel, table=True):
    """Ledger of every LLM call: cost accounting, and the cache that makes passes resumable."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_model_prompt", "model", "prompt_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    stage: str
    run_id: str | None = Field(default=None, index=True)
    provider: str
    model: str
    prompt_hash: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    status: str = "ok"  # ok | error
    response: dict[str, Any] | None = _json()
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def record_end(
    store: Store,
    table: type[SummaryRun] | type[HierarchyRun],
    key: str,
    status: str,
    error: str | None,
    last_result: dict[str, Any] | None,
) -> None:
    """How a summary pass or a hierarchy ended (or that it runs again): status, error, the
    time, and its last result kept in `parameters` for `runs` and --resume to show."""
    with store.session() as session:
        row = session.get(table, key)
        if row is None:
            return
        row.status, row.error, row.finished_at = status, error, utcnow()
        if last_result is not None:
            row.parameters = {**(row.parameters or {}), "last_result": last_result}
        session.add(row)
        session.commit()
