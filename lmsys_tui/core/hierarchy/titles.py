"""Offline parent names from their children's phrases: a topic, not a list of keywords.

A child's keywords are its best phrases first (the offline summariser's phrase labels, or the
c-TF-IDF words of an older pass). A phrase and each content word in it earn the child's query
count over the phrase's rank, once per child, so a word many children share ("python" in
"Python script" and "pandas in Python") rises above any one child's phrase. The title is the
best of them (a lone word takes the phrase that holds it when that phrase carries at least half
its weight); when it covers less than 60% of the parent's queries, the best phrase of the
children it misses joins it: "Python scripts and SQL queries". Casing comes from the children's
titles ("SQL", "JavaScript").
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmsys_tui.core.hierarchy.nodes import Node

COVERED = 0.6  # share of the parent's queries its title must speak for to stand alone
_WORD = re.compile(r"(?u)\b[^\W\d_]{2,30}\b")


def _units(phrase: str, stop: frozenset[str]) -> list[str]:
    words = [w for w in _WORD.findall(phrase.lower()) if w not in stop]
    return list(dict.fromkeys([phrase.lower(), *words]))


def _weights(children: list[Node], stop: frozenset[str]) -> dict[str, dict[int, float]]:
    """unit (phrase or word) -> child id -> the child's weight for it (its best rank only)."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for child in children:
        for rank, phrase in enumerate(child.keywords[:10]):
            for unit in _units(phrase, stop):
                weight = max(child.count, 1) / (rank + 1)
                if weight > out[unit].get(child.id, 0.0):
                    out[unit][child.id] = weight
    return out


def _best(weights: dict[str, dict[int, float]], among: set[int]) -> tuple[str, str] | None:
    """The heaviest unit over the children in `among` and what is shown for it: a word yields
    to the phrase holding it when that phrase has half its weight ("python" -> "python
    script"); the word still says which children the title speaks for."""
    score = {u: sum(w for c, w in by.items() if c in among) for u, by in weights.items()}
    score = {u: s for u, s in score.items() if s > 0}
    if not score:
        return None
    top = shown = min(score, key=lambda u: (-score[u], u))
    if " " not in top:
        longer = [u for u in score if " " in u and top in u.split() and score[u] >= score[top] / 2]
        if longer:
            shown = min(longer, key=lambda u: (-score[u], u))
    return top, shown


def _cased(unit: str, children: list[Node], first: bool) -> str:
    """The unit as a child's title spells it ("SQL"), else as it is; first letter up when it
    starts the title. A match at the start of a title only counts when more than its first
    letter is upper case (titles capitalise their first word)."""
    pattern = re.compile(r"(?<!\w)" + re.escape(unit) + r"(?!\w)", re.IGNORECASE)
    for child in sorted(children, key=lambda c: (-c.count, c.id)):
        found = pattern.search(child.title.removeprefix("Mixed: "))
        if found and (found.start() > 0 or found.group()[1:] != found.group()[1:].lower()):
            unit = found.group()
            break
    return unit[:1].upper() + unit[1:] if first else unit


def parent_title(children: list[Node]) -> str:
    """A topic name for the parent of `children` ("" when they have no keywords)."""
    from lmsys_tui.core.cluster.phrases import stop_words

    if len(children) == 1:
        return children[0].title
    weights = _weights(children, stop_words())
    everyone = {c.id for c in children}
    found = _best(weights, everyone)
    if found is None:
        return ""
    unit, shown = found
    total = sum(max(c.count, 1) for c in children)
    covered = set(weights[unit])
    share = sum(max(c.count, 1) for c in children if c.id in covered) / total
    title = _cased(shown, children, True)
    if share < COVERED:
        unlike = {u: w for u, w in weights.items() if not set(u.split()) & set(shown.split())}
        other = _best(unlike, everyone - covered)
        if other is not None:
            title = f"{title} and {_cased(other[1], children, False)}"
    return title
