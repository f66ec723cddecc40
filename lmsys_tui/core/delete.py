"""Deleting a clustering run, a summary pass or a hierarchy, with everything that hangs off it.

Two steps so both front doors can ask first: `plan_delete` says what would go (the TUI's
confirmation dialog and the headless prompt show it), `delete` removes exactly that in one
transaction. A summary pass takes the hierarchies named from it along (they would otherwise
point at titles that no longer exist). The LLM call ledger is kept: it records money spent.
A run some process is still writing is refused unless `force` (a run left `running` by a
killed process is the reason `force` exists).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.store import schema, sql
from lmsys_tui.errors import NotFoundError, UsageError

KINDS = ("run", "summary", "hierarchy")


@dataclass(frozen=True)
class DeleteOptions(Options):
    """`delete ID`: what to delete, and whether to ask first."""

    ident: str = option("", positional=True, missing="name a run, summary pass or hierarchy")
    kind: str | None = option(choices=KINDS)  # None: whatever the id names (if only one)
    yes: bool = option(False)  # do not ask (the TUI asked already)
    force: bool = option(False)  # also delete what is marked running


@dataclass(frozen=True)
class ClearOptions(Options):
    """`clear`: delete the whole store; keep the embedding store with `keep_embeddings`."""

    yes: bool = option(False)
    keep_embeddings: bool = option(False)


@dataclass
class DeletePlan:
    kind: str
    id: str
    run_id: str
    status: str
    summary_passes: list[str] = field(default_factory=list)
    hierarchies: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows that will be deleted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One paragraph for a confirmation prompt."""
        what = {"run": "clustering run", "summary": "summary pass", "hierarchy": "hierarchy"}
        parts = [f"Delete {what[self.kind]} {self.id}"]
        extra = []
        if self.kind == "run" and self.summary_passes:
            n = len(self.summary_passes)
            extra.append(f"{n} summary pass{'es' if n != 1 else ''}")
        if self.hierarchies and self.kind != "hierarchy":
            n = len(self.hierarchies)
            extra.append(f"{n} hierarch{'ies' if n != 1 else 'y'}")
        if extra:
            parts.append(" with its " + " and ".join(extra))
        total = sum(self.rows.values())
        parts.append(f": {total:,} rows in all.")
        return "".join(parts)


def _kinds_of(conn: Any, ident: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind, query in (
        ("run", "SELECT run_id, status FROM clustering_runs WHERE run_id = ?"),
        (
            "summary",
            "SELECT run_id, status FROM summary_runs WHERE summary_run_id = ?",
        ),
        (
            "hierarchy",
            "SELECT run_id, status FROM hierarchy_runs WHERE hierarchy_run_id = ?",
        ),
    ):
        row = sql.one(conn, query, (ident,))
        if row is not None:
            found.append((kind, row))
    return found


def _count(conn: Any, table: str, column: str, values: list[str]) -> int:
    if not values:
        return 0
    query = f"SELECT COUNT(*) FROM {table} WHERE {column} {sql.IN_IDS}"
    return int(sql.scalar(conn, query, (sql.value_list(values),), default=0))


def _ids(conn: Any, query: str, args: tuple[Any, ...]) -> list[str]:
    return [str(r[0]) for r in sql.tuples(conn, query, args)]


def _plan(conn: Any, ident: str, kind: str | None) -> DeletePlan:
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    found = [(k, r) for k, r in _kinds_of(conn, ident) if kind is None or k == kind]
    if not found:
        what = f"{kind} " if kind else "run, summary pass or hierarchy "
        raise NotFoundError(f"no {what}{ident!r} in the store")
    if len(found) > 1:
        kinds = " and ".join(k for k, _ in found)
        raise UsageError(f"{ident!r} names a {kinds}; say which with --kind")
    found_kind, row = found[0]
    plan = DeletePlan(found_kind, ident, str(row["run_id"]), str(row["status"]))
    if found_kind == "run":
        plan.summary_passes = _ids(
            conn, "SELECT summary_run_id FROM summary_runs WHERE run_id = ?", (ident,)
        )
        plan.hierarchies = _ids(
            conn, "SELECT hierarchy_run_id FROM hierarchy_runs WHERE run_id = ?", (ident,)
        )
        for table in (
            "query_clusters",
            "clusters",
            "cluster_summaries",
            "cluster_hierarchies",
            "cluster_edits",
            "cluster_metadata",
            "orphaned_queries",
            "run_layouts",
        ):
            plan.rows[table] = _count(conn, table, "run_id", [ident])
        plan.rows["summary_runs"] = len(plan.summary_passes)
        plan.rows["hierarchy_runs"] = len(plan.hierarchies)
        plan.rows["clustering_runs"] = 1
    elif found_kind == "summary":
        plan.summary_passes = [ident]
        plan.hierarchies = _ids(
            conn, "SELECT hierarchy_run_id FROM hierarchy_runs WHERE summary_run_id = ?", (ident,)
        )
        plan.rows["cluster_summaries"] = _count(
            conn, "cluster_summaries", "summary_run_id", [ident]
        )
        plan.rows["cluster_hierarchies"] = _count(
            conn, "cluster_hierarchies", "hierarchy_run_id", plan.hierarchies
        )
        plan.rows["hierarchy_runs"] = len(plan.hierarchies)
        plan.rows["summary_runs"] = 1
    else:
        plan.hierarchies = [ident]
        plan.rows["cluster_hierarchies"] = _count(
            conn, "cluster_hierarchies", "hierarchy_run_id", [ident]
        )
        plan.rows["hierarchy_runs"] = 1
    plan.rows = {t: n for t, n in plan.rows.items() if n}
    return plan


def plan_delete(db: Path, ident: str, kind: str | None = None) -> DeletePlan:
    """What `delete(db, ident, kind)` would remove; nothing is changed."""
    with sql.reader(db) as conn:
        return _plan(conn, ident, kind)


def _delete_in(conn: Any, table: str, column: str, values: list[str]) -> None:
    if values:
        conn.execute(f"DELETE FROM {table} WHERE {column} {sql.IN_IDS}", (sql.value_list(values),))


def delete(db: Path, ident: str, kind: str | None = None, *, force: bool = False) -> DeletePlan:
    """Delete the run, pass or hierarchy `ident` and what depends on it, atomically."""
    with sql.file_transaction(db) as conn:
        plan = _plan(conn, ident, kind)
        if plan.status == "running" and not force:
            raise UsageError(
                f"{ident!r} is still running (another process may be writing it); "
                "stop that first, or use --force if it was killed"
            )
        hiers = plan.hierarchies
        _delete_in(conn, "cluster_hierarchies", "hierarchy_run_id", hiers)
        _delete_in(conn, "hierarchy_runs", "hierarchy_run_id", hiers)
        if plan.kind in ("run", "summary"):
            _delete_in(conn, "cluster_summaries", "summary_run_id", plan.summary_passes)
            _delete_in(conn, "summary_runs", "summary_run_id", plan.summary_passes)
        if plan.kind == "run":
            for table in (
                "query_clusters",
                "clusters",
                "cluster_edits",
                "cluster_metadata",
                "orphaned_queries",
                "run_layouts",
                "cluster_summaries",
                "cluster_hierarchies",
            ):
                _delete_in(conn, table, "run_id", [ident])
            _delete_in(conn, "clustering_runs", "run_id", [ident])
    return plan


def clear_store(db: Path, chroma: Path, *, keep_embeddings: bool = False) -> list[str]:
    """Remove the SQLite store (with its WAL files), its embedding store and the Chroma
    folder; returns what went.

    A file that is not an lmsys-tui store is refused (never deleted), as `clear` promises; so
    is an embedding store that is not ours. `keep_embeddings` keeps the vectors (they are keyed
    by text, so a reload of the same data embeds nothing again).
    """
    import shutil

    from lmsys_tui.core.store.embeddings import check_embedding_store, embeddings_path

    if db.exists():
        schema.read_version(db)
    files = [db]
    vectors = embeddings_path(db)
    if not keep_embeddings and vectors.exists():
        check_embedding_store(vectors)
        files.append(vectors)
    removed = []
    for base in files:
        for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    if not keep_embeddings:  # the memory-mapped copies of the vectors go with them
        from lmsys_tui.core.store.embedding_cache import remove_cache

        removed += remove_cache(vectors)
    if chroma.exists():
        shutil.rmtree(chroma)
        removed.append(str(chroma))
    return removed
