"""Search filters as SQL over the store: which queries a search may return (its population).

The reference filtered a fixed list of vector candidates after the fact, so a narrow filter
returned few or no hits. Here the filters are resolved first, in SQLite, into the population;
every engine then ranks inside that population, so top-k means top-k whenever k queries pass.
Cluster membership always comes from `query_clusters` of the run (SQLite is the source of truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import queries, sql
from lmsys_tui.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    import sqlite3

    import numpy as np


@dataclass(frozen=True)
class Filters:
    run_id: str | None = None
    cluster_ids: tuple[int, ...] | None = None
    languages: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    dataset_id: int | None = None

    @property
    def on_queries(self) -> bool:
        """Whether a filter reads columns of `queries` (not only run membership)."""
        return bool(self.languages or self.models or self.dataset_id is not None)

    @property
    def any(self) -> bool:
        return self.run_id is not None or self.on_queries

    def clause(self, q: str = "q") -> tuple[str, list[Any], str, list[Any]]:
        """(joins, their args, where, its args) restricting `queries` aliased `q`.

        Joins come before WHERE in SQL, so their placeholders are kept apart.
        """
        joins, join_args, where, args = "", [], [], []
        if self.run_id is not None:
            joins = f" JOIN query_clusters qc ON qc.query_id = {q}.id AND qc.run_id = ?"
            join_args.append(self.run_id)
            if self.cluster_ids is not None:
                where.append(f"qc.cluster_id {sql.IN_IDS}")
                args.append(sql.id_list(self.cluster_ids))
        if self.languages:
            where.append(f"{q}.language {sql.IN_IDS}")
            args.append(sql.value_list(self.languages))
        if self.models:
            where.append(f"{q}.model {sql.IN_IDS}")
            args.append(sql.value_list(self.models))
        if self.dataset_id is not None:
            where.append(f"{q}.dataset_id = ?")
            args.append(self.dataset_id)
        return joins, join_args, " AND ".join(where), args

    def population_sql(self, select: str = "id") -> tuple[str, list[Any]]:
        """SQL for the population's query ids (`select` = "id") or its size ("count")."""
        if not self.on_queries and self.run_id is not None:
            # run membership alone: the (run_id, query_id) unique index covers it
            col = "COUNT(*)" if select == "count" else "query_id"
            query = f"SELECT {col} FROM query_clusters WHERE run_id = ?"
            args: list[Any] = [self.run_id]
            if self.cluster_ids is not None:
                query += f" AND cluster_id {sql.IN_IDS}"
                args.append(sql.id_list(self.cluster_ids))
            return query, args
        joins, join_args, where, args = self.clause()
        col = "COUNT(*)" if select == "count" else "q.id"
        query = f"SELECT {col} FROM queries q{joins}" + (f" WHERE {where}" if where else "")
        return query, join_args + args


def count(conn: sqlite3.Connection, filters: Filters) -> int:
    query, args = filters.population_sql("count")
    return int(sql.scalar(conn, query, args, default=0))


def population(conn: sqlite3.Connection, filters: Filters) -> np.ndarray:
    """Sorted int64 ids of every query the filters let through."""
    import numpy as np

    query, args = filters.population_sql("id")
    ids = np.fromiter((r[0] for r in conn.execute(query, args)), dtype=np.int64)
    ids.sort()
    return ids


def dataset_id(conn: sqlite3.Connection, label: str | None) -> int | None:
    return None if label is None else queries.dataset_id(conn, label)


def check_clusters(conn: sqlite3.Connection, run_id: str | None, ids: tuple[int, ...]) -> None:
    """Unknown cluster ids are an error (exit 3), not a silently empty result."""
    if run_id is None:
        raise UsageError("--cluster-ids needs --run-id (cluster ids belong to a run)")
    known = {
        r[0]
        for r in sql.tuples(
            conn,
            f"SELECT cluster_id FROM clusters WHERE run_id = ? AND cluster_id {sql.IN_IDS}",
            (run_id, sql.id_list(ids)),
        )
    }
    missing = [c for c in ids if c not in known]
    if missing:
        raise NotFoundError(f"run {run_id!r} has no cluster {missing[0]}")


def parse_list(value: str | None, name: str) -> tuple[str, ...] | None:
    """`a,b , c` -> ("a", "b", "c"); None or only commas -> None."""
    if value is None:
        return None
    items = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not items:
        raise UsageError(f"--{name} needs at least one value")
    return items


def parse_ints(value: str | None, name: str) -> tuple[int, ...] | None:
    items = parse_list(value, name)
    if items is None:
        return None
    try:
        return tuple(int(v) for v in items)
    except ValueError:
        raise UsageError(f"--{name} takes comma-separated integers, not {value!r}") from None
