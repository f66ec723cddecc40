"""`evaluate run` and `evaluate stability` on real labelled text (tests/corpora.py).

One store per module: the chat corpus (7 topics) loaded from a jsonl file with its labels,
embedded with the bundled MiniLM, clustered by k-means into 20 leaves, summarised and merged
offline. The figures the commands print are checked against sklearn on the stored rows and
against what must hold whatever the data (purity cannot rise when nodes merge).
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import db_rows, run_cli
from corpora import chat_questions
from lmsys_shaped import write_jsonl

N_LEAVES = 20


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(store path, run id, hierarchy id) of the labelled chat corpus, built once."""
    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.cluster.options import EmbedOptions
    from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.registry import open_source
    from lmsys_tui.core.sources.spec import ColumnMap, SourceSpec
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

    root = tmp_path_factory.mktemp("labelled")
    corpus = chat_questions()
    pairs = zip(corpus.texts, corpus.labels, strict=True)
    rows = [{"id": f"q{i}", "text": t, "topic": lab} for i, (t, lab) in enumerate(pairs)]
    spec = SourceSpec(file=write_jsonl(root / "chat.jsonl", rows),
                      columns=ColumnMap(label_column="topic"))  # fmt: skip
    store = open_store(root / "queries.db")
    try:
        info, items = open_source(spec)
        run_load(store, items, info)
        run = run_kmeans(store, KMeansParams(n_clusters=N_LEAVES),
                         embed_opts=EmbedOptions(embed_backend="torch"))  # fmt: skip
        run_summarize(store, run.run_id, SummarizeOptions())
        hier = run_merge(store, run.run_id, MergeOptions())
    finally:
        store.close()
    return root / "queries.db", run.run_id, hier.hierarchy_run_id


def _json(args: list[str], env: dict[str, str]) -> dict:
    out = run_cli(["--headless", *args, "--json"], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_figures_per_level_agree_with_sklearn_on_the_stored_rows(labelled, cli_env) -> None:
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    db, run_id, hier_id = labelled
    data = _json(["evaluate", "run", run_id, "--db-path", str(db)], cli_env)
    assert data["hierarchy_run_id"] == hier_id and data["labels"] == 7
    assert data["labelled"] == len(chat_questions().texts) and data["unlabelled"] == 0
    levels = data["levels"]
    stored = dict(db_rows(db, "SELECT level, COUNT(*) FROM cluster_hierarchies"
                              " WHERE hierarchy_run_id = ? GROUP BY level", hier_id))  # fmt: skip
    assert [lvl["nodes_total"] for lvl in levels] == [stored[k] for k in sorted(stored)]
    assert levels[0]["nodes_total"] == N_LEAVES and len(levels) >= 2
    assert data["shape"]["method"] == "silhouette"  # merge-clusters' choice, shown beside
    assert data["shape"]["sizes"] == [lvl["nodes_total"] for lvl in levels]
    # leaves: the same figures as sklearn on the rows as stored
    pairs = db_rows(db, "SELECT q.label, qc.cluster_id FROM query_clusters qc JOIN queries q"
                        " ON q.id = qc.query_id WHERE qc.run_id = ?", run_id)  # fmt: skip
    truth, leaf = [p[0] for p in pairs], [p[1] for p in pairs]
    assert levels[0]["v_measure"] == round(v_measure_score(truth, leaf), 4)
    assert levels[0]["ari"] == round(adjusted_rand_score(truth, leaf), 4)
    # merging nodes can only lower purity and homogeneity, only raise completeness
    for below, above in itertools.pairwise(levels):
        assert above["purity"] <= below["purity"] and above["homogeneity"] <= below["homogeneity"]
        assert above["completeness"] >= below["completeness"]
        assert above["nodes"] < below["nodes"]
    rec = data["reconstruction"]
    assert rec["accuracy"] == levels[-1]["purity"]  # Clio's figure is the top's purity
    assert abs(sum(m["true_share"] for m in rec["mix"]) - 1) < 1e-3
    assert abs(sum(m["top_share"] for m in rec["mix"]) - 1) < 1e-3
    assert set(rec["unseen"]) == {m["label"] for m in rec["mix"] if m["top_share"] == 0}
    # the table for people says the same
    shown = run_cli(["--headless", "evaluate", "run", run_id, "--db-path", str(db)], cli_env)
    assert shown.returncode == 0 and f"{levels[0]['v_measure']:.3f}" in shown.stdout
    assert f"Reconstruction at the top (level {len(levels) - 1})" in shown.stdout
    assert f"Level sizes {data['shape']['sizes']} chosen by silhouette" in shown.stdout


def test_stability_refits_with_other_seeds(labelled, cli_env) -> None:
    db, run_id, _ = labelled
    data = _json(["evaluate", "stability", run_id, "--seeds", "3", "--db-path", str(db)],
                 cli_env)  # fmt: skip
    assert data["seeds"] == [42, 43, 44] and data["algorithm"] == "kmeans"
    levels = data["levels"]
    evaluated = _json(["evaluate", "run", run_id, "--db-path", str(db)], cli_env)["levels"]
    assert len(levels) == len(evaluated)
    assert levels[0]["nodes"] == [N_LEAVES] * 3 and levels[0]["pairs"] == 3
    assert data["sizes"] == [lvl["nodes_total"] for lvl in evaluated[1:]]
    for lvl in levels:
        assert -1 <= lvl["ari_min"] <= lvl["ari_mean"] <= lvl["ari_max"] <= 1
        assert len(lvl["v_measure"]) == 3
    # fit 0 is the run itself: its leaves score what `evaluate run` says of the stored run
    assert levels[0]["v_measure"][0] == evaluated[0]["v_measure"]


def test_errors_are_one_line(labelled, cli_env, tmp_path) -> None:
    db, run_id, _ = labelled
    bare = tmp_path / "bare.db"
    shutil.copy(db, bare)
    for suffix in ("-wal", "-shm"):
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", f"{bare}{suffix}")
    conn = sqlite3.connect(bare)  # the same store without its labels
    conn.execute("UPDATE queries SET label = NULL")
    conn.commit()
    conn.close()
    cases = [
        (["evaluate", "run", "nope", "--db-path", str(db)], 3, "no clustering run"),
        (["evaluate", "run", run_id, "--hierarchy", "hier-x", "--db-path", str(db)], 3,
         "no hierarchy"),
        (["evaluate", "run", run_id, "--db-path", str(bare)], 2, "--label-column"),
        (["evaluate", "stability", run_id, "--seeds", "1", "--db-path", str(db)], 2, "--seeds"),
        (["evaluate", "stability", run_id, "--hierarchy", "hier-x", "--db-path", str(db)], 3,
         "no hierarchy"),
    ]  # fmt: skip
    for args, code, text in cases:
        out = run_cli(["--headless", *args, "--json"], cli_env)
        assert out.returncode == code, (args, out.stderr)
        assert out.stdout == "" and text in out.stderr and out.stderr.count("\n") == 1, args


def test_stability_of_a_density_run_without_labels_or_hierarchy(runs, cli_env) -> None:
    """HDBSCAN (noise left out of the comparison), no hierarchy (the sizes merge-clusters would
    choose), no labels (no V-measure): still ARI per level, and `evaluate run` says what's
    missing."""
    data = _json(["evaluate", "stability", runs["hdbscan"], "--seeds", "2"], cli_env)
    assert data["algorithm"] == "hdbscan" and data["seeds"] == [42, 43]
    assert len(data["levels"]) == 1 + len(data["sizes"]) and data["sizes"]
    for lvl in data["levels"]:
        assert lvl["pairs"] == 1 and -1 <= lvl["ari_mean"] <= 1 and "v_measure" not in lvl
    out = run_cli(["--headless", "evaluate", "run", runs["kmeans"], "--json"], cli_env)
    assert out.returncode == 2 and "load the data with --label-column" in out.stderr


def test_stability_of_a_run_with_one_cluster_compares_the_leaves(labelled, tmp_path) -> None:
    """A one-cluster k-means run (allowed: --n-clusters 1) has no level to merge: stability
    compares its leaves instead of failing inside the agglomeration."""
    from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
    from lmsys_tui.core.evaluate.stability import stability
    from lmsys_tui.core.store.db import open_store

    db, _, _ = labelled
    shutil.copy(db, tmp_path / "queries.db")
    store = open_store(tmp_path / "queries.db")
    try:
        run = run_kmeans(store, KMeansParams(n_clusters=1))
        data = stability(store, run.run_id, seeds=2)
    finally:
        store.close()
    assert data["sizes"] == [] and [lvl["nodes"] for lvl in data["levels"]] == [[1, 1]]
