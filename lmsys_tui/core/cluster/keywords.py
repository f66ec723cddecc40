"""Top keywords per cluster by class-based TF-IDF (c-TF-IDF, as in BERTopic).

Each cluster is one "class document"; a term scores high when it is frequent in the cluster and
rare across clusters. Memory stays bounded at 1M rows: the texts come from a random sample of at
most `budget` queries spread over the clusters (small clusters keep all their queries), clipped
to `clip` characters by SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import queries, sql

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.store.db import Store

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"  # words of 2+ letters: no numbers, no underscores
DEFAULT_BUDGET = 200_000
DEFAULT_CLIP = 1000


def sample_per_cluster(
    labels: np.ndarray, budget: int, random_state: int = 0, min_per_cluster: int = 50
) -> np.ndarray:
    """Row indices: up to max(min_per_cluster, budget // n_clusters) random rows per cluster."""
    import numpy as np

    n_clusters = max(1, len(np.unique(labels)))
    per = max(min_per_cluster, budget // n_clusters)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(labels))
    by_label = order[np.argsort(labels[order], kind="stable")]  # random within each label
    sorted_labels = labels[by_label]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.arange(len(by_label)) - starts
    return np.sort(by_label[rank < per])


def ctfidf(texts: list[str], labels: np.ndarray, top_n: int = 10) -> dict[int, list[str]]:
    """c-TF-IDF top terms per label: tf within the class times log(1 + A / f_term)."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    if not texts:
        return {}
    vectorizer = CountVectorizer(
        stop_words="english", token_pattern=TOKEN_PATTERN, lowercase=True, dtype=np.float32
    )
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words / no letters anywhere
        return {int(label): [] for label in np.unique(labels)}
    classes, inverse = np.unique(labels, return_inverse=True)
    indicator = sparse.csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (inverse, np.arange(len(labels)))),
        shape=(len(classes), len(labels)),
    )
    per_class = (indicator @ counts).tocsr()  # classes x terms
    words = np.asarray(per_class.sum(axis=1)).ravel()
    term_freq = np.asarray(per_class.sum(axis=0)).ravel()
    avg_words = max(float(words.mean()), 1.0)
    idf = np.log1p(avg_words / np.maximum(term_freq, 1.0)).astype(np.float32)
    tf = sparse.diags(1.0 / np.maximum(words, 1.0)).astype(np.float32) @ per_class
    scores = (tf @ sparse.diags(idf)).tocsr()
    names = vectorizer.get_feature_names_out()
    out: dict[int, list[str]] = {}
    for row, label in enumerate(classes.tolist()):
        lo, hi = scores.indptr[row], scores.indptr[row + 1]
        cols, vals = scores.indices[lo:hi], scores.data[lo:hi]
        best = cols[np.lexsort((cols, -vals))][:top_n]  # score desc, then term order
        out[int(label)] = [str(names[c]) for c in best]
    return out


def cluster_keywords(
    store: Store,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    top_n: int = 10,
    budget: int = DEFAULT_BUDGET,
    clip: int = DEFAULT_CLIP,
    random_state: int = 0,
) -> tuple[dict[int, list[str]], dict[str, Any]]:
    """Keywords for every label of a run, and how they were computed (for the run's metrics)."""
    import numpy as np

    rows = sample_per_cluster(labels, budget, random_state)
    with sql.connection(store) as conn:
        texts_by_id = {
            qid: text
            for qid, (text, _) in queries.clipped_texts(conn, ids[rows].tolist(), clip).items()
        }
    keep = np.array([int(i) in texts_by_id for i in ids[rows].tolist()], dtype=bool)
    rows = rows[keep]
    texts = [texts_by_id[int(i)] for i in ids[rows].tolist()]
    keywords = ctfidf(texts, labels[rows], top_n=top_n)
    for label in np.unique(labels).tolist():
        keywords.setdefault(int(label), [])
    return keywords, {"method": "c-tf-idf", "texts": len(texts), "clip_chars": clip}
