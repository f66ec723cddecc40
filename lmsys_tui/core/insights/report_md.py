"""The run report as Markdown. Every text from the data is made inert for Markdown: control
characters shown as escapes, HTML special characters as entities (so a query holding `<script>`
is text in any viewer that passes HTML through), Markdown punctuation backslashed, one line,
truncated."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from lmsys_tui.core.insights.report_data import EXAMPLE_CHARS
from lmsys_tui.core.text import safe_text

# what starts emphasis, code, links, images, tables, headings or quotes anywhere in a line
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~!>])")


def md_text(value: Any, limit: int | None = EXAMPLE_CHARS) -> str:
    text = safe_text(value, limit, one_line=True)
    return _MD_SPECIAL.sub(r"\\\1", escape(text, quote=False))


def _provenance(p: dict[str, Any]) -> list[str]:
    space = p["embedding_space"]
    sets = ", ".join(f"{md_text(d['label'], 60)} ({d['queries']:,})" for d in p["datasets"])
    out = [
        f"- **Run:** {md_text(p['run_id'], 80)} ({md_text(p['algorithm'], 40)},"
        f" {p['num_clusters']} clusters), created {p['run_created']}",
        f"- **Datasets:** {sets or 'none'}",
        f"- **Embedding space:** {md_text(space['provider'], 60)} /"
        f" {md_text(space['model'], 80)} ({space['dim']} dims)",
    ]
    s, h = p["summary_pass"], p["hierarchy"]
    out.append(
        "- **Summaries:** "
        + (
            f"{md_text(s['summary_run_id'], 80)} by {md_text(s['model'], 60)}, {s['created_at']}"
            if s
            else "none (keyword titles)"
        )
    )
    out.append(
        "- **Hierarchy:** "
        + (
            f"{md_text(h['hierarchy_run_id'], 80)} by {md_text(h['model'], 60)}, {h['created_at']}"
            if h
            else "none (flat clusters)"
        )
    )
    out.append(f"- **Report generated:** {p['generated_at']} UTC")
    return out


def _node(n: dict[str, Any], depth: int) -> list[str]:
    hashes = "#" * min(depth + 3, 6)
    kind = "cluster" if n["level"] == 0 else f"level {n['level']}"
    out = [
        f"{hashes} {md_text(n['title'], 120)}",
        "",
        f"{n['count']:,} queries, {n['share']:.1%} of the run ({kind} {n['node_id']})",
        "",
    ]
    if n["description"]:
        out += [md_text(n["description"], 1000), ""]
    if n["notes"]:
        tags = ", ".join(md_text(t, 60) for t in n["notes"]["tags"])
        if tags:
            out.append(f"- **Tags:** {tags}")
        if n["notes"]["notes"]:
            out.append(f"- **Notes:** {md_text(n['notes']['notes'], 1000)}")
        out.append("")
    for lift in n["lifts"]:
        out.append(
            f"- {md_text(lift['facet'], 40)} = {md_text(lift['value'], 60)}:"
            f" lift {lift['lift']:.2f} (95% CI {lift['low']:.2f}-{lift['high']:.2f},"
            f" q {lift['q']:.3g})"
        )
    if n["examples"]:
        out += ["Representative queries:", ""]
        out += [f"> {md_text(t)}" + "\n" for t in n["examples"]]
    if n["rolled_up"]["nodes"]:
        r = n["rolled_up"]
        out += [f"*{r['nodes']} smaller groups ({r['queries']:,} queries) rolled up here.*", ""]
    for child in n["children"]:
        out += _node(child, depth + 1)
    return out


def render_md(data: dict[str, Any], map_ref: str | None, map_note: str | None) -> str:
    """The whole report; `map_ref` is the map image's file name beside it (or None, with
    `map_note` saying why)."""
    p = data["provenance"]
    out = [f"# Report: run {md_text(p['run_id'], 80)}", "", *_provenance(p), ""]
    out += [
        f"{data['total']:,} queries. Groups under {data['min_cluster_size']} queries are rolled"
        " into their parent and show no examples.",
        "",
        "## Map",
        "",
        f"![cluster map]({map_ref})" if map_ref else f"No map: {md_text(map_note, 200)}",
        "",
        "## Facet lifts",
        "",
        "Facet values a group has more of than the run (model, language, label), each cell tested"
        " and corrected for multiple testing (Benjamini-Hochberg, q < 0.05), are listed under"
        " the group with their lift and 95% interval."
        + ("" if data["significant_lifts"] else " None survived the correction."),
        "",
        "## Hierarchy",
        "",
    ]
    for n in data["tree"]:
        out += _node(n, 0)
    r = data["rolled_up"]
    if r["nodes"]:
        out.append(f"*{r['nodes']} smaller top-level groups ({r['queries']:,} queries) not shown.*")
    return "\n".join(out).rstrip() + "\n"
