"""Phrase labels for clusters with no model: what an analyst would call the topic.

Three unigrams ("React, Kublr and Message") make the reader decode a title. As BERTopic's
KeyBERT-inspired + MMR representations do, candidates are 1-3-word phrases scored by c-TF-IDF
(each cluster's queries form one class document; a phrase counts once per query, so one pasted
document cannot fill a cluster's vocabulary), the best ~30 per cluster (10 per length) are
embedded in the run's own space (one batch for all clusters) and re-ranked by cosine to the
cluster's centroid, and maximal marginal relevance keeps the list diverse. The title is the top
phrase, shown in the casing its queries use most ("SEO blog posts", "React component").
Without an encoder (e.g. an OpenAI space and no key) the c-TF-IDF order stands, longer phrases
first among near ties. Deterministic: same inputs, same phrases.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from lmsys_tui.core.store.db import Store

_WORD = re.compile(r"(?u)\b[^\W\d_]{2,30}\b")
_CLAUSE = re.compile(r"[.,;:!?()\[\]{}<>\"|\n\r\t]+|\s[-–—]\s")
# chat boilerplate and request verbs that every cluster shares: they never name a topic
# ("Write marketing strategy" is about marketing strategy, "following error" about an error)
_FILLER = frozenset(
    [
        "please",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "ok",
        "okay",
        "like",
        "want",
        "need",
        "just",
        "know",
        "let",
        "lets",
        "sure",
        "yes",
        "im",
        "dont",
        "ll",
        "ve",
        "re",
        "don",
        "doesn",
        "isn",
        "didn",
        "wasn",
        "aren",
        "won",
        "also",
        "really",
        "did",
        "does",
        "write",
        "create",
        "explain",
        "make",
        "generate",
        "give",
        "provide",
        "following",
        "using",
        "use",
        "used",
        "based",
        "given",
        "available",
        "simple",
        "new",
        "example",
        "examples",
        "help",
        "tell",
        "act",
        "want",
        "wanted",
        "way",
        "ways",
        "thing",
        "things",
        "good",
        "best",
        "different",
        "specific",
        "able",
        "sorry",
        "try",
        "trying",
        "looking",
        "going",
        "gonna",
    ]
)
_JOINERS = frozenset({"of", "to", "and", "for", "in", "with"})  # "point of view", "text to speech"
PER_LENGTH = 10  # candidates kept per phrase length (1, 2, 3 words) before re-ranking
MMR_LAMBDA = 0.7  # relevance vs diversity when ordering the phrases
TOP_N = 10


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _FILLER


def phrases_of(text: str, stop: frozenset[str], clip: int = 500) -> set[str]:
    """The distinct 1-3-word phrases of one query: n-grams inside a clause (never across
    punctuation), starting and ending on a content word; a 3-gram's middle word is a content
    word or a joiner ("point of view"), never "has" or "on" ("Blair has said")."""
    out: set[str] = set()
    for clause in _CLAUSE.split(text[:clip].lower()):
        words = _WORD.findall(clause)
        for i, first in enumerate(words):
            if first in stop:
                continue
            out.add(first)
            for n in (2, 3):
                gram = words[i : i + n]
                if len(gram) < n or gram[-1] in stop:
                    continue
                if n == 2 or gram[1] not in stop or gram[1] in _JOINERS:
                    out.add(" ".join(gram))
    return out


def candidates(
    texts_by_cluster: dict[int, list[str]], per_length: int = PER_LENGTH
) -> dict[int, list[tuple[str, float, int]]]:
    """Per cluster, (phrase, c-TF-IDF score, queries holding it): the top `per_length` of each
    length among phrases found in at least two of the cluster's queries (one query is an
    anecdote, not a topic), best first."""
    stop = stop_words()
    per_cluster = {cid: Counter() for cid in texts_by_cluster}
    total: Counter[str] = Counter()
    for cid, texts in texts_by_cluster.items():
        for text in texts:
            per_cluster[cid].update(phrases_of(text, stop))
        total.update(per_cluster[cid])
    sizes = {cid: sum(c.values()) for cid, c in per_cluster.items()}
    avg = max(sum(sizes.values()) / max(len(sizes), 1), 1.0)
    out: dict[int, list[tuple[str, float, int]]] = {}
    for cid, counts in per_cluster.items():
        scored = [
            (p, n / max(sizes[cid], 1) * math.log1p(avg / total[p]), n)
            for p, n in counts.items()
            if n >= 2
        ]
        best: list[tuple[str, float, int]] = []
        for length in (1, 2, 3):
            same = [s for s in scored if s[0].count(" ") == length - 1]
            best += sorted(same, key=lambda s: (-s[1], s[0]))[:per_length]
        out[cid] = sorted(best, key=lambda s: (-s[1], s[0]))
    return out


def mmr(relevance: np.ndarray, vectors: np.ndarray, top_n: int, lam: float = MMR_LAMBDA) -> list:
    """Indices in maximal-marginal-relevance order: relevant, and unlike those already taken."""
    import numpy as np

    if not len(relevance):
        return []
    sims = vectors @ vectors.T
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(top_n, len(relevance)):
        penalty = sims[:, chosen].max(axis=1)
        score = lam * relevance - (1 - lam) * penalty
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def rank(
    found: dict[int, list[tuple[str, float, int]]],
    centroids: dict[int, np.ndarray],
    encode: Callable[[list[str]], np.ndarray | None] | None,
    top_n: int = TOP_N,
) -> dict[int, list[str]]:
    """Each cluster's phrases, best first: by cosine to its centroid then MMR when `encode`
    (texts -> unit rows in the run's space) and a centroid exist, else by c-TF-IDF."""
    import numpy as np

    vocab = sorted({p for cands in found.values() for p, _, _ in cands})
    vectors = encode(vocab) if encode is not None and vocab and centroids else None
    index = {p: i for i, p in enumerate(vocab)}
    out: dict[int, list[str]] = {}
    for cid, cands in found.items():
        phrases = [p for p, _, _ in cands]
        centre = centroids.get(cid)
        if vectors is None or centre is None or not phrases:
            # no space to judge meaning in: longer phrases win near ties (within 20%)
            out[cid] = [p for p, _, _ in sorted(cands, key=_tfidf_order)][:top_n]
            continue
        rows = vectors[[index[p] for p in phrases]]
        unit = centre / max(float(np.linalg.norm(centre)), 1e-12)
        out[cid] = [phrases[i] for i in mmr(rows @ unit, rows, top_n)]
    return out


def _tfidf_order(cand: tuple[str, float, int]) -> tuple[float, str]:
    phrase, score, _ = cand
    return (-score * (1.2 ** phrase.count(" ")), phrase)


def surface(phrase: str, texts: list[str]) -> str:
    """The phrase as its queries spell it most often ("SEO", "JavaScript"), first letter up."""
    pattern = re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, phrase.split())) + r"(?!\w)",
                         re.IGNORECASE)  # fmt: skip
    forms = Counter(" ".join(m.group().split()) for t in texts for m in pattern.finditer(t[:500]))
    cased = phrase
    if forms:
        ranked = sorted(forms.items(), key=lambda f: (-f[1], f[0]))
        cased = ranked[0][0]
        # a name's casing wins when a quarter of the mentions use it ("API", "JavaScript")
        named = [f for f, n in ranked if f[1:] != f[1:].lower() and n * 4 >= sum(forms.values())]
        if named and (len(named[0]) <= 5 or not named[0].isupper()):
            cased = named[0]
        if cased.isupper() and len(cased) > 5:  # "PLAY SOCCER" is shouting, "SEO" a name
            cased = cased.lower()
    return cased[:1].upper() + cased[1:]


def title_from(phrases: list[str], texts: list[str]) -> str:
    """The top phrase; a single word gets the best phrase that contains it ("python" ->
    "Python script") when one is among the top five, else stays a one-word topic."""
    if not phrases:
        return ""
    top = phrases[0]
    if " " not in top:
        longer = [p for p in phrases[1:5] if top in p.split()]
        top = longer[0] if longer else top
    return surface(top, texts)


def run_encoder(run: dict[str, Any]) -> Callable[[list[str]], np.ndarray | None] | None:
    """Phrases -> unit rows in the run's embedding space, or None when the run records no space
    or its encoder cannot be had (the c-TF-IDF order then stands)."""
    from lmsys_tui.core.embed.space import run_space
    from lmsys_tui.errors import LmsysError

    space = run_space(run)
    if space is None:
        return None

    def encode(texts: list[str]) -> np.ndarray | None:
        from lmsys_tui.core.embed import embed_few

        try:
            return embed_few(space, texts)
        except (LmsysError, OSError, ValueError):
            return None

    return encode


def cluster_phrases(
    store: Store, run_id: str, texts_by_cluster: dict[int, list[str]], top_n: int = TOP_N
) -> dict[int, list[str]]:
    """Each cluster's phrases, best first, judged in the run's space against its centroid."""
    import numpy as np

    from lmsys_tui.core.cluster.runs import load_clusters, load_run

    centroids = {
        c.cluster_id: np.frombuffer(c.centroid, dtype=np.float32)
        for c in load_clusters(store, run_id)
        if c.centroid and c.cluster_id in texts_by_cluster
    }
    encode = run_encoder(load_run(store, run_id))
    found = candidates(texts_by_cluster)
    return rank(found, centroids, encode, top_n)
