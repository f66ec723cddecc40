"""The offline summariser: titles and descriptions with no model and no network.

It is the default when no API key is set, so load → cluster → summarize → merge runs anywhere.
Keywords are the cluster's c-TF-IDF terms (stored by the clustering run, else computed here
over each cluster's sampled queries: a term scores high when frequent in the cluster and rare
across clusters); the description quotes the most central query. Coherence is estimated from
how many of the sampled queries contain one of the top keywords, and incoherent clusters get
a "Mixed:" title, as the LLM prompt asks. Deterministic: same inputs, same text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,30}\b"  # 2-30 letters: unspaced CJK runs are not "words"
_TOKEN = re.compile(TOKEN_PATTERN)
OFFLINE_MODEL = "offline/ctfidf"


@dataclass(frozen=True)
class OfflineSummary:
    title: str
    description: str
    coherence: int
    keywords: list[str]


def ctfidf_keywords(
    texts_by_cluster: dict[int, list[str]], top_n: int = 10, clip: int = 500
) -> dict[int, list[str]]:
    """Top c-TF-IDF terms per cluster (each cluster's texts form one class document).

    A term is counted once per query (and each query cut to `clip` characters), so one long
    pasted document cannot fill a cluster's keywords with its own vocabulary; terms that occur
    in at least two of the cluster's queries rank before those that occur in one.
    """
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    ids = list(texts_by_cluster)
    texts = [t[:clip] for i in ids for t in texts_by_cluster[i]]
    owner = np.repeat(np.arange(len(ids)), [len(texts_by_cluster[i]) for i in ids])
    if not texts:
        return {i: [] for i in ids}
    vectorizer = CountVectorizer(
        token_pattern=TOKEN_PATTERN, stop_words="english", lowercase=True, binary=True
    )
    try:
        per_text = vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary: nothing but stop words or non-words
        return {i: [] for i in ids}
    groups = sp.csr_matrix(
        (np.ones(len(texts)), (owner, np.arange(len(texts)))), shape=(len(ids), len(texts))
    )
    counts = (groups @ per_text).tocsr().astype(np.float64)
    terms = vectorizer.get_feature_names_out()
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    col_sums = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = row_sums.mean() if len(row_sums) else 0.0
    idf = np.log1p(avg_words / np.maximum(col_sums, 1.0))
    out: dict[int, list[str]] = {}
    for row, cid in enumerate(ids):
        start, end = counts.indptr[row], counts.indptr[row + 1]
        if start == end:
            out[cid] = []
            continue
        cols = counts.indices[start:end]
        raw = counts.data[start:end]
        scores = raw / max(row_sums[row], 1.0) * idf[cols]
        # deterministic: shared terms first, then score, then vocabulary order
        order = np.lexsort((cols, -scores, raw < 2))[:top_n]
        out[cid] = [str(terms[cols[j]]) for j in order]
    return out


def coherence_from_coverage(texts: list[str], keywords: list[str]) -> int:
    """1-5 from the share of queries containing one of the top three keywords."""
    if not texts or not keywords:
        return 1
    top = set(keywords[:3])
    hits = sum(1 for t in texts if top & set(_TOKEN.findall(t.lower())))
    share = hits / len(texts)
    for score, floor in ((5, 0.6), (4, 0.4), (3, 0.25), (2, 0.12)):
        if share >= floor:
            return score
    return 1


def _snippet(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def keyword_title(keywords: list[str], n: int = 3) -> str:
    words = keywords[:n]
    if not words:
        return ""
    if len(words) == 1:
        return words[0].capitalize()
    return ", ".join(w.capitalize() for w in words[:-1]) + " and " + words[-1].capitalize()


_OPENERS = frozenset(
    [
        "write",
        "create",
        "explain",
        "translate",
        "generate",
        "give",
        "how",
        "what",
        "why",
        "which",
        "who",
        "can",
        "could",
        "fix",
        "summarize",
        "summarise",
        "rewrite",
        "make",
        "list",
        "tell",
        "describe",
        "act",
        "convert",
        "help",
        "find",
        "suggest",
        "compare",
        "design",
        "build",
        "implement",
        "improve",
        "correct",
        "continue",
        "answer",
        "pretend",
        "imagine",
    ]
)


def _quoted(text: str, limit: int = 90) -> str:
    """One query made safe to quote: one line, control characters escaped, clipped."""
    from lmsys_tui.core.text import safe_text

    flat = " ".join(text.split()).replace("“", '"').replace("”", '"')
    return safe_text(flat, limit, one_line=True)


def openings(texts: list[str], floor: float = 0.15) -> list[tuple[str, float]]:
    """The request words most queries start with ("write", "how"), with their shares."""
    first = [(_TOKEN.findall(t[:40].lower()) or [""])[0] for t in texts]
    counts = Counter(w for w in first if w in _OPENERS)
    return [
        (w, n / len(texts))
        for w, n in sorted(counts.items(), key=lambda c: (-c[1], c[0]))[:2]
        if texts and n / len(texts) >= floor
    ]


def phrase_summary(
    phrases: list[str], title: str, keywords: list[str], central: list[str], size: int,
    texts: list[str],
) -> OfflineSummary:  # fmt: skip
    """Title from the cluster's top phrase; a description naming what the queries ask about,
    how they open, and quoting the two most central queries."""
    if not phrases and not keywords:
        return summarise(keywords, central, size, texts)  # "Miscellaneous: …"
    phrases = phrases or keywords[:4]  # greetings and filler: no phrase in two queries
    title = title or phrases[0].capitalize()
    coherence = coherence_from_coverage(texts, keywords or phrases)
    if coherence <= 2:
        title = f"Mixed: {title}"
    about: list[str] = []
    for phrase in phrases:  # "python code" adds nothing after "python", nor it after the other
        words = set(phrase.split())
        if not any(words <= set(a.split()) or set(a.split()) <= words for a in about):
            about.append(phrase)
    about = about[:4]
    topics = ", ".join(about[:-1]) + f" and {about[-1]}" if len(about) > 1 else about[0]
    parts = [f"{size} queries about {topics}."]
    starts = openings(texts)
    if starts:
        said = " or ".join(f"“{w} …” ({share:.0%})" for w, share in starts)
        parts.append(f"Many start with {said}.")
    quotes = [f"“{_quoted(t)}”" for t in central[:2] if t.strip()]
    if quotes:
        parts.append(f"Most central: {'; '.join(quotes)}.")
    return OfflineSummary(title, " ".join(parts), coherence, list(keywords))


def summarise(
    keywords: list[str], central: list[str], size: int, texts: list[str]
) -> OfflineSummary:
    """Title, two-sentence description and coherence for one cluster."""
    coherence = coherence_from_coverage(texts, keywords)
    example = _snippet(central[0], 160) if central else ""
    if not keywords:
        title = f"Miscellaneous: {_snippet(example, 50)}" if example else "Miscellaneous"
        first = f"{size} queries without shared keywords"
    else:
        title = keyword_title(keywords)
        if coherence <= 2:
            title = f"Mixed: {title}"
        first = f"{size} queries about {', '.join(keywords[:6])}"
    second = f"Most central example: “{example}”." if example else "No example text is stored."
    return OfflineSummary(title, f"{first}. {second}", coherence, list(keywords))
