"""Offline phrase titles (issue 12 item 4): candidates, casing, the summarize pass on real
ShareGPT clusters, parent names, and title quality on a labelled corpus (real MiniLM model)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import summary_fixtures as fx

from lmsys_tui.core.cluster.phrases import (
    candidates,
    phrases_of,
    rank,
    stop_words,
    surface,
    title_from,
)
from lmsys_tui.core.hierarchy.nodes import Node
from lmsys_tui.core.hierarchy.titles import parent_title
from lmsys_tui.core.summarize import SummarizeOptions, run_summarize, summaries_for_pass


def test_phrases_stay_inside_clauses_and_start_and_end_on_content_words() -> None:
    found = phrases_of("Write a blog post about SEO, please. Thanks! Point of view", stop_words())
    assert {"blog post", "seo", "blog", "post", "point of view"} <= found
    # request verbs, stop words and filler never start or end a phrase; clauses are not crossed
    assert not found & {"write", "write blog", "post seo", "seo thanks", "please", "thanks"}
    assert "blair has said" not in phrases_of("Blair has said no", stop_words())


def test_candidates_need_two_queries_and_favour_what_sets_a_cluster_apart() -> None:
    texts = {
        0: ["fix my react component", "react component error", "react hooks", "code review"],
        1: ["code review for python", "python script error", "python list sort", "once seen"],
    }
    found = {cid: [p for p, _, _ in c] for cid, c in candidates(texts).items()}
    assert found[0][0] == "react component" or found[0][0] == "react"
    assert "python" in found[1][:3] and "once" not in found[1]
    assert all(n >= 2 for c in candidates(texts).values() for _, _, n in c)


def test_casing_follows_the_queries() -> None:
    assert surface("api", ["call the API", "API key", "my api"]) == "API"
    assert surface("javascript", ["JavaScript error", "javascript map", "JavaScript"]) == (
        "JavaScript"
    )
    assert surface("play soccer", ["DO YOU PLAY SOCCER", "PLAY SOCCER now"]) == "Play soccer"
    assert title_from(["python", "python script", "sql"], ["a Python script", "python"]) == (
        "Python script"
    )


def test_ranking_without_an_encoder_keeps_ctfidf_order_longer_first_on_ties() -> None:
    found = {0: [("react", 1.0, 5), ("react component", 0.9, 4), ("hooks", 0.5, 2)]}
    assert rank(found, {}, None)[0] == ["react component", "react", "hooks"]


def test_parent_named_from_a_word_its_children_share() -> None:
    kids = [
        Node(1, 0, "Python script", "", 50, keywords=["python script", "pandas"]),
        Node(2, 0, "Pandas in Python", "", 30, keywords=["pandas dataframe", "python"]),
        Node(3, 0, "SQL joins", "", 20, keywords=["sql joins", "sql"]),
    ]
    assert parent_title(kids) == "Python script"
    two = [kids[0], Node(4, 0, "SQL joins", "", 45, keywords=["sql joins", "sql"])]
    assert parent_title(two) == "Python script and SQL joins"
    assert parent_title(kids[:1]) == "Python script"


def _words(title: str) -> str:
    """The title's first phrase ("Mixed: " and a ": next phrase" aside) as a pattern."""
    phrase = title.removeprefix("Mixed: ").split(": ")[0]
    return r"\W+".join(re.escape(w) for w in phrase.lower().split())


def test_offline_pass_titles_are_phrases_of_the_cluster(cstore, db) -> None:
    a = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="a"))
    b = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(alias="b"))
    assert a.status == b.status == "done"
    rows = {k: summaries_for_pass(cstore, fx.RUN_ID, alias=k)[1] for k in "ab"}
    assert [r["title"] for r in rows["a"].values()] == [r["title"] for r in rows["b"].values()]
    titles = [r["title"] for r in rows["a"].values()]
    phrased = [
        t for t, r in zip(titles, rows["a"].values(), strict=True) if r["parameters"]["phrases"]
    ]
    assert len(set(phrased)) == len(phrased)  # a repeated phrase title gets its next phrase
    # a topic, not a list: no "A, B and C" titles any more
    assert not [t for t in titles if t.count(",") >= 1 and " and " in t]
    # a cluster with no phrase in two of its queries (greetings) is named by its top word
    assert sum(bool(r["parameters"]["phrases"]) for r in rows["a"].values()) >= 0.8 * len(titles)
    for cid, row in rows["a"].items():
        assert row["parameters"]["keywords"]
        members = fx.query(
            db,
            "SELECT q.query_text FROM queries q JOIN query_clusters qc ON qc.query_id = q.id"
            " WHERE qc.run_id = ? AND qc.cluster_id = ?",
            fx.RUN_ID,
            cid,
        )
        pattern = re.compile(r"(?<!\w)" + _words(row["title"]) + r"(?!\w)", re.IGNORECASE)
        least = 2 if row["parameters"]["phrases"] else 1  # a phrase is in two queries or more
        assert sum(bool(pattern.search(m[0])) for m in members) >= least, (cid, row["title"])
        assert "Most central: “" in row["description"] and "queries about" in row["description"]


def _label_figures(titles: list[str], majority: list[str], names: list[str], enc):
    """(share of clusters whose title is nearest, by MiniLM cosine, to their majority label;
    mean cosine of title to that label)."""
    T, L = enc([t or "-" for t in titles]), enc(names)
    hits = [names[int(np.argmax(T[i] @ L.T))] == m for i, m in enumerate(majority)]
    own = [float(T[i] @ L[names.index(m)]) for i, m in enumerate(majority)]
    return float(np.mean(hits)), float(np.mean(own))


@pytest.mark.slow
def test_phrase_titles_stay_on_the_true_topic() -> None:
    """Chat turns in 7 known topics, k-means leaves, titles judged against the label names.

    Measured (README): phrase titles are nearest their label for 57% of the clusters (keyword
    lists 71%: "Money, Stock and Market" holds the label's own word, "Dollar" is narrower), with
    the same mean similarity to it (0.355 vs 0.349). The guard: as close to the topic as the
    lists, and the right topic for at least half the clusters."""
    import corpora
    from sklearn.cluster import KMeans

    from lmsys_tui.core.embed import embed_texts
    from lmsys_tui.core.embed.space import resolve_space
    from lmsys_tui.core.llm import offline

    space = resolve_space("sentence-transformers", None, None)

    def enc(texts: list[str]) -> np.ndarray:
        return embed_texts(space, texts, backend="torch", batch_size=256)

    corpus = corpora.chat_questions()
    X = enc(corpus.texts)
    k = 14
    lab = KMeans(k, n_init=4, random_state=0).fit_predict(X)
    labels = np.array(corpus.labels)
    texts = {i: [t for t, j in zip(corpus.texts, lab, strict=True) if j == i] for i in range(k)}
    majority = [max(sorted(set(labels[lab == i])), key=list(labels[lab == i]).count)
                for i in range(k)]  # fmt: skip
    ranked = rank(candidates(texts), {i: X[lab == i].mean(0) for i in range(k)}, enc)
    after = [title_from(ranked[i], texts[i]) for i in range(k)]
    words = offline.ctfidf_keywords(texts)
    before = [offline.keyword_title(words[i]) for i in range(k)]
    hits, near = _label_figures(after, majority, corpus.topics, enc)
    _, near_before = _label_figures(before, majority, corpus.topics, enc)
    assert near >= 0.95 * near_before and hits >= 0.5, list(zip(after, majority, strict=True))
    assert not [t for t in after if "," in t]  # phrases, not lists
