"""A small, fixed store for the TUI tests: every row written by the test, no clock, no model.

Queries go in through the real load stage (then their dates are pinned); the clustering run,
its clusters and memberships, two summary passes and a three-level hierarchy are written
straight into the tables, the way the stages write them, with fixed values. The data carries
the hostile texts the escaping tests need (Rich markup, an ESC sequence, a very long line).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_ID = "kmeans-6-fixture"
FLAT_RUN = "hdbscan-fixture"
PASS_V1 = "summary-offline-fixture"
PASS_CLAUDE = "summary-claude-fixture"
HIER_ID = "hier-kmeans-6-fixture"
EVIL_QUERY = "[bold red]not bold[/] \x1b[31mstill plain \x1b[2J"
EVIL_TITLE = "[bold red]Evil[/] markup \x1b[31mtitle"
LONG_QUERY = "Please summarise this: " + " ".join(f"word{i}" for i in range(1200))
CREATED = "2024-05-02 08:30:00.000000"
UPDATED = "2024-05-01 12:00:00.000000"

# cluster id -> (keywords, [(text, model, language)])
CLUSTERS: dict[int, tuple[list[str], list[tuple[str, str, str]]]] = {
    0: (
        ["python", "error", "list", "function", "code"],
        [
            ("Why does my Python list comprehension raise NameError?", "vicuna-13b", "en"),
            ("Fix this Python function that returns None.", "gpt-4", "en"),
            ("How do I read a CSV file in Python?", "vicuna-13b", "en"),
            ("Explain Python decorators with an example.", "llama-2-13b", "en"),
            ("Warum bekomme ich einen IndexError in Python?", "vicuna-13b", "de"),
            ("Write a Python script to rename files.", "gpt-4", "en"),
            ("What is the difference between a list and a tuple?", "vicuna-13b", "en"),
            ("Debug this recursion error in my code.", "koala-13b", "en"),
            ("How do Python generators work?", "vicuna-13b", "en"),
            ("Sort a dictionary by value in Python.", "gpt-4", "en"),
        ],
    ),
    1: (
        ["email", "write", "polite", "refund", "letter"],
        [
            ("Write a polite email asking for a refund.", "vicuna-13b", "en"),
            ("Draft a cover letter for a data analyst job.", "gpt-4", "en"),
            ("Rédige un e-mail pour annuler une réunion.", "vicuna-13b", "fr"),
            ("Write a thank-you note to my landlord.", "llama-2-13b", "en"),
            ("Email my team about the holiday schedule.", "vicuna-13b", "en"),
            ("Reply to a customer complaint politely.", "gpt-4", "en"),
            ("Write a resignation letter.", "vicuna-13b", "en"),
            ("Ask my professor for an extension by email.", "koala-13b", "en"),
        ],
    ),
    2: (
        ["translate", "japanese", "spanish", "french"],
        [
            ("Translate 'good morning' into Japanese.", "vicuna-13b", "en"),
            ("Traduce esta frase al inglés.", "vicuna-13b", "es"),
            ("Translate this paragraph into French.", "gpt-4", "en"),
            ("How do you say thank you in Korean?", "vicuna-13b", "en"),
            ("把这句话翻译成英文。", "chatglm-6b", "zh"),
            ("Translate my menu into Spanish.", "llama-2-13b", "en"),
        ],
    ),
    3: (
        ["solve", "equation", "math", "integral"],
        [
            ("Solve the equation 2x + 3 = 11.", "gpt-4", "en"),
            ("What is the integral of x squared?", "vicuna-13b", "en"),
            ("Explain the Pythagorean theorem.", "vicuna-13b", "en"),
            ("Is 97 a prime number?", "llama-2-13b", "en"),
            ("Calculate 15% of 240.", "vicuna-13b", "en"),
        ],
    ),
    4: (
        ["recipe", "cook", "dinner", "vegan"],
        [
            ("Give me a vegan dinner recipe.", "vicuna-13b", "en"),
            ("How long should I boil an egg?", "gpt-4", "en"),
            ("Suggest a quick pasta recipe.", "vicuna-13b", "en"),
            ("Wie backe ich ein Brot?", "vicuna-13b", "de"),
        ],
    ),
    5: (
        ["inst", "bold", "summarise"],
        [
            (EVIL_QUERY, "vicuna-13b", "en"),
            ("[INST] tell me a story [/INST]", "llama-2-13b", "en"),
            (LONG_QUERY, "gpt-4", "en"),
        ],
    ),
}

V1_TITLES = {
    0: ("Python coding help", "Users ask for help with Python errors and idioms."),
    1: ("Writing emails and letters", "Requests to draft polite emails, notes and letters."),
    2: ("Translation requests", "Short phrases and paragraphs to translate."),
    3: ("Basic math questions", "Equations, integrals and arithmetic."),
    4: ("Cooking and recipes", "Recipes and cooking times."),
    5: (EVIL_TITLE, "Prompts with [INST] tags and \x1b[1mcontrol codes\x1b[0m [/] inside."),
}
CLAUDE_TITLES = {
    0: ("Debugging Python programs", "Fixing errors in Python code."),
    1: ("Professional correspondence", "Emails, cover letters and notes."),
    2: ("Translating between languages", "Translation of words and text."),
    3: ("Solving math problems", "School-level mathematics."),
    4: ("Home cooking", "What to cook and how."),
    5: ("Prompt-format oddities", "Inputs with chat-template tags."),
}
# parent id -> (level, title, children)
PARENTS: dict[int, tuple[int, str, list[int]]] = {
    1_000_000: (1, "Software and writing help", [0, 1]),
    1_000_001: (1, "Languages and numbers", [2, 3]),
    1_000_002: (1, "Everyday life and oddities", [4, 5]),
    2_000_000: (2, "Work and code", [1_000_000]),
    2_000_001: (2, "Learning and life", [1_000_001, 1_000_002]),
}


@dataclass(frozen=True)
class FixtureStore:
    db: Path
    query_ids: dict[int, list[int]]  # cluster -> query ids (in distance order)
    sizes: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def _load(store: Any) -> None:
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo

    convs = [
        Conversation(f"c{cid}-{i}", text, model=model, language=lang, turn_count=1 + i % 3)
        for cid, (_, items) in CLUSTERS.items()
        for i, (text, model, lang) in enumerate(items)
    ]
    info = SourceInfo("file", "fixture.jsonl", "support-chats", detect_language=False)
    run_load(store, iter(convs), info, label="support-chats")


def build(store: Any) -> FixtureStore:
    """Fill the (empty) store with the fixture; returns its ids."""
    _load(store)
    db = Path(store.path)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE datasets SET created_at = ?, updated_at = ?", (CREATED, UPDATED))
    conn.execute("UPDATE queries SET created_at = ?", (CREATED,))
    ids = {conv: qid for qid, conv in conn.execute("SELECT id, conversation_id FROM queries")}
    query_ids: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    for cid, (_, items) in CLUSTERS.items():
        query_ids[cid] = [ids[f"c{cid}-{i}"] for i in range(len(items))]
        sizes[cid] = len(items)
    run_row = (
        "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, dataset_id,"
        " embedding_provider, embedding_model, embedding_dim, parameters, metrics, status,"
        " created_at, finished_at) VALUES (?, ?, ?, 1, 'sentence-transformers',"
        " 'all-MiniLM-L6-v2', 384, ?, '{}', 'done', ?, ?)"
    )
    conn.execute(run_row, (RUN_ID, "kmeans", 6, json.dumps({"n_clusters": 6}), CREATED, CREATED))
    for cid, (keywords, _) in CLUSTERS.items():
        conn.execute(
            "INSERT INTO clusters (run_id, cluster_id, size, keywords, metrics)"
            " VALUES (?, ?, ?, ?, '{}')",
            (RUN_ID, cid, sizes[cid], json.dumps(keywords)),
        )
        for rank, qid in enumerate(query_ids[cid]):
            conn.execute(
                "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
                " distance) VALUES (?, ?, ?, ?, ?)",
                (RUN_ID, qid, cid, round(1 - rank * 0.05, 3), round(0.1 + rank * 0.05, 3)),
            )
    for srid, alias, model, when, titles in (
        (PASS_V1, "v1", "offline/ctfidf", "2024-05-02 09:00:00.000000", V1_TITLES),
        (PASS_CLAUDE, "claude", "anthropic/claude-sonnet-4-5", "2024-05-03 10:00:00.000000",
         CLAUDE_TITLES),
    ):  # fmt: skip
        conn.execute(
            "INSERT INTO summary_runs (summary_run_id, run_id, alias, model, parameters, status,"
            " created_at, finished_at) VALUES (?, ?, ?, ?, '{}', 'done', ?, ?)",
            (srid, RUN_ID, alias, model, when, when),
        )
        for cid, (title, description) in titles.items():
            conn.execute(
                "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, alias, title,"
                " description, summary, coherence, num_queries, representative_queries, model,"
                " parameters, status, generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?,"
                " '{}', 'done', ?)",
                (RUN_ID, cid, srid, alias, title, description, description, 3 + cid % 3,
                 sizes[cid], model, when),
            )  # fmt: skip
    conn.execute(
        "INSERT INTO hierarchy_runs (hierarchy_run_id, run_id, summary_run_id, model, parameters,"
        " checkpoint, status, created_at, finished_at) VALUES (?, ?, ?, 'offline/ctfidf', '{}',"
        " '{}', 'done', ?, ?)",
        (HIER_ID, RUN_ID, PASS_V1, "2024-05-02 09:30:00.000000", "2024-05-02 09:31:00.000000"),
    )
    parent_of = {child: pid for pid, (_, _, kids) in PARENTS.items() for child in kids}
    counts: dict[int, int] = dict(sizes)
    for pid in sorted(PARENTS):  # level 1 before level 2
        counts[pid] = sum(counts[c] for c in PARENTS[pid][2])
    for cid in CLUSTERS:
        conn.execute(
            "INSERT INTO cluster_hierarchies (hierarchy_run_id, run_id, cluster_id,"
            " parent_cluster_id, level, children_ids, title, description, query_count,"
            " created_at) VALUES (?, ?, ?, ?, 0, '[]', ?, ?, ?, ?)",
            (HIER_ID, RUN_ID, cid, parent_of[cid], V1_TITLES[cid][0], V1_TITLES[cid][1],
             sizes[cid], CREATED),
        )  # fmt: skip
    for pid, (level, title, kids) in PARENTS.items():
        conn.execute(
            "INSERT INTO cluster_hierarchies (hierarchy_run_id, run_id, cluster_id,"
            " parent_cluster_id, level, children_ids, title, description, query_count,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (HIER_ID, RUN_ID, pid, parent_of.get(pid), level, json.dumps(kids), title,
             f"Everything about {title.lower()}.", counts[pid], CREATED),
        )  # fmt: skip
    # a second, flat run with noise: clusters 0 and 1 of the first, the rest is noise
    conn.execute(
        run_row,
        (FLAT_RUN, "hdbscan", 2, json.dumps({"min_cluster_size": 3}), "2024-04-30 08:00:00.000000",
         "2024-04-30 08:00:00.000000"),
    )  # fmt: skip
    flat = {0: query_ids[0], 1: query_ids[1]}
    flat[-1] = [q for c in (2, 3, 4, 5) for q in query_ids[c]]
    for cid, members in flat.items():
        conn.execute(
            "INSERT INTO clusters (run_id, cluster_id, size, keywords, metrics)"
            " VALUES (?, ?, ?, ?, '{}')",
            (FLAT_RUN, cid, len(members), json.dumps(CLUSTERS[max(cid, 0)][0][:3])),
        )
        for rank, qid in enumerate(members):
            distance = None if cid == -1 else round(0.2 + rank * 0.01, 3)
            conn.execute(
                "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
                " distance) VALUES (?, ?, ?, ?, ?)",
                (FLAT_RUN, qid, cid, 0.0 if cid == -1 else 0.9, distance),
            )
    conn.commit()
    conn.close()
    return FixtureStore(db=db, query_ids=query_ids, sizes=sizes)
