"""Facet pivots: which clusters (or hierarchy nodes) over- or under-represent a facet value.

For every node and every value of the facet (model, language, dataset, redacted, flagged, or a
label column of `queries`), the node's share of that value against the run-wide share: the
lift, a 95% Wilson interval on the node's share divided by the run-wide share, and an exact
test of the node against the rest of the run (hypergeometric, i.e. Fisher's test, two-sided
by doubling the smaller tail). Every cell of the pivot is one test, so the p-values are
corrected together (Benjamini-Hochberg) and only cells whose q-value survives `alpha` are
flagged: with dozens of clusters times dozens of values, uncorrected 5% tests would flag
chance cells by the handful.

`significant_lifts` is the plain function other tools (the report) call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.read.runs import get_hierarchy, get_run, run_total, summary_pass
from lmsys_tui.core.read.tree import cluster_titles
from lmsys_tui.core.store.sql import reader, rows
from lmsys_tui.errors import UsageError

UNKNOWN = "(unknown)"
Z95 = 1.959963984540054
_YES_NO = "CASE {col} WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END"
BUILTIN: dict[str, str] = {
    "model": "q.model",
    "language": "q.language",
    "dataset": "d.label",
    "redacted": _YES_NO.format(col="q.redacted"),
    "flagged": _YES_NO.format(col="q.moderation_flagged"),
}
# columns of `queries` that are not facets (ids, text, times): --by never reads them
_NOT_FACETS = {
    "id", "dataset_id", "conversation_id", "query_text", "text_hash", "timestamp",
    "extra_metadata", "created_at", "turn_count",
}  # fmt: skip


@dataclass
class FacetOptions(Options):
    run_id: str = option("", positional=True, missing="choose a clustering run")
    by: str = option("model", lower=True)
    level: int | None = option(minimum=0)  # None: the run's clusters; N: hierarchy level N
    hierarchy_run_id: str | None = option(flag="--hierarchy")
    alpha: float = option(0.05, above=0, below=1)
    significant_only: bool = option(False)


@dataclass(frozen=True)
class Lift:
    """One cell of the pivot: a facet value inside one node."""

    node_id: int
    level: int
    title: str
    value: str
    count: int  # queries of the node with this value
    size: int  # queries of the node
    share: float  # count / size
    overall_share: float  # the value's share of the whole run
    lift: float  # share / overall_share
    ci_low: float  # 95% Wilson interval of the share, over overall_share
    ci_high: float
    p_value: float
    q_value: float  # Benjamini-Hochberg over every cell of the pivot
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def facet_expr(conn: Any, by: str) -> str:
    """The SQL expression (over `queries q` joined to `datasets d`) giving a query's value."""
    if by in BUILTIN:
        return BUILTIN[by]
    columns = {r["name"] for r in rows(conn, "PRAGMA table_info(queries)")}
    if by in columns - _NOT_FACETS and by.isidentifier():
        return f'q."{by}"'
    extra = sorted(columns - _NOT_FACETS - set(BUILTIN) - {"moderation_flagged"})
    known = ", ".join([*BUILTIN, *extra])
    raise UsageError(f"--by must be one of {known}, not {by!r}")


def _node_map(
    conn: Any, run_id: str, level: int | None, hierarchy_run_id: str | None
) -> tuple[str | None, dict[int, int], dict[int, str]]:
    """(hierarchy id, cluster -> node at the level, node -> title). A cluster with no node at
    that level (noise, or left unplaced by the merge) maps nowhere and counts only run-wide."""
    if not level:
        found = summary_pass(conn, run_id)
        names = cluster_titles(conn, run_id, found["summary_run_id"] if found else None)
        return None, {cid: cid for cid in names}, names
    clusters = rows(conn, "SELECT cluster_id FROM clusters WHERE run_id = ?", (run_id,))
    hier = get_hierarchy(conn, run_id, hierarchy_run_id)
    nodes = {
        int(r["cluster_id"]): r
        for r in rows(
            conn,
            "SELECT cluster_id, parent_cluster_id, level, title FROM cluster_hierarchies"
            " WHERE hierarchy_run_id = ?",
            (hier,),
        )
    }
    top = max((int(n["level"]) for n in nodes.values()), default=0)
    if level > top:
        raise UsageError(f"--level must be at most {top} (hierarchy {hier} has levels 0-{top})")
    mapping: dict[int, int] = {}
    for c in clusters:
        current: int | None = int(c["cluster_id"])
        while current is not None and current in nodes and int(nodes[current]["level"]) < level:
            current = nodes[current]["parent_cluster_id"]
        if current is not None and current in nodes and int(nodes[current]["level"]) == level:
            mapping[int(c["cluster_id"])] = int(current)
    names = {
        nid: str(n["title"] or f"node {nid}")
        for nid, n in nodes.items()
        if int(n["level"]) == level
    }
    return hier, mapping, names


def _counts(conn: Any, run_id: str, expr: str) -> list[tuple[int, str, int]]:
    join = " JOIN datasets d ON d.id = q.dataset_id" if "d." in expr else ""
    found = rows(
        conn,
        f"SELECT qc.cluster_id AS c, {expr} AS v, COUNT(*) AS n FROM query_clusters qc"
        f" JOIN queries q ON q.id = qc.query_id{join} WHERE qc.run_id = ?"
        " GROUP BY qc.cluster_id, v",
        (run_id,),
    )
    return [(int(r["c"]), UNKNOWN if r["v"] is None else str(r["v"]), int(r["n"])) for r in found]


def pivot(db: Path, opts: FacetOptions) -> dict[str, Any]:
    """The whole pivot: run-wide value shares, and per node its cells (every value the node
    holds, plus values it significantly lacks), largest node first."""
    import numpy as np
    from scipy.stats import false_discovery_control, hypergeom

    with reader(db) as conn:
        get_run(conn, opts.run_id)
        expr = facet_expr(conn, opts.by)
        hier, mapping, names = _node_map(conn, opts.run_id, opts.level, opts.hierarchy_run_id)
        counts = _counts(conn, opts.run_id, expr)
        total = run_total(conn, opts.run_id)
    level = opts.level or 0
    value_totals: dict[str, int] = {}
    cell_counts: dict[tuple[int, str], int] = {}
    node_sizes: dict[int, int] = dict.fromkeys(names, 0)
    for cluster, value, n in counts:
        value_totals[value] = value_totals.get(value, 0) + n
        node = mapping.get(cluster)
        if node is not None:
            cell_counts[(node, value)] = cell_counts.get((node, value), 0) + n
            node_sizes[node] = node_sizes.get(node, 0) + n
    big_n = sum(value_totals.values())
    values = sorted(value_totals, key=lambda v: (-value_totals[v], v))
    cells = [(node, v) for node in node_sizes if node_sizes[node] for v in values]
    lifts: list[Lift] = []
    if cells and big_n:
        a = np.array([cell_counts.get(c, 0) for c in cells], dtype=float)
        n1 = np.array([node_sizes[c[0]] for c in cells], dtype=float)
        k = np.array([value_totals[c[1]] for c in cells], dtype=float)
        share, overall = a / n1, k / big_n
        over = hypergeom.sf(a - 1, big_n, k, n1)
        under = hypergeom.cdf(a, big_n, k, n1)
        p = np.clip(2 * np.minimum(over, under), 0.0, 1.0)
        q = false_discovery_control(p, method="bh")
        z2 = Z95**2
        centre = (share + z2 / (2 * n1)) / (1 + z2 / n1)
        half = Z95 * np.sqrt(share * (1 - share) / n1 + z2 / (4 * n1**2)) / (1 + z2 / n1)
        for i, (node, value) in enumerate(cells):
            lifts.append(
                Lift(
                    node_id=node, level=level, title=names.get(node, f"node {node}"),
                    value=value, count=int(a[i]), size=int(n1[i]), share=float(share[i]),
                    overall_share=float(overall[i]), lift=float(share[i] / overall[i]),
                    ci_low=float((centre[i] - half[i]) / overall[i]),
                    ci_high=float((centre[i] + half[i]) / overall[i]),
                    p_value=float(p[i]), q_value=float(q[i]),
                    significant=bool(q[i] <= opts.alpha),
                )
            )  # fmt: skip
    by_node: dict[int, list[dict[str, Any]]] = {}
    for cell in lifts:
        if (cell.count or cell.significant) and (cell.significant or not opts.significant_only):
            by_node.setdefault(cell.node_id, []).append(_cell(cell))
    nodes = [
        {"node_id": nid, "level": level, "title": names.get(nid, f"node {nid}"),
         "size": node_sizes[nid], "share": node_sizes[nid] / total if total else 0.0,
         "cells": by_node[nid]}
        for nid in sorted(by_node, key=lambda n: (-node_sizes[n], n))
    ]  # fmt: skip
    flagged = sorted((c for c in lifts if c.significant), key=lambda c: (-c.lift, c.q_value))
    return {
        "run_id": opts.run_id,
        "by": opts.by,
        "level": level,
        "hierarchy_run_id": hier,
        "total_queries": total,
        "alpha": opts.alpha,
        "tests": len(lifts),
        "values": [
            {"value": v, "count": value_totals[v], "share": value_totals[v] / big_n} for v in values
        ],
        "nodes": nodes,
        "significant": [c.to_dict() for c in flagged],
    }


def _cell(cell: Lift) -> dict[str, Any]:
    keep = ("value", "count", "share", "lift", "ci_low", "ci_high", "p_value", "q_value")
    out = {k: getattr(cell, k) for k in keep}
    out["significant"] = cell.significant
    return out


def significant_lifts(
    store: Any,
    run_id: str,
    by: str,
    level: int | None = None,
    *,
    hierarchy_run_id: str | None = None,
    alpha: float = 0.05,
) -> list[Lift]:
    """The cells of the pivot that survive the correction, highest lift first. `store` is an
    open Store or the store's path; `level` None or 0 is the run's clusters."""
    db = Path(getattr(store, "path", store))
    opts = FacetOptions(
        run_id=run_id, by=by, level=level, hierarchy_run_id=hierarchy_run_id, alpha=alpha
    )
    return [Lift(**c) for c in pivot(db, opts)["significant"]]
