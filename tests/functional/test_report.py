"""`report RUN`: a real clustered ShareGPT run with offline summaries and hierarchy, a query
and a title carrying hostile markup, and an analyst's note, rendered as Markdown and as HTML.

The HTML is opened in headless Chromium (the test environment installs it, see .ci/run): it
must render (a screenshot is written), log no console message (a blocked load or a script
would), and hold no markup from the data. Skipped, saying why, only when no Chromium exists.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from html.parser import HTMLParser

import pytest
import summary_fixtures as fx
from browser import chromium
from conftest import run_cli

from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
from lmsys_tui.core.insights.map_options import ReportOptions
from lmsys_tui.core.insights.report import write_report
from lmsys_tui.core.insights.report_data import build_report
from lmsys_tui.core.insights.report_md import md_text
from lmsys_tui.core.read.members import central
from lmsys_tui.core.store.sql import reader
from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

EVIL_QUERY = '<script>alert("q")</script><img src=x onerror="alert(1)"> [link](javascript:x)'
EVIL_TITLE = "<b onmouseover=alert(2)>Evil</b> title"
NOTE = "check <i>this</i> group"


@pytest.fixture
def planted(cstore, db) -> str:  # type: ignore[no-untyped-def]
    """The run with summaries and a 2-level hierarchy, the hostile texts planted in its
    largest cluster (its most central query, its title) and a note on it."""
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions())
    run_merge(cstore, fx.RUN_ID, MergeOptions(target_levels=2))
    conn = sqlite3.connect(db)
    (cluster,) = conn.execute(
        "SELECT cluster_id FROM clusters WHERE run_id = ? ORDER BY size DESC LIMIT 1",
        (fx.RUN_ID,),
    ).fetchone()
    (qid,) = conn.execute(
        "SELECT query_id FROM query_clusters WHERE run_id = ? AND cluster_id = ?"
        " ORDER BY distance LIMIT 1",
        (fx.RUN_ID, cluster),
    ).fetchone()
    conn.execute("UPDATE queries SET query_text = ? WHERE id = ?", (EVIL_QUERY, qid))
    conn.execute(
        "UPDATE cluster_summaries SET title = ? WHERE run_id = ? AND cluster_id = ?",
        (EVIL_TITLE, fx.RUN_ID, cluster),
    )
    conn.execute(
        "INSERT INTO cluster_metadata (run_id, cluster_id, quality, flags, notes, updated_at)"
        " VALUES (?, ?, 'high', '[\"jailbreak\"]', ?, '2024-01-01 00:00:00')",
        (fx.RUN_ID, cluster, NOTE),
    )
    conn.commit()
    conn.close()
    return str(cluster)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def test_html_report_is_inert_self_contained_and_complete(db, planted, tmp_path) -> None:
    out = tmp_path / "r.html"
    summary = write_report(db, fx.RUN_ID, ReportOptions(output=out))
    html = out.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    assert not {"script", "img", "iframe", "link", "object", "b", "i"} & set(parser.tags)
    assert not [a for a in parser.attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(&quot;q&quot;)" in html and "&lt;b onmouseover" in html
    assert not re.search(r"(src|href)=\"?(https?:|//)", html)  # nothing from the network
    assert "default-src 'none'" in html
    assert "<svg" in html and summary["map"] == "inline"
    # what the report must say: provenance, the hierarchy with shares, tags and notes
    for needed in ("sharegpt (400)", "all-MiniLM-L6-v2", "kmeans", "quality: high",
                   "jailbreak", "check &lt;i&gt;this&lt;/i&gt; group", "Hierarchy"):  # fmt: skip
        assert needed in html, needed
    assert "Facet lifts" in html


def test_a_planted_model_shows_as_a_significant_lift_of_its_cluster(db, planted, tmp_path) -> None:
    """Every query of the largest cluster gets a model no other query has: the report lists
    that model under that cluster (and under no other group), with its lift and interval."""
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE queries SET model = 'planted-model' WHERE id IN (SELECT query_id FROM"
        " query_clusters WHERE run_id = ? AND cluster_id = ?)",
        (fx.RUN_ID, int(planted)),
    )
    conn.commit()
    conn.close()
    out = tmp_path / "r.md"
    summary = write_report(db, fx.RUN_ID, ReportOptions(output=out, min_cluster_size=1))
    data = build_report(db, fx.RUN_ID, ReportOptions(output=out, min_cluster_size=1))
    holders = []

    def walk(nodes):  # type: ignore[no-untyped-def]
        for n in nodes:
            if any(x["value"] == "planted-model" for x in n["lifts"]):
                holders.append((n["level"], n["node_id"]))
            walk(n["children"])

    walk(data["tree"])
    assert (0, int(planted)) in holders
    assert all(level > 0 for level, node in holders if node != int(planted))  # only its parents
    assert summary["significant_lifts"] >= 1
    assert "model = planted-model: lift" in out.read_text(encoding="utf-8")


def test_small_nodes_are_rolled_up_and_their_examples_omitted(db, planted, tmp_path) -> None:
    conn = sqlite3.connect(db)
    sizes = dict(conn.execute("SELECT cluster_id, size FROM clusters WHERE run_id = ?",
                              (fx.RUN_ID,)).fetchall())  # fmt: skip
    conn.close()
    threshold = sorted(sizes.values())[len(sizes) // 2]  # about half the clusters fall below
    out = tmp_path / "r.md"
    summary = write_report(
        db, fx.RUN_ID, ReportOptions(output=out, min_cluster_size=threshold, examples=2)
    )
    text = out.read_text(encoding="utf-8")
    quoted = "\n".join(line for line in text.splitlines() if line.startswith("> "))  # examples
    big = {c for c, n in sizes.items() if n >= threshold}
    data = build_report(db, fx.RUN_ID, ReportOptions(min_cluster_size=threshold))
    assert summary["shown_clusters"] == len(data["shown_clusters"])
    assert set(data["shown_clusters"]) <= big
    assert "rolled up here" in text or "not shown" in text

    def leaves_and_rolled(nodes):  # type: ignore[no-untyped-def]
        return sum(
            (n["count"] if n["level"] == 0 else 0)
            + n["rolled_up"]["queries"]
            + leaves_and_rolled(n["children"])
            for n in nodes
        )

    # every query is counted once: in a shown cluster or in a rolled-up line
    assert leaves_and_rolled(data["tree"]) + data["rolled_up"]["queries"] == fx.N_QUERIES
    with reader(db) as conn2:
        keys = central(conn2, fx.RUN_ID, sorted(sizes), 1)
        texts = dict(conn2.execute("SELECT id, substr(query_text, 1, 2000) FROM queries"))
    lines = set(quoted.splitlines())
    for cluster, ks in keys.items():
        line = "> " + md_text(texts[ks[0].query_id])  # exactly as the report quotes it
        if cluster in data["shown_clusters"]:
            assert line in lines, cluster
        elif cluster not in big:
            # a small cluster's most central query is omitted (unless the same text is also
            # the most central of a shown cluster: ShareGPT repeats some first turns)
            shown_texts = {texts[keys[c][0].query_id] for c in data["shown_clusters"]}
            if texts[ks[0].query_id] not in shown_texts:
                assert line not in lines, cluster
    assert (tmp_path / "r.map.svg").read_text().startswith("<svg")
    assert "](r.map.svg)" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (.ci/run installs it)")
def test_html_report_renders_in_headless_chromium_without_console_messages(
    db, planted, cli_env, tmp_path
) -> None:
    out = tmp_path / "report.html"
    made = run_cli(["--headless", "report", fx.RUN_ID, "-o", str(out), "--json"], cli_env)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["format"] == "html"
    shot = tmp_path / "report.png"
    browser = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1000,1400", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
    console = [line for line in browser.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # no script ran, nothing was refused by the CSP
