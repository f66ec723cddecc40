"""The labelled queries of a run, with the node each one sits under at every level.

Read with the stdlib sqlite3 reader (no SQLAlchemy): `evaluate` reads, it never writes. A
query's label comes from `load --label-column`; queries without one are counted, not scored.
Noise queries (cluster -1) have no node: they are counted apart and left out of the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmsys_tui.core.store.sql import loads, one, reader, tuples
from lmsys_tui.errors import NotFoundError, UsageError


@dataclass
class Labelled:
    """Aligned lists: `truth[i]` is query i's label, `levels[L][i]` its node at level L."""

    run_id: str
    hierarchy_run_id: str | None
    hierarchy_model: str | None
    truth: list[str]
    levels: list[list[int]]  # level 0: the leaf cluster; then each hierarchy level up
    noise: int = 0  # labelled queries the run left as noise
    unlabelled: int = 0  # clustered queries with no label
    level_sizes: list[int] = field(default_factory=list)  # nodes per level in the whole tree
    shape: dict[str, Any] = field(default_factory=dict)  # how merge-clusters chose the sizes


def pick_hierarchy(conn: Any, run_id: str, ident: str | None) -> dict[str, Any] | None:
    """The hierarchy asked for (an id of this run), else the run's newest finished one."""
    cols = "hierarchy_run_id, run_id, model, status, parameters"
    if ident is not None:
        row = one(conn, f"SELECT {cols} FROM hierarchy_runs WHERE hierarchy_run_id = ?", (ident,))
        if row is None:
            raise NotFoundError(f"no hierarchy {ident!r} (merge-clusters prints its id)")
        if row["run_id"] != run_id:
            raise UsageError(f"hierarchy {ident!r} belongs to run {row['run_id']!r}")
        return row
    return one(
        conn,
        f"SELECT {cols} FROM hierarchy_runs WHERE run_id = ? AND status = 'done'"
        " ORDER BY created_at DESC, rowid DESC",
        (run_id,),
    )


def hierarchy_shape(db: Path, run_id: str, hierarchy: str | None = None) -> dict[str, Any]:
    """How the (given or newest) hierarchy's level sizes were chosen; {} when there is none."""
    with reader(db) as conn:
        head = pick_hierarchy(conn, run_id, hierarchy)
    return (loads(head["parameters"], {}).get("shape") or {}) if head else {}


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def read_labelled(db: Path, run_id: str, hierarchy: str | None = None) -> Labelled:
    """Every labelled, clustered query of the run with its node per level."""
    with reader(db) as conn:
        if one(conn, "SELECT run_id FROM clustering_runs WHERE run_id = ?", (run_id,)) is None:
            raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")
        found = tuples(
            conn,
            "SELECT qc.cluster_id, q.label FROM query_clusters qc"
            " JOIN queries q ON q.id = qc.query_id WHERE qc.run_id = ? ORDER BY qc.query_id",
            (run_id,),
        )
        head = pick_hierarchy(conn, run_id, hierarchy)
        nodes = (
            tuples(
                conn,
                "SELECT cluster_id, parent_cluster_id, level FROM cluster_hierarchies"
                " WHERE hierarchy_run_id = ?",
                (head["hierarchy_run_id"],),
            )
            if head
            else []
        )
    truth, leaves, noise, unlabelled = [], [], 0, 0
    for cluster_id, label in found:
        if label is None:
            unlabelled += 1
        elif cluster_id < 0:
            noise += 1
        else:
            truth.append(str(label))
            leaves.append(int(cluster_id))
    if not truth:
        raise UsageError(
            f"run {run_id!r} has no labelled queries: load the data with --label-column C"
        )
    parent = {int(c): (None if p is None else int(p)) for c, p, _ in nodes}
    depth = max((int(lvl) for _, _, lvl in nodes), default=0)
    sizes = [sum(1 for *_, lvl in nodes if lvl == k) for k in range(depth + 1)] if nodes else []
    levels = [leaves]
    for _ in range(depth):  # a node without a parent (the top) stays itself
        levels.append([_or(parent.get(n), n) for n in levels[-1]])
    return Labelled(
        run_id=run_id,
        hierarchy_run_id=head["hierarchy_run_id"] if head else None,
        hierarchy_model=head["model"] if head else None,
        truth=truth,
        levels=levels,
        noise=noise,
        unlabelled=unlabelled,
        level_sizes=sizes,
        shape=loads(head["parameters"], {}).get("shape") or {} if head else {},
    )
