"""`report RUN`: gather the report once (report_data), draw the map, render MD or HTML.

Markdown keeps the map as an SVG file beside the report (`NAME.map.svg`, linked); HTML
carries it inline, so the HTML is the one file to hand a colleague. The map labels only
clusters the report shows (the privacy threshold applies to the map too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.insights.map_options import ReportOptions
from lmsys_tui.core.insights.report_data import build_report, report_map
from lmsys_tui.errors import UsageError


def write_report(db: Path, run_id: str, opts: ReportOptions) -> dict[str, Any]:
    """Write the report to `opts.output`; returns what `--json` prints about it."""
    from lmsys_tui.core.insights.map_image import render_svg

    output = opts.output
    if not output.parent.is_dir():
        raise UsageError(f"--output folder {output.parent} does not exist")
    kind = opts.kind()
    data = build_report(db, run_id, opts)
    layout = report_map(db, run_id, opts)
    titles = {c: data["titles"][c] for c in data["shown_clusters"]}
    svg = note = None
    if isinstance(layout, str):
        note = layout
    else:
        svg = render_svg(layout, titles)
    map_file = None
    try:
        if kind == "html":
            from lmsys_tui.core.insights.report_html import render_html

            output.write_text(render_html(data, svg, note), encoding="utf-8")
        else:
            from lmsys_tui.core.insights.report_md import render_md

            if svg is not None:
                map_file = output.with_name(output.stem + ".map.svg")
                map_file.write_text(svg, encoding="utf-8")
            ref = map_file.name if map_file is not None else None
            output.write_text(render_md(data, ref, note), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return {
        "run_id": run_id,
        "format": kind,
        "output": str(output),
        "map": str(map_file) if map_file else ("inline" if svg else None),
        "map_note": note,
        "bytes": output.stat().st_size,
        "total_queries": data["total"],
        "shown_nodes": _count(data["tree"]),
        "shown_clusters": len(data["shown_clusters"]),
        "rolled_up": data["rolled_up"],
        "min_cluster_size": opts.min_cluster_size,
        "significant_lifts": data["significant_lifts"],
    }


def _count(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + _count(n["children"]) for n in nodes)
