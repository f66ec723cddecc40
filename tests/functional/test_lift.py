"""Facet lift on real ShareGPT clusters with LMSYS-shaped models: a planted over-represented
model is found, and uniform models are flagged nowhere (after the BH correction).

The `db` fixture's k-means run (400 real first turns, 30 clusters) gets models written over
its queries: every cluster's members take the four LMSYS models in turn (so each model's share
is the same in every cluster), except the largest cluster, where 80% of members are
`planted-13b`. The test is deterministic: the same ids, the same models.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from lmsys_shaped import MODELS

from lmsys_tui.core.insights.lift import FacetOptions, pivot, significant_lifts
from lmsys_tui.errors import NotFoundError, UsageError

PLANTED = "planted-13b"


def _plant(db: Path) -> tuple[str, int]:
    """Write models as the module docstring says; returns (run id, the planted cluster)."""
    conn = sqlite3.connect(db)
    run_id, cluster = conn.execute(
        "SELECT run_id, cluster_id FROM clusters ORDER BY size DESC, cluster_id LIMIT 1"
    ).fetchone()
    members = conn.execute(
        "SELECT cluster_id, query_id FROM query_clusters WHERE run_id = ?"
        " ORDER BY cluster_id, query_id",
        (run_id,),
    ).fetchall()
    seen: dict[int, int] = {}
    updates = []
    for cid, qid in members:
        i = seen[cid] = seen.get(cid, -1) + 1
        planted = cid == cluster and i % 5 != 4
        updates.append((PLANTED if planted else MODELS[i % len(MODELS)], qid))
    conn.executemany("UPDATE queries SET model = ? WHERE id = ?", updates)
    conn.commit()
    conn.close()
    return run_id, cluster


def test_a_planted_model_is_found_and_uniform_ones_are_not(db: Path) -> None:
    run_id, cluster = _plant(db)
    lifts = significant_lifts(db, run_id, "model")
    over = [c for c in lifts if c.lift > 1]
    assert [(c.node_id, c.value) for c in over] == [(cluster, PLANTED)]
    top = over[0]
    assert top.ci_low > 1 < top.lift < top.ci_high and top.q_value <= 0.05
    assert top.share == pytest.approx(top.count / top.size) and top.share >= 0.75
    # what the planted cluster lacks is flagged too (it has few of the usual models), and
    # nothing in any other cluster survives the correction
    assert {c.node_id for c in lifts} == {cluster}
    assert {c.value for c in lifts if c.lift < 1} <= set(MODELS)

    data = pivot(db, FacetOptions(run_id=run_id, by="model"))
    assert data["tests"] == 30 * 5 and len(data["values"]) == 5
    assert sum(v["count"] for v in data["values"]) == data["total_queries"] == 400
    uniform = [c for n in data["nodes"] if n["node_id"] != cluster for c in n["cells"]]
    assert uniform and not any(c["significant"] for c in uniform)
    assert max(c["lift"] for c in uniform) < 1.8  # round-robin models: near 1 everywhere


def test_built_in_facets_and_bad_input(db: Path) -> None:
    run_id, _ = _plant(db)
    data = pivot(db, FacetOptions(run_id=run_id, by="dataset"))
    assert [v["value"] for v in data["values"]] == ["sharegpt"] and not data["significant"]
    flagged = pivot(db, FacetOptions(run_id=run_id, by="flagged"))
    assert {v["value"] for v in flagged["values"]} <= {"yes", "no", "(unknown)"}
    with pytest.raises(UsageError, match="--by must be one of model, language"):
        pivot(db, FacetOptions(run_id=run_id, by="query_text"))
    with pytest.raises(NotFoundError, match="no finished hierarchy"):
        pivot(db, FacetOptions(run_id=run_id, level=1))


def test_a_label_column_is_a_facet_when_the_store_has_one(db: Path) -> None:
    """The label `load --label-column` stores with each query is a facet like any other."""
    run_id, cluster = _plant(db)
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE queries SET label = CASE model WHEN ? THEN 'coding' ELSE 'other' END", (PLANTED,)
    )
    conn.commit()
    conn.close()
    found = significant_lifts(db, run_id, "label")
    assert (cluster, "coding") in {(c.node_id, c.value) for c in found if c.lift > 1}


def test_facets_command_json_and_table(db: Path, cli_env: dict[str, str]) -> None:
    run_id, _ = _plant(db)
    args = ["--headless", "facets", run_id, "--by", "model", "--db-path", str(db)]
    out = run_cli([*args, "--json", "--significant-only"], cli_env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["significant"][0]["value"] == PLANTED
    assert all(c["significant"] for n in data["nodes"] for c in n["cells"])
    table = run_cli(args, cli_env | {"COLUMNS": "200"})
    assert table.returncode == 0 and PLANTED in table.stdout
    bad = run_cli([*args[:-2], "--by", "nope", "--db-path", str(db)], cli_env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--by" in bad.stderr
    missing = run_cli(["--headless", "facets", "no-such-run", "--db-path", str(db)], cli_env)
    assert missing.returncode == 3
