"""Run diff: how two clustering runs over the same queries differ.

Clusters are matched by member overlap, over the queries both runs hold: a one-to-one matching
that maximises the overlap (Hungarian, on the contingency table), then events read from the
table itself, where "most of" is `threshold` (default a half):

- merged: most of each of two or more clusters of A went into one cluster of B;
- split: most of each of two or more clusters of B came from one cluster of A;
- kept: a matched pair whose Jaccard overlap reaches `threshold` (renamed: titled differently);
- vanished / new: a cluster of A / B in no kept pair and no event;
- added / removed: per cluster, the queries only B / only A holds (new data, e.g. from
  `cluster assign --new-run`).

Agreement overall is ARI and NMI (sklearn), per hierarchy level too when both runs have one
(each query labelled by its node at that level); `moved_share` is the share of the common
queries that did not land in the B cluster most of their A cluster went to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.read.runs import get_run, list_hierarchies, newest_hierarchy, summary_pass
from lmsys_tui.core.read.tree import cluster_titles
from lmsys_tui.core.store.sql import reader, rows, tuples
from lmsys_tui.errors import UsageError

NO_NODE = -1  # a query whose cluster has no node at a level (noise, unplaced)


@dataclass
class CompareOptions(Options):
    run_a: str = option("", positional=True, missing="choose the first clustering run")
    run_b: str = option("", positional=True, missing="choose the second clustering run")
    threshold: float = option(0.5, above=0, below=1)


def _members(conn: Any, run_id: str) -> dict[int, int]:
    return dict(
        tuples(conn, "SELECT query_id, cluster_id FROM query_clusters WHERE run_id = ?", (run_id,))
    )


def _titles(conn: Any, run_id: str) -> dict[int, str]:
    found = summary_pass(conn, run_id)
    return cluster_titles(conn, run_id, found["summary_run_id"] if found else None)


def _ancestors(conn: Any, run_id: str) -> dict[int, dict[int, int]] | None:
    """level -> (cluster -> its node at that level), from the run's newest finished
    hierarchy; None without one."""
    hier = newest_hierarchy(list_hierarchies(conn, run_id))
    if hier is None:
        return None
    nodes = {
        int(r["cluster_id"]): (int(r["level"]), r["parent_cluster_id"])
        for r in rows(
            conn,
            "SELECT cluster_id, level, parent_cluster_id FROM cluster_hierarchies"
            " WHERE hierarchy_run_id = ?",
            (hier["hierarchy_run_id"],),
        )
    }
    out: dict[int, dict[int, int]] = {}
    for cid, (level, parent) in nodes.items():
        if level != 0:
            continue
        current: int | None = parent
        while current is not None and current in nodes:
            out.setdefault(nodes[current][0], {})[cid] = current
            current = nodes[current][1]
    return out


def _agreement(a: Any, b: Any) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "ari": round(float(adjusted_rand_score(a, b)), 6),
        "nmi": round(float(normalized_mutual_info_score(a, b)), 6),
    }


def compare_runs(db: Path, opts: CompareOptions) -> dict[str, Any]:
    """The diff of `opts.run_a` (before) and `opts.run_b` (after); see the module docstring."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    with reader(db) as conn:
        for run_id in (opts.run_a, opts.run_b):
            get_run(conn, run_id)
        mem_a, mem_b = _members(conn, opts.run_a), _members(conn, opts.run_b)
        titles_a, titles_b = _titles(conn, opts.run_a), _titles(conn, opts.run_b)
        hier_a, hier_b = _ancestors(conn, opts.run_a), _ancestors(conn, opts.run_b)
    common = sorted(mem_a.keys() & mem_b.keys())
    if not common:
        raise UsageError(f"runs {opts.run_a!r} and {opts.run_b!r} share no queries")
    ids_a = sorted({mem_a[q] for q in common})
    ids_b = sorted({mem_b[q] for q in common})
    at_a = {c: i for i, c in enumerate(ids_a)}
    at_b = {c: i for i, c in enumerate(ids_b)}
    lab_a = np.array([at_a[mem_a[q]] for q in common])
    lab_b = np.array([at_b[mem_b[q]] for q in common])
    table = np.zeros((len(ids_a), len(ids_b)), dtype=np.int64)
    np.add.at(table, (lab_a, lab_b), 1)
    size_a, size_b = table.sum(axis=1), table.sum(axis=0)
    theta = opts.threshold

    merged = []
    for j, b in enumerate(ids_b):  # most of each source went into b
        sources = [i for i in np.nonzero(table[:, j])[0] if table[i, j] / size_a[i] > theta]
        if len(sources) >= 2:
            merged.append({"into": b, "title": titles_b.get(b, ""),
                           "from": [{"cluster_id": ids_a[i], "title": titles_a.get(ids_a[i], ""),
                                     "overlap": int(table[i, j])} for i in sources]})  # fmt: skip
    split = []
    for i, a in enumerate(ids_a):  # most of each target came from a
        targets = [j for j in np.nonzero(table[i, :])[0] if table[i, j] / size_b[j] > theta]
        if len(targets) >= 2:
            split.append({"from": a, "title": titles_a.get(a, ""),
                          "into": [{"cluster_id": ids_b[j], "title": titles_b.get(ids_b[j], ""),
                                    "overlap": int(table[i, j])} for j in targets]})  # fmt: skip
    in_event_a = {s["cluster_id"] for m in merged for s in m["from"]} | {s["from"] for s in split}
    in_event_b = {m["into"] for m in merged} | {t["cluster_id"] for s in split for t in s["into"]}

    rows_i, cols_j = linear_sum_assignment(-table)
    kept, matched_a, matched_b = [], set(), set()
    for i, j in zip(rows_i, cols_j, strict=True):
        n = int(table[i, j])
        jaccard = n / (size_a[i] + size_b[j] - n) if n else 0.0
        a, b = ids_a[i], ids_b[j]
        if jaccard < theta or a in in_event_a or b in in_event_b:
            continue
        matched_a.add(a)
        matched_b.add(b)
        kept.append({"a": a, "b": b, "overlap": n, "jaccard": round(float(jaccard), 6),
                     "size_a": int(size_a[i]), "size_b": int(size_b[j]),
                     "title_a": titles_a.get(a, ""), "title_b": titles_b.get(b, "")})  # fmt: skip
    kept.sort(key=lambda k: (-k["overlap"], k["a"]))
    renamed = [k for k in kept if k["title_a"] != k["title_b"]]
    vanished = [{"cluster_id": a, "size": int(size_a[at_a[a]]), "title": titles_a.get(a, "")}
                for a in ids_a if a not in matched_a and a not in in_event_a]  # fmt: skip
    new = [{"cluster_id": b, "size": int(size_b[at_b[b]]), "title": titles_b.get(b, "")}
           for b in ids_b if b not in matched_b and b not in in_event_b]  # fmt: skip

    levels = [{"level": 0, "nodes_a": len(ids_a), "nodes_b": len(ids_b),
               **_agreement(lab_a, lab_b)}]  # fmt: skip
    if hier_a is not None and hier_b is not None:
        for level in sorted(hier_a.keys() & hier_b.keys()):
            la = np.array([hier_a[level].get(mem_a[q], NO_NODE) for q in common])
            lb = np.array([hier_b[level].get(mem_b[q], NO_NODE) for q in common])
            levels.append({"level": level, "nodes_a": len(set(la.tolist())),
                           "nodes_b": len(set(lb.tolist())), **_agreement(la, lb)})  # fmt: skip
    stayed = int(table.max(axis=1).sum())
    added = _only(mem_b, mem_a, titles_b)
    removed = _only(mem_a, mem_b, titles_a)
    events = {"merged": merged, "split": split, "new": new, "vanished": vanished}
    changes = {k: len(v) for k, v in {**events, "renamed": renamed}.items()}
    return {
        "run_a": opts.run_a,
        "run_b": opts.run_b,
        "threshold": theta,
        "queries": {
            "common": len(common),
            "only_a": len(mem_a) - len(common),
            "only_b": len(mem_b) - len(common),
        },
        "clusters_a": len(ids_a),
        "clusters_b": len(ids_b),
        "ari": levels[0]["ari"],
        "nmi": levels[0]["nmi"],
        "moved_share": round(1 - stayed / len(common), 6),
        "levels": levels,
        "changes": changes,
        "merged": merged,
        "split": split,
        "new": new,
        "vanished": vanished,
        "renamed": renamed,
        "kept": kept,
        "added": added,
        "removed": removed,
    }


def _only(
    mine: dict[int, int], other: dict[int, int], titles: dict[int, str]
) -> list[dict[str, Any]]:
    """Per cluster, the queries this run holds and the other does not (new data assigned to
    it, say), largest first."""
    counts: dict[int, int] = {}
    for query, cluster in mine.items():
        if query not in other:
            counts[cluster] = counts.get(cluster, 0) + 1
    return [{"cluster_id": c, "title": titles.get(c, ""), "queries": n}
            for c, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]  # fmt: skip
