"""Labelled-data figures for the leaves and each hierarchy level (`evaluate run`).

Per level: V-measure (with its homogeneity and completeness), NMI, ARI and purity of the
queries' nodes against their labels, and the number of nodes. At the top: Clio's
reconstruction figure (the share of queries whose top node's majority label is their own) and
the label mix the top level shows next to the true mix. The README says how to read each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lmsys_tui.core.evaluate.labels import Labelled, read_labelled


def _r(x: float) -> float:
    return round(float(x), 4)


def majority(truth: list[str], nodes: list[int]) -> dict[int, str]:
    """Each node's most frequent label (ties: the label first in sorted order)."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for label, node in zip(truth, nodes, strict=True):
        counts[node][label] += 1
    return {n: min(c, key=lambda lab: (-c[lab], lab)) for n, c in counts.items()}


def partition_scores(truth: list[str], nodes: list[int]) -> dict[str, Any]:
    """How well a partition of the queries agrees with their labels."""
    from sklearn.metrics import (
        adjusted_rand_score,
        homogeneity_completeness_v_measure,
        normalized_mutual_info_score,
    )

    h, c, v = homogeneity_completeness_v_measure(truth, nodes)
    major = majority(truth, nodes)
    pure = sum(1 for label, node in zip(truth, nodes, strict=True) if major[node] == label)
    return {
        "nodes": len(major),
        "v_measure": _r(v),
        "homogeneity": _r(h),
        "completeness": _r(c),
        "nmi": _r(normalized_mutual_info_score(truth, nodes)),
        "ari": _r(adjusted_rand_score(truth, nodes)),
        "purity": _r(pure / len(truth)),
    }


def reconstruction(truth: list[str], top: list[int]) -> dict[str, Any]:
    """Clio's check: does the top level give back the labels' mix?

    `accuracy`: share of queries whose top node's majority label is their own. `mix`: per
    label, its true share and the share of queries in top nodes that it is the majority of;
    `mix_distance` is half the summed absolute difference (0 = the same mix, 1 = disjoint).
    `unseen`: labels that are the majority of no top node (invisible at the top)."""
    n = len(truth)
    major = majority(truth, top)
    shown = Counter(major[node] for node in top)
    true = Counter(truth)
    mix = [
        {"label": lab, "true_share": _r(true[lab] / n), "top_share": _r(shown.get(lab, 0) / n)}
        for lab in sorted(true, key=lambda lab: (-true[lab], lab))
    ]
    correct = sum(1 for label, node in zip(truth, top, strict=True) if major[node] == label)
    return {
        "accuracy": _r(correct / n),
        "mix_distance": _r(sum(abs(true[lab] - shown.get(lab, 0)) for lab in true) / (2 * n)),
        "unseen": sorted(lab for lab in true if lab not in shown),
        "mix": mix,
    }


def evaluate(data: Labelled) -> dict[str, Any]:
    """The figures of every level of `data`, leaves first, and the reconstruction at the top."""
    levels = []
    for depth, nodes in enumerate(data.levels):
        scores = partition_scores(data.truth, nodes)
        total = data.level_sizes[depth] if depth < len(data.level_sizes) else scores["nodes"]
        levels.append({"level": depth, "name": "leaves" if depth == 0 else f"level {depth}",
                       "nodes_total": total, **scores})  # fmt: skip
    return {
        "run_id": data.run_id,
        "hierarchy_run_id": data.hierarchy_run_id,
        "hierarchy_model": data.hierarchy_model,
        "shape": data.shape,
        "labelled": len(data.truth),
        "labels": len(set(data.truth)),
        "noise": data.noise,
        "unlabelled": data.unlabelled,
        "levels": levels,
        "top_level": len(data.levels) - 1,
        "reconstruction": reconstruction(data.truth, data.levels[-1]),
    }


def evaluate_run(db: Path, run_id: str, hierarchy: str | None = None) -> dict[str, Any]:
    """`evaluate run`: the run's (and its newest or given hierarchy's) labelled figures."""
    return evaluate(read_labelled(db, run_id, hierarchy))
