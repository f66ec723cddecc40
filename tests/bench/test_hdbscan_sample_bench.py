"""`cluster hdbscan --fit-sample`: quality against time on real vectors (issue 15 item 5).

Run: pytest tests/bench/test_hdbscan_sample_bench.py -s

Data: distinct real ShareGPT human turns (every turn a person wrote in the packaged set, not
only first turns, so there are >= 20k of them), clipped to their first 200 characters and
embedded with the bundled MiniLM through `--backend onnx-int8-128` (the fastest variant: what
is measured is how a sampled fit agrees with a full fit on the same vectors, which does not
need fp32 vectors; embedding 20k texts takes ~10 min on a quiet 2-core machine, 30 min busy).
`LMSYS_BENCH_HDBSCAN_ROWS` sets the count (20000), `LMSYS_BENCH_HDBSCAN_VECTORS=x.npy` reuses
vectors saved by an earlier run (the run saves them beside its temp home and prints where).

Quality is agreement with the full fit (V-measure on labelled corpora cannot see it: they are
too small to need a sample): ARI between the labels of `hdbscan_result` with the default
options fitted on all rows and fitted on a sample (noise is a label of its own, so a sampled
fit that calls other rows noise is charged), on every row and on the rows both call clustered;
beside it the noise share and the seconds of the whole step (reduce, fit, predict, assign).
Two seeds per size: the sample changes with the seed, and so does the agreement. The floor
is HDBSCAN's own stability: fits on all of a random 90% of the rows, against the full fit on
those rows. Measured (README): every sample size sits at that floor, and over 5 dims a
sampled fit saves no whole-step time at these sizes (prediction costs what the smaller fit
saves), so the default (100,000) fits every row up to there and only bounds larger fits.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

ROWS = int(os.environ.get("LMSYS_BENCH_HDBSCAN_ROWS", "20000"))
SAMPLES = (2_500, 5_000, 10_000, 15_000)
SEEDS = (42, 7)
CLIP = 200


def real_turns(count: int) -> list[str]:
    """`count` distinct ShareGPT human turns (normalised, clipped), drawn with a fixed seed."""
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.sources.jsonstream import iter_json_array
    from lmsys_tui.core.text import normalise

    seen: set[str] = set()
    texts: list[str] = []
    with open(sharegpt.packaged_path(), encoding="utf-8", errors="surrogateescape") as fh:
        for _, record in iter_json_array(fh):
            turns = record.get("conversations") if isinstance(record, dict) else None
            for turn in turns or []:
                if isinstance(turn, dict) and turn.get("from") in ("human", "user"):
                    value = turn.get("value")
                    text = normalise(value)[:CLIP] if isinstance(value, str) else ""
                    if len(text) >= 10 and text not in seen:
                        seen.add(text)
                        texts.append(text)
    assert len(texts) >= count, f"only {len(texts):,} distinct human turns"
    pick = np.random.default_rng(0).choice(len(texts), size=count, replace=False)
    return [texts[i] for i in sorted(pick.tolist())]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    saved = os.environ.get("LMSYS_BENCH_HDBSCAN_VECTORS")
    if saved:
        return np.load(saved).astype(np.float32)
    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.embed.encoders import embed_texts

    folder = tmp_path_factory.mktemp("hdbscan-sample")
    started = time.perf_counter()
    X = embed_texts(
        resolve_space(), real_turns(ROWS), backend="onnx-int8-128", cache_dir=folder / "cache"
    )
    np.save(folder / "vectors.npy", X)
    print(f"\nembedded {len(X):,} turns in {time.perf_counter() - started:.0f}s;"
          f" saved to {folder / 'vectors.npy'}")  # fmt: skip
    return X


def _fit(X: np.ndarray, fit_sample: int, seed: int) -> tuple[np.ndarray, dict, float]:
    """Labels, run metrics and seconds of the whole step with the default options."""
    from lmsys_tui.core.cluster.density import HdbscanParams, hdbscan_result

    started = time.perf_counter()
    params = HdbscanParams(fit_sample=fit_sample, random_state=seed)
    result = hdbscan_result(np.arange(len(X)), X, params)
    return result.labels, result.metrics, time.perf_counter() - started


def test_fit_sample_quality_against_time(vectors: np.ndarray) -> None:
    from sklearn.metrics import adjusted_rand_score

    X = vectors
    n = len(X)
    assert n >= 20_000 or "LMSYS_BENCH_HDBSCAN_ROWS" in os.environ
    load = os.getloadavg()[0]
    full, fm, full_s = _fit(X, n, 42)
    print(f"\nHDBSCAN defaults on {n:,} real vectors (load average {load:.1f}); full fit:"
          f" {full_s:.1f}s, {fm['n_clusters']} clusters, noise {fm['noise_fraction']:.1%}"
          f" ({fm.get('noise_fraction_before_assign', 0):.1%} before assignment)")  # fmt: skip
    for seed in (1, 2):
        keep = np.sort(np.random.default_rng(seed).choice(n, size=int(n * 0.9), replace=False))
        labels, m, seconds = _fit(X[keep], n, 42)
        ari = adjusted_rand_score(full[keep], labels)
        print(f"floor: all of a random 90% (draw {seed}): {seconds:.1f}s, {m['n_clusters']}"
              f" clusters, ARI with the full fit {ari:.3f}")  # fmt: skip
    print("| --fit-sample | seed | seconds (x full) | fit s | clusters | noise | ARI vs full,"
          " all rows / rows both cluster |")  # fmt: skip
    fit_seconds: dict[int, float] = {}
    for size in (s for s in SAMPLES if s < n):
        for seed in SEEDS:
            labels, m, seconds = _fit(X, size, seed)
            both = (labels >= 0) & (full >= 0)
            ari = adjusted_rand_score(full, labels)
            assert m["fit_rows"] == size
            fit_seconds[size] = min(fit_seconds.get(size, np.inf), m["fit_seconds"])
            print(f"| {size:,} | {seed} | {seconds:.1f} ({seconds / full_s:.2f}x) |"
                  f" {m['fit_seconds']:.1f} | {m['n_clusters']} | {m['noise_fraction']:.1%} |"
                  f" {ari:.3f} /"
                  f" {adjusted_rand_score(full[both], labels[both]):.3f} |")  # fmt: skip
    # what a sample buys: the fit alone grows with its rows (best of the seeds)
    sizes = sorted(fit_seconds)
    assert fit_seconds[sizes[-1]] > 2 * fit_seconds[sizes[0]], fit_seconds
