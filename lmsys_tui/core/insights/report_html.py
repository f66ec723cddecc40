"""The run report as ONE self-contained HTML file: inline CSS, the map as inline SVG, no
script, and a Content-Security-Policy that forbids loading anything (so even a text that
slipped through could not fetch or run). Every text from the data goes through `h()`:
control characters shown as escapes, then HTML-escaped; examples are truncated."""

from __future__ import annotations

from html import escape
from typing import Any

from lmsys_tui.core.insights.report_data import EXAMPLE_CHARS
from lmsys_tui.core.text import safe_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.prov dt { font-weight: 600; }
details { margin: .3rem 0 .3rem 1rem; border-left: 3px solid #cfd8e3; padding-left: .7rem; }
summary { cursor: pointer; }
.count { color: #555; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .6rem; background: #0072b2; margin-left: .5rem; }
.desc { margin: .3rem 0; }
blockquote { margin: .3rem 0; padding: .2rem .6rem; background: #f5f7fa; color: #333;
             border-left: 3px solid #999; white-space: pre-wrap; word-break: break-word; }
.tags span { display: inline-block; background: #eef3e6; border-radius: 3px;
             padding: 0 .4rem; margin-right: .3rem; font-size: .85rem; }
.muted { color: #666; font-style: italic; }
.map svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
"""


def h(value: Any, limit: int | None = EXAMPLE_CHARS) -> str:
    return escape(safe_text(value, limit, one_line=True), quote=True)


def _provenance(p: dict[str, Any]) -> str:
    space = p["embedding_space"]
    s, hier = p["summary_pass"], p["hierarchy"]
    sets = ", ".join(f"{h(d['label'], 60)} ({d['queries']:,})" for d in p["datasets"])
    rows = [
        ("Run", f"{h(p['run_id'], 80)} ({h(p['algorithm'], 40)}, {p['num_clusters']} clusters)"),
        ("Run created", h(p["run_created"])),
        ("Datasets", sets or "none"),
        ("Embedding space", f"{h(space['provider'], 60)} / {h(space['model'], 80)}"
                            f" ({h(space['dim'])} dims)"),
        ("Summaries", f"{h(s['summary_run_id'], 80)} by {h(s['model'], 60)}, {h(s['created_at'])}"
                      if s else "none (keyword titles)"),
        ("Hierarchy", f"{h(hier['hierarchy_run_id'], 80)} by {h(hier['model'], 60)},"
                      f" {h(hier['created_at'])}" if hier else "none (flat clusters)"),
        ("Generated", f"{h(p['generated_at'])} UTC"),
    ]  # fmt: skip
    return '<dl class="prov">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _node(n: dict[str, Any]) -> str:
    kind = "cluster" if n["level"] == 0 else f"level {n['level']}"
    width = max(1, round(n["share"] * 300))
    parts = [
        "<details open>" if n["level"] > 0 else "<details>",
        f'<summary><strong>{h(n["title"], 120)}</strong> <span class="count">'
        f"{n['count']:,} queries · {n['share']:.1%} · {kind} {n['node_id']}</span>"
        f'<span class="bar" style="width:{width}px"></span></summary>',
    ]
    if n["description"]:
        parts.append(f'<p class="desc">{h(n["description"], 1000)}</p>')
    if n["notes"]:
        tags = "".join(f"<span>{h(t, 60)}</span>" for t in n["notes"]["tags"])
        if tags:
            parts.append(f'<p class="tags">{tags}</p>')
        if n["notes"]["notes"]:
            parts.append(f'<p class="muted">Note: {h(n["notes"]["notes"], 1000)}</p>')
    if n["lifts"]:
        items = "".join(
            f"<li>{h(x['facet'], 40)} = {h(x['value'], 60)}: lift {x['lift']:.2f}"
            f" (95% CI {x['low']:.2f}-{x['high']:.2f}, q {x['q']:.3g})</li>"
            for x in n["lifts"]
        )
        parts.append(f"<ul>{items}</ul>")
    parts += [f"<blockquote>{h(t)}</blockquote>" for t in n["examples"]]
    if n["rolled_up"]["nodes"]:
        r = n["rolled_up"]
        parts.append(
            f'<p class="muted">{r["nodes"]} smaller groups ({r["queries"]:,} queries)'
            " rolled up here.</p>"
        )
    parts += [_node(c) for c in n["children"]]
    parts.append("</details>")
    return "\n".join(parts)


def render_html(data: dict[str, Any], map_svg: str | None, map_note: str | None) -> str:
    """The whole page; `map_svg` is an SVG document built with escaped labels (map_image)."""
    p = data["provenance"]
    r = data["rolled_up"]
    lifts = (
        "Facet values a group has more of than the run (model, language, label), each cell tested"
        " and corrected for multiple testing (Benjamini-Hochberg, q < 0.05), are listed under"
        " the group with their lift and 95% interval."
        + ("" if data["significant_lifts"] else " None survived the correction.")
    )
    figure = (
        f'<div class="map">{map_svg}</div>'
        if map_svg
        else f'<p class="muted">No map: {h(map_note, 200)}</p>'
    )
    rolled = (
        f'<p class="muted">{r["nodes"]} smaller top-level groups ({r["queries"]:,} queries)'
        " not shown.</p>"
        if r["nodes"]
        else ""
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Report: run {h(p['run_id'], 80)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>Report: run {h(p['run_id'], 80)}</h1>",
            _provenance(p),
            f"<p>{data['total']:,} queries. Groups under {data['min_cluster_size']} queries are"
            " rolled into their parent and show no examples.</p>",
            "<h2>Map</h2>",
            figure,
            "<h2>Facet lifts</h2>",
            f"<p>{lifts}</p>",
            '<h2 id="hierarchy">Hierarchy</h2>',
            *[_node(n) for n in data["tree"]],
            rolled,
            "</body></html>",
        ]
    )
