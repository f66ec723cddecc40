"""Hierarchy nodes and their rows: the run row, its checkpoint, and cluster_hierarchies.

A level is written in one transaction together with the checkpoint that says it is done, so
a killed run never leaves a half-written level behind; within a level the checkpoint records
each finished step (proposals, parents, assignments, names) as it completes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

_WORD = re.compile(r"(?u)\b[^\W\d_]{3,30}\b")
_STOP = {
    "and",
    "the",
    "for",
    "with",
    "from",
    "about",
    "into",
    "requests",
    "queries",
    "users",
    "user",
    "mixed",
    "miscellaneous",
    "that",
    "their",
    "this",
    "using",
    "other",
    "various",
}


@dataclass
class Node:
    id: int
    level: int
    title: str
    description: str
    count: int
    children: list[int] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)

    def text(self) -> str:
        return f"{self.title}: {self.description}" if self.description else self.title

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Node:
        return cls(**data)


def title_keywords(title: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(title)]
    return [w for w in dict.fromkeys(words) if w not in _STOP]


def new_hierarchy_id(store: Store, run_id: str) -> str:
    """`hier-<run>-20261127-031500`, numbered `-2`, `-3`... if a hierarchy started that second."""
    with sql.connection(store) as conn:
        return sql.new_id(
            f"hier-{run_id}", numbered_in=(conn, "hierarchy_runs", "hierarchy_run_id")
        )


def create_run(
    store: Store,
    hier_id: str,
    run_id: str,
    summary_run_id: str | None,
    model: str,
    parameters: dict[str, Any],
    leaves: list[Node],
) -> None:
    """The run row plus every leaf node (level 0), in one transaction."""
    from lmsys_tui.core.store.models import HierarchyRun

    with store.session() as session:
        session.add(
            HierarchyRun(
                hierarchy_run_id=hier_id,
                run_id=run_id,
                summary_run_id=summary_run_id,
                model=model,
                parameters=parameters,
                checkpoint={"levels_done": 0, "step": {}},
            )
        )
        session.flush()
        for leaf in leaves:
            session.add(_node_row(hier_id, run_id, leaf))
        session.commit()


def _node_row(hier_id: str, run_id: str, node: Node) -> Any:
    """The cluster_hierarchies row of a node, not linked to a parent yet."""
    from lmsys_tui.core.store.models import ClusterHierarchy

    return ClusterHierarchy(
        hierarchy_run_id=hier_id,
        run_id=run_id,
        cluster_id=node.id,
        parent_cluster_id=None,
        level=node.level,
        children_ids=list(node.children),
        title=node.title,
        description=node.description,
        query_count=node.count,
    )


def _set_checkpoint(session: Any, hier_id: str, checkpoint: dict[str, Any]) -> None:
    from lmsys_tui.core.store.models import HierarchyRun

    row = session.get(HierarchyRun, hier_id)
    if row is not None:
        row.checkpoint = dict(checkpoint)
        session.add(row)


def load_run(store: Store, hier_id: str) -> dict[str, Any] | None:
    from lmsys_tui.core.store.models import HierarchyRun

    with store.session() as session:
        row = session.get(HierarchyRun, hier_id)
        return None if row is None else row.model_dump()


def save_checkpoint(store: Store, hier_id: str, checkpoint: dict[str, Any]) -> None:
    with store.session() as session:
        _set_checkpoint(session, hier_id, checkpoint)
        session.commit()


def write_level(
    store: Store, hier_id: str, run_id: str, parents: list[Node], checkpoint: dict[str, Any]
) -> None:
    """Parents of one level, their children's parent links, and the checkpoint, atomically."""
    from sqlalchemy import delete, update

    from lmsys_tui.core.store.models import ClusterHierarchy

    with store.session() as session:
        ids = [p.id for p in parents]
        session.exec(
            delete(ClusterHierarchy).where(  # type: ignore[arg-type]
                ClusterHierarchy.hierarchy_run_id == hier_id,
                ClusterHierarchy.cluster_id.in_(ids),  # type: ignore[attr-defined]
            )
        )
        for p in parents:
            session.add(_node_row(hier_id, run_id, p))
            session.exec(
                update(ClusterHierarchy)  # type: ignore[arg-type]
                .where(
                    ClusterHierarchy.hierarchy_run_id == hier_id,
                    ClusterHierarchy.cluster_id.in_(p.children),  # type: ignore[attr-defined]
                )
                .values(parent_cluster_id=p.id)
            )
        _set_checkpoint(session, hier_id, checkpoint)
        session.commit()


def finish_run(
    store: Store, hier_id: str, status: str, error: str | None, result: dict[str, Any] | None
) -> None:
    from lmsys_tui.core.store.models import HierarchyRun, record_end

    record_end(store, HierarchyRun, hier_id, status, error, result)
