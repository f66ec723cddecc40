"""What a run report holds, gathered once for both formats (report_md.py, report_html.py).

The hierarchy (or the flat clusters) with counts and shares, descriptions, representative
queries, the analyst's tags and notes, provenance, and the map. Privacy threshold: a node with
fewer than `--min-cluster-size` queries is not shown; its queries are counted in its parent's
"smaller groups" line (top-level ones in the report's own), and no example of it appears
anywhere: not its queries, not its title on the map. Texts stay raw here; each renderer
escapes them for its format.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from lmsys_tui.core.insights.map_options import ReportOptions
from lmsys_tui.core.read.members import central, clipped_texts
from lmsys_tui.core.read.runs import RunOverview, View, open_run
from lmsys_tui.core.read.tree import NodeRow, node_index
from lmsys_tui.core.store.sql import db_timestamp, loads, reader, rows, utcnow
from lmsys_tui.errors import UsageError

EXAMPLE_CHARS = 300


REPORT_FACETS = ("model", "language", "label")


def significant_lifts(view: View, levels: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Per node id, the facet values over-represented in it that survive the pivot's
    multiple-testing correction (core/insights/lift.py), for each facet of REPORT_FACETS at each
    level the report shows. Each item is {facet, value, share, lift, low, high, q}."""
    from lmsys_tui.core.insights.lift import significant_lifts as cells

    out: dict[int, list[dict[str, Any]]] = {}
    for facet in REPORT_FACETS:
        for level in sorted(levels):
            hierarchy = view.hierarchy_run_id if level else None
            if level and hierarchy is None:
                continue
            for c in cells(view.db, view.run_id, facet, level or None, hierarchy_run_id=hierarchy):
                if c.lift <= 1:
                    continue  # the report lists what a group has more of, not less
                out.setdefault(c.node_id, []).append(
                    {
                        "facet": facet,
                        "value": c.value,
                        "share": c.share,
                        "lift": c.lift,
                        "low": c.ci_low,
                        "high": c.ci_high,
                        "q": c.q_value,
                    }
                )
    return out


def _provenance(db: Any, overview: RunOverview) -> dict[str, Any]:
    run, view = overview.run, overview.view
    with reader(db) as conn:
        datasets = rows(
            conn,
            "SELECT d.label, COUNT(*) AS queries FROM query_clusters qc"
            " JOIN queries q ON q.id = qc.query_id JOIN datasets d ON d.id = q.dataset_id"
            " WHERE qc.run_id = ? GROUP BY d.label ORDER BY queries DESC, d.label",
            (view.run_id,),
        )
    summary = overview.pass_named(view.summary_run_id)
    hierarchy = overview.hierarchy_named(view.hierarchy_run_id)
    return {
        "run_id": view.run_id,
        "datasets": datasets,
        "embedding_space": {
            "provider": run["embedding_provider"],
            "model": run["embedding_model"],
            "dim": run["embedding_dim"],
        },
        "algorithm": run["algorithm"],
        "num_clusters": run["num_clusters"],
        "parameters": run["parameters"],
        "run_created": run["created_at"],
        "run_finished": run["finished_at"],
        "summary_pass": None
        if summary is None
        else {k: summary[k] for k in ("summary_run_id", "alias", "model", "created_at")},
        "hierarchy": None
        if hierarchy is None
        else {k: hierarchy[k] for k in ("hierarchy_run_id", "model", "created_at")},
        "generated_at": db_timestamp(utcnow()),
    }


def _cluster_extras(db: Any, view: View) -> tuple[dict[int, dict[str, Any]], dict[int, Any]]:
    """(cluster id -> description / coherence of the view's pass, cluster id -> the analyst's
    metadata: quality, flags as tags, notes). The metadata table may lack a column in a store
    another version wrote: then there are no notes, never an error."""
    descriptions: dict[int, dict[str, Any]] = {}
    notes: dict[int, Any] = {}
    with reader(db) as conn:
        if view.summary_run_id is not None:
            for r in rows(
                conn,
                "SELECT cluster_id, description, coherence FROM cluster_summaries"
                " WHERE summary_run_id = ?",
                (view.summary_run_id,),
            ):
                descriptions[int(r["cluster_id"])] = r
        try:
            found = rows(
                conn,
                "SELECT cluster_id, quality, flags, notes FROM cluster_metadata WHERE run_id = ?",
                (view.run_id,),
            )
        except sqlite3.OperationalError:
            found = []
    for r in found:
        tags = [str(t) for t in loads(r["flags"], [])]
        if r["quality"]:
            tags.insert(0, f"quality: {r['quality']}")
        if tags or r["notes"]:
            notes[int(r["cluster_id"])] = {"tags": tags, "notes": r["notes"]}
    return descriptions, notes


def _examples(db: Any, run_id: str, cluster_ids: list[int], n: int) -> dict[int, list[str]]:
    if n <= 0 or not cluster_ids:
        return {}
    with reader(db) as conn:
        keys = central(conn, run_id, cluster_ids, n)
        texts = clipped_texts(conn, [k.query_id for ks in keys.values() for k in ks], 2000)
    return {c: [str(texts[k.query_id]["text"]) for k in ks] for c, ks in keys.items()}


def _node(
    row: NodeRow,
    kids: Mapping[int | None, list[NodeRow]],
    opts: ReportOptions,
    extras: dict[str, Any],
) -> dict[str, Any]:
    """One shown node with its shown children and the roll-up of the small ones."""
    shown = [k for k in kids.get(row.node_id, []) if k.count >= opts.min_cluster_size]
    small = [k for k in kids.get(row.node_id, []) if k.count < opts.min_cluster_size]
    desc = extras["descriptions"].get(row.node_id, {}) if row.level == 0 else {}
    return {
        "node_id": row.node_id,
        "level": row.level,
        "title": row.title,
        "count": row.count,
        "share": row.share,
        "description": desc.get("description") or extras["node_desc"].get(row.node_id),
        "coherence": desc.get("coherence"),
        "examples": extras["examples"].get(row.node_id, []) if row.level == 0 else [],
        "notes": extras["notes"].get(row.node_id) if row.level == 0 else None,
        "lifts": extras["lifts"].get(row.node_id, []),
        "rolled_up": {"nodes": len(small), "queries": sum(k.count for k in small)},
        "children": [_node(k, kids, opts, extras) for k in shown],
    }


def build_report(db: Any, run_id: str, opts: ReportOptions) -> dict[str, Any]:
    """The report's content: provenance, the rolled-up tree, significant lifts, the layout."""
    overview = open_run(
        db, run_id, hierarchy_run_id=opts.hierarchy_run_id, summary_run_id=opts.summary_run_id
    )
    view = overview.view
    index = node_index(view)
    kids: dict[int | None, list[NodeRow]] = {}
    for row in sorted(index.values(), key=lambda r: (r.is_noise, -r.count, r.node_id)):
        parent = row.parent_id if row.parent_id in index else None
        kids.setdefault(parent, []).append(row)
    shown_clusters = [
        r.node_id for r in index.values() if r.level == 0 and _visible(r, index, opts)
    ]
    descriptions, notes = _cluster_extras(db, view)
    node_desc = _node_descriptions(db, view)
    lifts = significant_lifts(view, {r.level for r in index.values()})
    extras = {
        "descriptions": descriptions,
        "node_desc": node_desc,
        "notes": notes,
        "lifts": lifts,
        "examples": _examples(db, run_id, shown_clusters, opts.examples),
    }
    top = kids.get(None, [])
    small = [r for r in top if r.count < opts.min_cluster_size]
    return {
        "provenance": _provenance(db, overview),
        "total": view.total,
        "min_cluster_size": opts.min_cluster_size,
        "significant_lifts": sum(len(v) for v in lifts.values()),
        "tree": [_node(r, kids, opts, extras) for r in top if r.count >= opts.min_cluster_size],
        "rolled_up": {"nodes": len(small), "queries": sum(r.count for r in small)},
        "shown_clusters": sorted(shown_clusters),
        "titles": {r.node_id: r.title for r in index.values() if r.level == 0},
    }


def _visible(row: NodeRow, index: Mapping[int, NodeRow], opts: ReportOptions) -> bool:
    """Shown in the report: it and every node above it reach the threshold."""
    current: NodeRow | None = row
    seen: set[int] = set()
    while current is not None and current.node_id not in seen:
        if current.count < opts.min_cluster_size:
            return False
        seen.add(current.node_id)
        current = index.get(current.parent_id) if current.parent_id is not None else None
    return True


def _node_descriptions(db: Any, view: View) -> dict[int, str]:
    if view.hierarchy_run_id is None:
        return {}
    with reader(db) as conn:
        found = rows(
            conn,
            "SELECT cluster_id, description FROM cluster_hierarchies"
            " WHERE hierarchy_run_id = ? AND level > 0 AND description IS NOT NULL",
            (view.hierarchy_run_id,),
        )
    return {int(r["cluster_id"]): str(r["description"]) for r in found}


def report_map(db: Any, run_id: str, opts: ReportOptions) -> Any:
    """The map's layout for the report, or the one-line reason there is none."""
    from lmsys_tui.core.insights.layout import run_layout

    try:
        return run_layout(db, run_id, opts.method)
    except UsageError as exc:
        return exc.message
