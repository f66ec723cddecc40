"""Run diff on a real k-means run of ShareGPT first turns (the `db` fixture, 30 clusters):
a run against itself changes nothing; against a copy where two clusters were merged (and one
retitled) it reports exactly that merge (and that rename); per hierarchy level on the TUI store.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import tui_store
from conftest import run_cli

from lmsys_tui.core.insights.compare import CompareOptions, compare_runs
from lmsys_tui.errors import NotFoundError, UsageError


def copy_run(db: Path, src: str, dst: str, relabel: dict[int, int]) -> None:
    """A copy of run `src` named `dst` whose clusters in `relabel` are renumbered (two ids to
    one: a merge), written the way the clustering stage writes runs."""
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, dataset_id,"
        " embedding_provider, embedding_model, embedding_dim, parameters, metrics, status,"
        " created_at, finished_at) SELECT ?, algorithm, num_clusters, dataset_id,"
        " embedding_provider, embedding_model, embedding_dim, parameters, metrics, status,"
        " created_at, finished_at FROM clustering_runs WHERE run_id = ?",
        (dst, src),
    )
    members = conn.execute(
        "SELECT query_id, cluster_id, confidence_score, distance FROM query_clusters"
        " WHERE run_id = ?",
        (src,),
    ).fetchall()
    moved = [(dst, q, relabel.get(c, c), p, d) for q, c, p, d in members]
    conn.executemany(
        "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score, distance)"
        " VALUES (?, ?, ?, ?, ?)",
        moved,
    )
    sizes: dict[int, int] = {}
    for _, _, c, _, _ in moved:
        sizes[c] = sizes.get(c, 0) + 1
    for cid, keywords, centroid in conn.execute(
        "SELECT cluster_id, keywords, centroid FROM clusters WHERE run_id = ?", (src,)
    ).fetchall():
        if cid in sizes:
            conn.execute(
                "INSERT INTO clusters (run_id, cluster_id, size, centroid, keywords, metrics)"
                " VALUES (?, ?, ?, ?, ?, '{}')",
                (dst, cid, sizes[cid], centroid, keywords),
            )
    conn.commit()
    conn.close()


def _run_and_pair(db: Path) -> tuple[str, int, int]:
    conn = sqlite3.connect(db)
    run_id = conn.execute("SELECT run_id FROM clustering_runs").fetchone()[0]
    a, b = (r[0] for r in conn.execute(
        "SELECT cluster_id FROM clusters WHERE run_id = ? ORDER BY size DESC LIMIT 2", (run_id,)
    ))  # fmt: skip
    conn.close()
    return run_id, a, b


def test_a_run_against_itself_changes_nothing(db: Path) -> None:
    run_id, _, _ = _run_and_pair(db)
    diff = compare_runs(db, CompareOptions(run_a=run_id, run_b=run_id))
    assert diff["ari"] == diff["nmi"] == 1.0 and diff["moved_share"] == 0.0
    assert diff["changes"] == {"merged": 0, "split": 0, "new": 0, "vanished": 0, "renamed": 0}
    assert len(diff["kept"]) == diff["clusters_a"] == 30
    assert all(k["a"] == k["b"] and k["jaccard"] == 1.0 for k in diff["kept"])
    assert diff["queries"] == {"common": 400, "only_a": 0, "only_b": 0}


def test_a_copy_with_two_clusters_merged_reports_exactly_that_merge(db: Path) -> None:
    run_id, a, b = _run_and_pair(db)
    copy_run(db, run_id, "merged-copy", {b: a})
    conn = sqlite3.connect(db)  # the merged cluster gets a new keyword title: a rename
    conn.execute(
        "UPDATE clusters SET keywords = '[\"renamed\"]' WHERE run_id = 'merged-copy'"
        " AND cluster_id = (SELECT cluster_id FROM clusters WHERE run_id = 'merged-copy'"
        " AND cluster_id NOT IN (?, ?) ORDER BY cluster_id LIMIT 1)",
        (a, b),
    )
    conn.commit()
    conn.close()
    diff = compare_runs(db, CompareOptions(run_a=run_id, run_b="merged-copy"))
    assert diff["changes"] == {"merged": 1, "split": 0, "new": 0, "vanished": 0, "renamed": 1}
    (merge,) = diff["merged"]
    assert merge["into"] == a and sorted(s["cluster_id"] for s in merge["from"]) == sorted([a, b])
    assert len(diff["kept"]) == 28 and diff["renamed"][0]["title_b"] == "renamed"
    assert diff["moved_share"] == 0.0 and 0.5 < diff["ari"] < 1.0
    # the other way round the same change is a split
    back = compare_runs(db, CompareOptions(run_a="merged-copy", run_b=run_id))
    assert back["changes"]["split"] == 1 and back["changes"]["merged"] == 0
    assert back["split"][0]["from"] == a and back["moved_share"] > 0


def test_per_hierarchy_level_agreement(fx: tui_store.FixtureStore) -> None:
    diff = compare_runs(fx.db, CompareOptions(run_a=tui_store.RUN_ID, run_b=tui_store.RUN_ID))
    assert [v["level"] for v in diff["levels"]] == [0, 1, 2]
    assert all(v["ari"] == 1.0 for v in diff["levels"])


def test_bad_input(db: Path) -> None:
    run_id, _, _ = _run_and_pair(db)
    with pytest.raises(NotFoundError):
        compare_runs(db, CompareOptions(run_a=run_id, run_b="nope"))
    with pytest.raises(UsageError, match="--threshold"):
        CompareOptions(run_a=run_id, run_b=run_id, threshold=1.5)


def test_compare_command(db: Path, cli_env: dict[str, str]) -> None:
    run_id, a, b = _run_and_pair(db)
    copy_run(db, run_id, "merged-copy", {b: a})
    args = ["--headless", "compare", run_id, "merged-copy", "--db-path", str(db)]
    out = run_cli([*args, "--json"], cli_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["changes"]["merged"] == 1
    table = run_cli(args, cli_env | {"COLUMNS": "200"})
    assert table.returncode == 0 and "merged" in table.stdout and "ARI" in table.stderr
