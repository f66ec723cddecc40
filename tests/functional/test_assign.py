"""`cluster assign` on real ShareGPT first turns embedded with the real MiniLM (the `db`
fixture: 400 queries, their vectors stored). The last HELD_OUT queries become their own
dataset; a run fitted without them takes them by assignment, and a refit on all 400 says where
they belong. Agreement: the share of held-out queries whose assigned cluster is the cluster
the refit matches it to (clusters matched by shared members, `compare_runs`), and the ARI of
the two labellings over the held-out queries.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import db_rows, run_cli

from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan
from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans
from lmsys_tui.core.cluster.options import EmbedOptions, Selection
from lmsys_tui.core.insights.assign import AssignOptions, assign_dataset
from lmsys_tui.core.insights.compare import CompareOptions, compare_runs
from lmsys_tui.errors import NotFoundError, UsageError

HELD_OUT = 80
K = 8


def _hold_out(db: Path) -> list[int]:
    """Move the last HELD_OUT queries into a dataset "heldout"; returns their ids."""
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO datasets (label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES ('heldout', 'file', 'done', ?, '{}', '2024-01-01', '2024-01-01')",
        (HELD_OUT,),
    )
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM queries ORDER BY id DESC LIMIT ?", (HELD_OUT,)
    )]  # fmt: skip
    conn.executemany(
        "UPDATE queries SET dataset_id = (SELECT id FROM datasets WHERE label = 'heldout')"
        " WHERE id = ?",
        [(i,) for i in ids],
    )
    conn.commit()
    conn.close()
    return sorted(ids)


def _labels(db: Path, run_id: str, ids: list[int]) -> list[int]:
    got = dict(db_rows(db, "SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ?",
                       run_id))  # fmt: skip
    return [got[i] for i in ids]


TORCH = EmbedOptions(embed_backend="torch")


def test_held_out_queries_go_where_a_refit_puts_them(cstore: Any, db: Path) -> None:
    from sklearn.metrics import adjusted_rand_score

    held = _hold_out(db)
    params = KMeansParams(n_clusters=K, n_init=10)
    base = run_kmeans(cstore, params, selection=Selection(dataset="sharegpt"), embed_opts=TORCH)
    sizes_before = dict(db_rows(db, "SELECT cluster_id, size FROM clusters WHERE run_id = ?",
                                base.run_id))  # fmt: skip
    result = assign_dataset(
        cstore, base.run_id, AssignOptions(dataset="heldout", embed_backend="torch")
    )
    assert result.assigned == HELD_OUT and result.skipped == 0 and result.noise == 0
    sizes = dict(db_rows(db, "SELECT cluster_id, size FROM clusters WHERE run_id = ?",
                         base.run_id))  # fmt: skip
    assert sum(sizes.values()) == 400
    assert {c: sizes[c] - sizes_before[c] for c in sizes if sizes[c] != sizes_before[c]} == (
        result.by_cluster
    )
    (edit,) = db_rows(db, "SELECT edit_type, new_value FROM cluster_edits")
    assert edit[0] == "assign" and json.loads(edit[1])["assigned"] == HELD_OUT

    refit = run_kmeans(cstore, params, embed_opts=TORCH)  # all 400, held-out included
    diff = compare_runs(db, CompareOptions(run_a=base.run_id, run_b=refit.run_id))
    assert diff["queries"]["common"] == 400
    assigned, refitted = _labels(db, base.run_id, held), _labels(db, refit.run_id, held)
    # where most of each base cluster went in the refit
    members = db_rows(
        db,
        "SELECT a.cluster_id, b.cluster_id, COUNT(*) FROM query_clusters a JOIN query_clusters b"
        " ON a.query_id = b.query_id WHERE a.run_id = ? AND b.run_id = ?"
        " GROUP BY a.cluster_id, b.cluster_id ORDER BY COUNT(*)",
        base.run_id,
        refit.run_id,
    )
    successor = {a: b for a, b, _ in members}  # the largest overlap is written last
    agreement = sum(successor[a] == b for a, b in zip(assigned, refitted, strict=True)) / HELD_OUT
    ari = adjusted_rand_score(assigned, refitted)
    # the same figure for the queries both fits saw: how far the refit itself moved them
    fitted = sorted(set(dict(db_rows(db, "SELECT query_id, 1 FROM query_clusters WHERE run_id = ?",
                                     base.run_id))) - set(held))  # fmt: skip
    seen = zip(_labels(db, base.run_id, fitted), _labels(db, refit.run_id, fitted), strict=True)
    stable = sum(successor[a] == b for a, b in seen) / len(fitted)
    print(
        f"assign vs refit on {HELD_OUT} held-out queries: agreement {agreement:.3f}"
        f" (fitted queries: {stable:.3f}), ARI {ari:.3f}"
    )
    assert agreement >= stable - 0.1  # as consistent as the fit itself

    # a refit that starts where the run is (its centroids, all 400 vectors) and converges:
    # sklearn's own KMeans, the cluster ids are the centroids' order
    from sklearn.cluster import KMeans

    from lmsys_tui.core.embed import load_vectors, resolve_space

    ids, X = load_vectors(cstore, resolve_space())
    centers = np.vstack([np.frombuffer(c, dtype="<f4") for (c,) in db_rows(
        db, "SELECT centroid FROM clusters WHERE run_id = ? ORDER BY cluster_id", base.run_id
    )])  # fmt: skip
    warm = KMeans(n_clusters=K, init=centers, n_init=1).fit(X)
    label_of = dict(zip(ids.tolist(), warm.labels_.tolist(), strict=True))
    local = sum(label_of[q] == a for q, a in zip(held, assigned, strict=True)) / HELD_OUT
    print(f"assign vs a refit from the run's centroids: agreement {local:.3f}")
    assert local >= 0.85

    again = assign_dataset(cstore, base.run_id, AssignOptions(dataset="heldout"))
    assert again.assigned == 0 and again.skipped == HELD_OUT  # nothing twice


def test_hdbscan_runs_take_new_queries_by_a_members_vote(cstore: Any, db: Path) -> None:
    _hold_out(db)
    base = run_hdbscan(cstore, HdbscanParams(min_cluster_size=5),
                       selection=Selection(dataset="sharegpt"), embed_opts=TORCH)  # fmt: skip
    total = db_rows(db, "SELECT SUM(size) FROM clusters WHERE run_id = ?", base.run_id)[0][0]
    result = assign_dataset(cstore, base.run_id, AssignOptions(dataset="heldout"))
    assert result.assigned == HELD_OUT and sum(result.by_cluster.values()) == HELD_OUT
    after = db_rows(db, "SELECT SUM(size) FROM clusters WHERE run_id = ?", base.run_id)[0][0]
    assert after == total + HELD_OUT
    confidence = db_rows(
        db, "SELECT MIN(confidence_score), MAX(confidence_score) FROM query_clusters"
        " WHERE run_id = ? AND query_id IN (SELECT id FROM queries WHERE dataset_id ="
        " (SELECT id FROM datasets WHERE label = 'heldout'))", base.run_id,
    )[0]  # fmt: skip
    assert 0 < confidence[0] <= confidence[1] <= 1


def test_hierarchy_counts_roll_up(fx: Any, store: Any) -> None:
    """The TUI store's three-level hierarchy: every node above a cluster grows with it. Its
    run stores no centroids: cluster 0 gets the origin and the others a far point, so the
    three new queries (embedded for real) all go to cluster 0."""
    import numpy as np
    import tui_store

    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo

    db, run_id = fx.db, tui_store.RUN_ID
    far = (np.ones(384, dtype="<f4") * 10 / np.sqrt(384)).astype("<f4").tobytes()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE clusters SET centroid = ? WHERE run_id = ?", (far, run_id))
    conn.execute("UPDATE clusters SET centroid = ? WHERE run_id = ? AND cluster_id = 0",
                 (np.zeros(384, dtype="<f4").tobytes(), run_id))  # fmt: skip
    conn.commit()
    conn.close()
    texts = ["How do I profile slow Python code?", "Write a haiku about rain.", "What is 7 * 8?"]
    convs = [Conversation(f"new-{i}", t, model="gpt-4", language="en") for i, t in enumerate(texts)]
    run_load(store, iter(convs), SourceInfo("file", "new.jsonl", "new-chats",
                                            detect_language=False), label="new-chats")  # fmt: skip
    before = dict(db_rows(db, "SELECT cluster_id, query_count FROM cluster_hierarchies"))
    with pytest.raises(UsageError, match="choose the dataset"):
        AssignOptions()
    with pytest.raises(NotFoundError):
        assign_dataset(store, "nope", AssignOptions(dataset="new-chats"))
    done = assign_dataset(store, run_id, AssignOptions(dataset="new-chats", embed_backend="torch"))
    assert done.by_cluster == {0: 3} and done.hierarchies == 1
    after = dict(db_rows(db, "SELECT cluster_id, query_count FROM cluster_hierarchies"))
    parent = dict(db_rows(db, "SELECT cluster_id, parent_cluster_id FROM cluster_hierarchies"))
    chain, node = [], 0
    while node is not None:
        chain.append(node)
        node = parent[node]
    assert len(chain) == 3  # cluster, level 1, level 2
    assert {n: after[n] - before[n] for n in after if after[n] != before[n]} == dict.fromkeys(
        chain, 3
    )


def test_assign_command(db: Path, cli_env: dict[str, str], cstore: Any) -> None:
    _hold_out(db)
    base = run_kmeans(cstore, KMeansParams(n_clusters=K, n_init=1),
                      selection=Selection(dataset="sharegpt"), embed_opts=TORCH)  # fmt: skip
    args = ["--headless", "cluster", "assign", base.run_id, "--dataset", "heldout",
            "--backend", "torch", "--db-path", str(db), "--json"]  # fmt: skip
    # into a copy: the run stays as it was and compare says what the new data changed
    copied = run_cli([*args, "--new-run"], cli_env)
    assert copied.returncode == 0, copied.stderr
    new = json.loads(copied.stdout)
    assert new["source_run_id"] == base.run_id and new["assigned"] == HELD_OUT
    held = db_rows(db, "SELECT COUNT(*) FROM query_clusters WHERE run_id = ?", base.run_id)
    assert held == [(400 - HELD_OUT,)]
    diff = compare_runs(db, CompareOptions(run_a=base.run_id, run_b=new["run_id"]))
    assert diff["queries"] == {"common": 400 - HELD_OUT, "only_a": 0, "only_b": HELD_OUT}
    assert diff["ari"] == 1.0 and not any(diff["changes"].values())
    assert {a["cluster_id"]: a["queries"] for a in diff["added"]} == {
        int(k): v for k, v in new["by_cluster"].items()
    }
    # in place
    out = run_cli(args, cli_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["assigned"] == HELD_OUT
    missing = run_cli(["--headless", "cluster", "assign", base.run_id, "--dataset", "nope",
                       "--db-path", str(db)], cli_env)  # fmt: skip
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
