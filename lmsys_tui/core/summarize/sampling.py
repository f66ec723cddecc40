"""What is sent about each cluster: a sample of its queries and examples from its neighbours.

The sample is half the cluster's most central members (by distance to the centroid) and half a
seeded, distance-stratified draw of the rest (so the rim is seen too), interleaved and cut by a
token budget. Contrastive examples come from the clusters *nearest* by centroid, not random ones:
they are what the title must tell this cluster apart from.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import queries, sql
from lmsys_tui.errors import Cancelled
from lmsys_tui.stage import CancelCheck, never_cancelled

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.cluster.runs import ClusterRow
    from lmsys_tui.core.store.db import Store
    from lmsys_tui.core.summarize.options import SummarizeOptions

CHARS_PER_TOKEN = 4  # rough estimate for budgeting; the ledger records the real counts


@dataclass
class Job:
    """Everything needed to summarise one cluster."""

    cluster_id: int
    size: int
    sample: list[str]
    contrast: list[tuple[int, float, list[str]]]  # (cluster id, cosine similarity, examples)
    keywords: list[str]

    def representative(self) -> list[str]:
        return [t[:300] for t in self.sample[:10]]


def centroid_matrix(clusters: list[ClusterRow]) -> tuple[list[int], np.ndarray | None]:
    """Unit-length centroids of the clusters that have one (ids in the same order)."""
    import numpy as np

    ids, vecs = [], []
    for c in clusters:
        if c.centroid:
            ids.append(c.cluster_id)
            vecs.append(np.frombuffer(c.centroid, dtype=np.float32))
    if not vecs or len({v.shape for v in vecs}) != 1:
        return [], None
    mat = np.vstack(vecs).astype(np.float32)
    mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    return ids, mat


def nearest_neighbours(clusters: list[ClusterRow], k: int) -> dict[int, list[tuple[int, float]]]:
    """For each cluster, the k *most similar* other clusters by centroid cosine (noise left out)."""
    import numpy as np

    real = [c for c in clusters if c.cluster_id >= 0]
    ids, mat = centroid_matrix(real)
    if mat is None or k <= 0 or len(ids) < 2:
        return {}
    sims = mat @ mat.T
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(ids) - 1)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    out: dict[int, list[tuple[int, float]]] = {}
    for row, cid in enumerate(ids):
        cols = sorted(top[row], key=lambda j: (-sims[row, j], ids[j]))
        out[cid] = [(ids[j], round(float(sims[row, j]), 4)) for j in cols]
    return out


def member_ranking(conn: Any, run_id: str, cluster_id: int) -> list[int]:
    """Query ids of a cluster, most central first (distance, else confidence, then id)."""
    found = sql.tuples(
        conn,
        "SELECT query_id, distance, confidence_score FROM query_clusters"
        " WHERE run_id = ? AND cluster_id = ?",
        (run_id, cluster_id),
    )

    def key(r: tuple[Any, ...]) -> tuple[float, float, int]:
        dist = r[1] if r[1] is not None else math.inf
        conf = -(r[2] if r[2] is not None else 0.0)
        return (dist, conf, r[0])

    return [r[0] for r in sorted(found, key=key)]


def sample_ids(ranked: list[int], max_queries: int, seed: str) -> list[int]:
    """Half the most central, half a seeded distance-stratified draw of the rest, interleaved."""
    n_central = math.ceil(max_queries / 2)
    central, rest = ranked[:n_central], ranked[n_central:]
    k = max_queries - len(central)
    if len(rest) <= k:
        diverse = rest
    else:
        rng = random.Random(seed)
        bounds = [round(i * len(rest) / k) for i in range(k + 1)]
        diverse = [rest[rng.randrange(bounds[i], bounds[i + 1])] for i in range(k)]
    out: list[int] = []
    for i in range(max(len(central), len(diverse))):
        if i < len(central):
            out.append(central[i])
        if i < len(diverse):
            out.append(diverse[i])
    return out


def members_seed(seed: int, members: list[int]) -> str:
    """The draw's seed: the pass's seed and the cluster's members, not the run's name, so two
    runs that group the same queries alike (a re-run with the same seed, a run finished after
    a kill) summarise each cluster from the same sample."""
    digest = hashlib.blake2b(",".join(map(str, sorted(members))).encode(), digest_size=8)
    return f"{seed}:{digest.hexdigest()}"


def budgeted(ids: list[int], texts: dict[int, tuple[str, str]], budget_tokens: int) -> list[str]:
    """Texts in sample order, duplicates dropped, until the token budget is spent."""
    out, seen, used = [], set(), 0
    for qid in ids:
        if qid not in texts:
            continue
        text, digest = texts[qid]
        if digest in seen or not text.strip():
            continue
        cost = max(1, len(text) // CHARS_PER_TOKEN)
        if out and used + cost > budget_tokens:
            break
        seen.add(digest)
        out.append(text)
        used += cost
    return out


def build_jobs(
    store: Store,
    run_id: str,
    clusters: list[ClusterRow],
    todo: list[int],
    opts: SummarizeOptions,
    cancelled: CancelCheck = never_cancelled,
) -> list[Job]:
    """One job per cluster in `todo`; nothing is asked of a model here."""
    by_id = {c.cluster_id: c for c in clusters}
    neighbours = nearest_neighbours(clusters, opts.contrast_neighbors)
    needed = set(todo) | {n for cid in todo for n, _ in neighbours.get(cid, [])}
    jobs = []
    with sql.connection(store) as conn:
        ranking = {cid: member_ranking(conn, run_id, cid) for cid in sorted(needed)}
        for cid in todo:
            if cancelled():
                raise Cancelled("summarize cancelled while sampling; nothing was asked yet")
            ids = sample_ids(ranking[cid], opts.max_queries, members_seed(opts.seed, ranking[cid]))
            texts = queries.clipped_texts(conn, ids, opts.max_query_chars)
            sample = budgeted(ids, texts, opts.token_budget)
            contrast = []
            for nid, sim in neighbours.get(cid, []):
                nids = ranking[nid][: opts.contrast_examples * 3]
                ntexts = queries.clipped_texts(conn, nids, min(opts.max_query_chars, 400))
                examples = budgeted(nids, ntexts, opts.token_budget // 4)[: opts.contrast_examples]
                if examples:
                    contrast.append((nid, sim, examples))
            jobs.append(Job(cid, by_id[cid].size, sample, contrast, by_id[cid].keywords))
    return jobs
