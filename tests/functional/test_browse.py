"""Browsing runs through the real CLI: list-clusters, inspect, list (keyset pages in every
order, hierarchy nodes), errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import tui_store
from cluster_seed import N_QUERIES, SAMPLE
from conftest import run_cli

from lmsys_tui.core.read.listing import list_queries
from lmsys_tui.errors import ExitCode


def _json(args: list[str], env: dict[str, str]) -> dict:
    res = run_cli(["--headless", *args, "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _sql(home: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(home / "queries.db")
    try:
        rows = conn.execute(sql, args).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def _fails(args: list[str], env: dict[str, str], code: ExitCode) -> str:
    res = run_cli(["--headless", *args], env)
    assert res.returncode == code, (args, res.returncode, res.stderr)
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.startswith("error:") and res.stderr.count("\n") == 1
    return res.stderr


def test_list_clusters_largest_first_with_central_examples(runs, home, cli_env) -> None:
    run = runs["kmeans"]
    data = _json(["list-clusters", run, "--show-examples", "2", "--example-width", "500"], cli_env)
    assert set(data) == {"run_id", "algorithm", "summary_run_id", "alias", "total_clusters",
                         "total_queries", "clusters"}  # fmt: skip
    assert data["total_clusters"] == len(data["clusters"]) == 12
    sizes = [c["num_queries"] for c in data["clusters"]]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == data["total_queries"]
    for c in data["clusters"]:
        assert c["title"] == ", ".join(c["keywords"][:5]) and c["title_source"] == "keywords"
        assert len(c["examples"]) == 2
        members = dict(
            _sql(
                home,
                "SELECT query_id, distance FROM query_clusters WHERE run_id = ? AND cluster_id = ?",
                (run, c["cluster_id"]),
            )
        )
        assert [e["query_id"] in members for e in c["examples"]] == [True, True]
        assert c["examples"][0]["distance"] == min(members.values())
        text = _sql(home, "SELECT query_text FROM queries WHERE id = ?",
                    (c["examples"][0]["query_id"],))[0][0]  # fmt: skip
        assert c["examples"][0]["text"] == text[:500]
    limited = _json(["list-clusters", run, "--limit", "3"], cli_env)
    assert [c["cluster_id"] for c in limited["clusters"]] == [
        c["cluster_id"] for c in data["clusters"][:3]
    ]
    assert "examples" not in limited["clusters"][0]
    noise = _json(["list-clusters", runs["hdbscan"]], cli_env)["clusters"]
    assert noise[-1]["cluster_id"] == -1 and noise[-1]["noise"] is True
    assert all(not c["noise"] for c in noise[:-1])


def test_titles_come_from_one_summary_pass_never_a_mix(runs, home, cli_env) -> None:
    run = runs["kmeans"]
    for srid, alias, when, clusters in (
        ("pass-old", "a", "2026-01-01 00:00:00.000000", range(12)),
        ("pass-new", "b", "2026-02-01 00:00:00.000000", range(6)),  # only half summarised
    ):
        _sql(home, "INSERT INTO summary_runs (summary_run_id, run_id, alias, model, parameters,"
                   " status, created_at) VALUES (?, ?, ?, 'offline', '{}', 'done', ?)",
             (srid, run, alias, when))  # fmt: skip
        for cid in clusters:
            _sql(home, "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, alias,"
                       " title, description, representative_queries, parameters, status,"
                       " generated_at) VALUES (?, ?, ?, ?, ?, 'd', '[]', '{}', 'done', ?)",
                 (run, cid, srid, alias, f"{srid} title {cid}", when))  # fmt: skip
    newest = _json(["list-clusters", run], cli_env)
    assert newest["summary_run_id"] == "pass-new"
    for c in newest["clusters"]:
        if c["cluster_id"] < 6:
            assert c["title"] == f"pass-new title {c['cluster_id']}"
        else:  # not in the newest pass: keywords, never the old pass's title
            assert c["title_source"] == "keywords" and "pass-old" not in c["title"]
    old = _json(["list-clusters", run, "--alias", "a"], cli_env)
    assert all(c["title"].startswith("pass-old title") for c in old["clusters"])
    one = _json(["inspect", run, "7", "--summary-run-id", "pass-old"], cli_env)
    assert one["title"] == "pass-old title 7" and one["description"] == "d"
    _fails(["list-clusters", run, "--summary-run-id", "nope"], cli_env, ExitCode.NOT_FOUND)


def test_inspect_shows_the_most_central_queries_in_full(runs, home, cli_env) -> None:
    run = runs["kmeans"]
    data = _json(["inspect", run, "0", "--show-queries", "4"], cli_env)
    size = _sql(home, "SELECT size FROM clusters WHERE run_id = ? AND cluster_id = 0", (run,))
    assert data["num_queries"] == size[0][0] and data["more"] == size[0][0] - 4
    distances = [q["distance"] for q in data["queries"]]
    assert len(distances) == 4 and distances == sorted(distances)
    all_d = [r[0] for r in _sql(home, "SELECT distance FROM query_clusters WHERE run_id = ?"
                                      " AND cluster_id = 0 ORDER BY distance", (run,))]  # fmt: skip
    assert distances == all_d[:4]
    for q in data["queries"]:
        assert q["query_text"] == _sql(home, "SELECT query_text FROM queries WHERE id = ?",
                                       (q["query_id"],))[0][0]  # fmt: skip
    res = run_cli(["--headless", "inspect", runs["hdbscan"], "--show-queries", "3", "--json",
                   "--", "-1"], cli_env)  # fmt: skip
    noise = json.loads(res.stdout)
    assert noise["noise"] is True and len(noise["queries"]) == 3
    assert all(q["distance"] is None and q["confidence"] == 0 for q in noise["queries"])
    assert "no cluster 999" in _fails(["inspect", run, "999"], cli_env, ExitCode.NOT_FOUND)
    assert "nope" in _fails(["inspect", "nope", "0"], cli_env, ExitCode.NOT_FOUND)


def test_keyset_pages_return_every_row_exactly_once(runs, home, cli_env) -> None:
    db = home / "queries.db"

    def walk(limit: int, **filters) -> list[int]:  # type: ignore[no-untyped-def]
        seen: list[int] = []
        after = None
        while True:
            page = list_queries(db, limit=limit, after_id=after, **filters)
            seen += [q["query_id"] for q in page["queries"]]
            after = page["next_after_id"]
            if after is None:
                return seen

    everything = walk(97)
    assert everything == sorted(set(everything)) and len(everything) == N_QUERIES + SAMPLE
    run = runs["kmeans"]
    in_run = walk(50, run_id=run)
    expected = [r[0] for r in _sql(home, "SELECT query_id FROM query_clusters WHERE run_id = ?"
                                         " ORDER BY query_id", (run,))]  # fmt: skip
    assert in_run == expected
    in_cluster = walk(7, run_id=run, cluster_id=3)
    pairs = _sql(
        home, "SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ? ORDER BY 1", (run,)
    )
    assert in_cluster == [q for q, c in pairs if c == 3]
    assert len(walk(40, dataset="sample")) == SAMPLE
    english = list_queries(db, language="English", limit=500)["queries"]
    assert english and all(q["language"] == "English" for q in english)
    assert list_queries(db, model="no-such-model")["queries"] == []
    # the CLI pages the same way: its cursor continues where the page ended
    first = _json(["list", "--run-id", run, "--limit", "5"], cli_env)
    assert [q["query_id"] for q in first["queries"]] == expected[:5]
    assert first["next_after_id"] == expected[4] and first["count"] == 5
    assert set(first["queries"][0]) >= {
        "query_id", "conversation_id", "dataset", "model", "language", "cluster_id", "distance",
        "query_text",
    }  # fmt: skip
    second = _json(["list", "--run-id", run, "--limit", "5", "--after-id",
                    str(first["next_after_id"])], cli_env)  # fmt: skip
    assert [q["query_id"] for q in second["queries"]] == expected[5:10]
    _fails(["list", "--cluster-id", "3"], cli_env, ExitCode.USAGE)
    _fails(["list", "--run-id", "nope"], cli_env, ExitCode.NOT_FOUND)
    _fails(["list", "--run-id", run, "--cluster-id", "77"], cli_env, ExitCode.NOT_FOUND)
    _fails(["list", "--dataset", "nope"], cli_env, ExitCode.NOT_FOUND)


def test_tables_show_untrusted_text_inert(runs, home, cli_env) -> None:
    evil = "[bold red]boom[/] \x1b[31mred\x1b[0m [INST] end"
    _sql(home, "INSERT INTO queries (dataset_id, conversation_id, query_text, text_hash,"
               " language, created_at) VALUES (1, 'evil', ?, 'h', 'xx', '2026-01-01 00:00:00')",
         (evil,))  # fmt: skip
    res = run_cli(["--headless", "list", "--language", "xx"], cli_env | {"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "[bold red]boom[/]" in res.stdout and "[INST]" in res.stdout
    assert "\x1b" not in res.stdout and "\\x1b[31m" in res.stdout


def test_runs_without_results_and_missing_stores_are_not_found(runs, home, cli_env) -> None:
    _sql(home, "INSERT INTO clustering_runs (run_id, algorithm, parameters, metrics, status,"
               " error, created_at) VALUES ('gone', 'kmeans', '{}', '{}', 'cancelled',"
               " 'cancelled', '2026-01-01 00:00:00')")  # fmt: skip
    assert "cancelled" in _fails(["list-clusters", "gone"], cli_env, ExitCode.NOT_FOUND)
    _fails(["list-clusters", "nope"], cli_env, ExitCode.NOT_FOUND)
    _fails(["list-clusters", runs["kmeans"], "--db-path", str(home / "no.db")], cli_env,
           ExitCode.NOT_FOUND)  # fmt: skip
    table = run_cli(["--headless", "list-clusters", runs["kmeans"], "--show-examples", "1"],
                    cli_env)  # fmt: skip
    assert table.returncode == 0 and "Examples" in table.stdout and "12 of 12" in table.stderr


# -- list --node / --order / --after (on the TUI fixture: it has a hierarchy) ---------------------


@pytest.fixture
def fx(store: Any) -> tui_store.FixtureStore:
    return tui_store.build(store)


def _walk(args: list[str], env: dict[str, str]) -> tuple[list[int], list[dict]]:
    """Every page of a `list` through the CLI, following `next_after`."""
    seen: list[int] = []
    pages = []
    after: list[str] = []
    for _ in range(50):
        page = _json(["list", *args, *after], env)
        pages.append(page)
        seen += [q["query_id"] for q in page["queries"]]
        if page["next_after"] is None:
            return seen, pages
        after = ["--after", page["next_after"]]
    raise AssertionError("paging did not end")


def test_default_list_json_is_unchanged(fx: tui_store.FixtureStore, cli_env) -> None:
    data = _json(["list", "--run-id", tui_store.RUN_ID, "--limit", "2"], cli_env)
    assert list(data) == ["filters", "queries", "count", "next_after_id"]
    assert list(data["filters"]) == [
        "run_id", "cluster_id", "model", "language", "dataset", "after_id",
    ]  # fmt: skip
    assert list(data["queries"][0]) == [
        "query_id", "conversation_id", "dataset", "model", "language", "cluster_id", "distance",
        "confidence", "query_text",
    ]  # fmt: skip


@pytest.mark.parametrize("order", ["id", "distance", "-distance"])
def test_list_a_hierarchy_node_in_every_order(
    fx: tui_store.FixtureStore, home, cli_env, order: str
) -> None:
    run = tui_store.RUN_ID
    with sqlite3.connect(home / "queries.db") as conn:  # a tie across two clusters of the node
        conn.execute(
            "UPDATE query_clusters SET distance = 0.15 WHERE run_id = ? AND query_id = ?",
            (run, fx.query_ids[3][0]),
        )
    key = {"id": "query_id", "distance": "distance, query_id",
           "-distance": "distance DESC, query_id DESC"}[order]  # fmt: skip
    expected = [r[0] for r in _sql(home, "SELECT query_id FROM query_clusters WHERE run_id = ?"
                                         f" AND cluster_id IN (2, 3, 4, 5) ORDER BY {key}",
                                   (run,))]  # fmt: skip
    seen, pages = _walk(["--run-id", run, "--node", "2000001", "--order", order, "--limit", "4"],
                        cli_env)  # fmt: skip
    assert seen == expected and len(seen) == 18 and len(pages) == 5
    first = pages[0]
    assert first["filters"]["node"] == 2_000_001
    assert first["filters"]["hierarchy_id"] == tui_store.HIER_ID  # the newest finished one
    assert first["filters"]["order"] == order
    assert {q["cluster_id"] for p in pages for q in p["queries"]} == {2, 3, 4, 5}
    if order == "id":  # id order keeps the reference's cursor too, and the two agree
        assert first["next_after_id"] == seen[3] and first["next_after"] == str(seen[3])
    else:
        assert "next_after_id" not in first
    # a level-0 node of the hierarchy is its cluster; an explicit hierarchy id is checked
    one = _json(["list", "--run-id", run, "--node", "3", "--hierarchy-id", tui_store.HIER_ID,
                 "--order", order], cli_env)  # fmt: skip
    assert {q["cluster_id"] for q in one["queries"]} == {3} and one["count"] == 5


def test_noise_comes_last_in_distance_order(fx: tui_store.FixtureStore, cli_env) -> None:
    run = tui_store.FLAT_RUN
    seen, _ = _walk(["--run-id", run, "--order", "distance", "--limit", "7"], cli_env)
    members = _json(["list", "--run-id", run, "--limit", "100"], cli_env)["queries"]
    noise = sorted(q["query_id"] for q in members if q["cluster_id"] == -1)
    assert len(seen) == 36 and seen[-len(noise) :] == noise
    with_distance = sorted((q["distance"], q["query_id"]) for q in members if q["distance"])
    assert seen[: -len(noise)] == [q for _, q in with_distance]


def test_list_node_errors(fx: tui_store.FixtureStore, cli_env) -> None:
    run = tui_store.RUN_ID
    _fails(["list", "--node", "2000001"], cli_env, ExitCode.USAGE)
    _fails(["list", "--run-id", run, "--node", "1000001", "--cluster-id", "2"], cli_env,
           ExitCode.USAGE)  # fmt: skip
    _fails(["list", "--run-id", run, "--hierarchy-id", tui_store.HIER_ID], cli_env,
           ExitCode.USAGE)  # fmt: skip
    _fails(["list", "--order", "distance"], cli_env, ExitCode.USAGE)
    _fails(["list", "--run-id", run, "--order", "random"], cli_env, ExitCode.USAGE)
    _fails(["list", "--run-id", run, "--order", "distance", "--after", "7"], cli_env,
           ExitCode.USAGE)  # fmt: skip
    _fails(["list", "--run-id", run, "--order", "distance", "--after-id", "7"], cli_env,
           ExitCode.USAGE)  # fmt: skip
    _fails(["list", "--run-id", run, "--order", "-distance", "--after", "near:0:0.1:3"],
           cli_env, ExitCode.USAGE)  # fmt: skip
    assert "no node 42" in _fails(["list", "--run-id", run, "--node", "42"], cli_env,
                                  ExitCode.NOT_FOUND)  # fmt: skip
    _fails(["list", "--run-id", run, "--node", "2", "--hierarchy-id", "nope"], cli_env,
           ExitCode.NOT_FOUND)  # fmt: skip
    no_hierarchy = _fails(["list", "--run-id", tui_store.FLAT_RUN, "--node", "0"], cli_env,
                          ExitCode.NOT_FOUND)  # fmt: skip
    assert "no finished hierarchy" in no_hierarchy
