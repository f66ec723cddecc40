"""The explorer at scale: 1M queries, 200 clusters, a 3-level hierarchy (issue 6 targets).

Run: pytest tests/bench/test_tui_bench.py -s   (builds the store first: a minute or two)

Targets: first paint of `lmsys-tui --run-id R` <= 1.0 s (whole process); expanding a node
<= 50 ms; first page of a 100k-query node <= 100 ms; a search result shown <= 300 ms after the
last keystroke (keyword mode: the 1M store has no vectors, see below); no event-loop stall
over 50 ms while an embedding job runs (largest gap between 10 ms timer ticks).

The 1M store is synthetic and written straight into the tables (with the real schema, FTS5
triggers included): cluster 0 holds 100,000 queries, the other 199 share the rest; a
200 -> 40 -> 8 hierarchy; one summary pass. It holds no embeddings (1M real vectors would take
hours here), so live search is measured in keyword mode at 1M; semantic search latency is the
search issue's benchmark (tests/bench/test_search_bench.py). The embedding-stall case embeds
real ShareGPT texts with the real bundled model in a small store of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

N_QUERIES = 1_000_000
N_CLUSTERS = 200
BIG = 100_000
RUN_ID = "kmeans-200-bench"
HIER_ID = "hier-kmeans-200-bench"
PASS_ID = "summary-bench"
STAMP = "2024-05-01 12:00:00.000000"
WORDS = [f"w{i}" for i in range(5000)]
TOPICS = ["python", "email", "recipe", "travel", "math", "poem", "sql", "story", "legal", "health"]


def _build(db: Path) -> None:
    from lmsys_tui.core.store.db import open_store

    open_store(db).close()  # the real schema, FTS triggers included
    rnd = random.Random(7)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(
        "INSERT INTO datasets (id, label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES (1, 'bench', 'file', 'done', ?, '{}', ?, ?)",
        (N_QUERIES, STAMP, STAMP),
    )
    sizes = [BIG] + [(N_QUERIES - BIG) // (N_CLUSTERS - 1)] * (N_CLUSTERS - 1)
    sizes[1] += N_QUERIES - sum(sizes)
    labels = [c for c, n in enumerate(sizes) for _ in range(n)]
    rnd.shuffle(labels)
    models = ["vicuna-13b", "gpt-4", "llama-2-13b", "koala-13b", "chatglm-6b"]
    langs = ["en", "en", "en", "de", "fr", "zh", "es"]
    batch: list[tuple[Any, ...]] = []
    members: list[tuple[Any, ...]] = []
    for qid in range(1, N_QUERIES + 1):
        c = labels[qid - 1]
        text = f"{TOPICS[c % len(TOPICS)]} question {c} " + " ".join(rnd.choices(WORDS, k=8))
        batch.append(
            (qid, 1, f"c{qid}", text, f"h{qid}", models[qid % 5], langs[qid % 7], 1, STAMP)
        )
        members.append((RUN_ID, qid, c, 0.9, rnd.random()))
        if len(batch) == 50_000:
            conn.executemany(
                "INSERT INTO queries (id, dataset_id, conversation_id, query_text, text_hash,"
                " model, language, turn_count, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                batch,
            )
            conn.executemany(
                "INSERT INTO query_clusters (run_id, query_id, cluster_id, confidence_score,"
                " distance) VALUES (?,?,?,?,?)",
                members,
            )
            batch, members = [], []
    conn.execute(
        "INSERT INTO clustering_runs (run_id, algorithm, num_clusters, dataset_id,"
        " embedding_provider, embedding_model, embedding_dim, parameters, metrics, status,"
        " created_at, finished_at) VALUES (?, 'kmeans', ?, 1, 'sentence-transformers',"
        " 'all-MiniLM-L6-v2', 384, '{}', '{}', 'done', ?, ?)",
        (RUN_ID, N_CLUSTERS, STAMP, STAMP),
    )
    conn.executemany(
        "INSERT INTO clusters (run_id, cluster_id, size, keywords, metrics) VALUES (?,?,?,?,'{}')",
        [
            (RUN_ID, c, n, json.dumps([TOPICS[c % len(TOPICS)], f"k{c}", "question"]))
            for c, n in enumerate(sizes)
        ],
    )
    conn.execute(
        "INSERT INTO summary_runs (summary_run_id, run_id, alias, model, parameters, status,"
        " created_at, finished_at) VALUES (?, ?, 'bench', 'offline/ctfidf', '{}', 'done', ?, ?)",
        (PASS_ID, RUN_ID, STAMP, STAMP),
    )
    conn.executemany(
        "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, title, description,"
        " coherence, num_queries, representative_queries, model, parameters, status,"
        " generated_at) VALUES (?,?,?,?,?,3,?,'[]','offline/ctfidf','{}','done',?)",
        [
            (RUN_ID, c, PASS_ID, f"{TOPICS[c % 10].title()} requests #{c}", "About it.", n, STAMP)
            for c, n in enumerate(sizes)
        ],
    )
    conn.execute(
        "INSERT INTO hierarchy_runs (hierarchy_run_id, run_id, summary_run_id, model, parameters,"
        " checkpoint, status, created_at) VALUES (?, ?, ?, 'offline', '{}', '{}', 'done', ?)",
        (HIER_ID, RUN_ID, PASS_ID, STAMP),
    )
    level1 = {1_000_000 + p: list(range(p * 5, p * 5 + 5)) for p in range(40)}
    level2 = {2_000_000 + r: [1_000_000 + p for p in range(r * 5, r * 5 + 5)] for r in range(8)}
    parent = {c: p for p, kids in (level1 | level2).items() for c in kids}
    count = dict(enumerate(sizes))
    for p, kids in level1.items():
        count[p] = sum(count[k] for k in kids)
    for p, kids in level2.items():
        count[p] = sum(count[k] for k in kids)
    rows = [(c, parent[c], 0, "[]", f"{TOPICS[c % 10].title()} requests #{c}") for c in range(200)]
    rows += [(p, parent[p], 1, json.dumps(k), f"Group {p % 100}") for p, k in level1.items()]
    rows += [(p, None, 2, json.dumps(k), f"Area {p % 100}") for p, k in level2.items()]
    conn.executemany(
        "INSERT INTO cluster_hierarchies (hierarchy_run_id, run_id, cluster_id,"
        " parent_cluster_id, level, children_ids, title, description, query_count, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
        [(HIER_ID, RUN_ID, c, p, lv, kids, t, count[c], STAMP) for c, p, lv, kids, t in rows],
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()


BUILD = "v3"  # bump when _build or the store schema changes


@pytest.fixture(scope="module")
def big_db() -> Path:
    """The 1M store, built once per machine (a few minutes) and kept in the temp folder."""
    from lmsys_tui.core.store import schema

    folder = Path(tempfile.gettempdir()) / f"lmsys-tui-bench-1m-{BUILD}-s{schema.SCHEMA_VERSION}"
    db = folder / "queries.db"
    if not (folder / "built").exists():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        started = time.perf_counter()
        _build(db)
        took = time.perf_counter() - started
        (folder / "built").write_text(f"{took:.0f}s")
        print(f"\nbuilt the 1M store in {took:.0f}s ({db.stat().st_size >> 20} MiB) at {db}")
    return db


FIRST_PAINT = """
import asyncio, sys, time
t0 = float(sys.argv[1])
from lmsys_tui.config import load_settings
from lmsys_tui.tui.app import LmsysApp

async def main():
    app = LmsysApp(load_settings(sys.argv[2]), run_id=sys.argv[3])
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            tree = getattr(app.screen, "tree", None) if hasattr(app.screen, "view") else None
            if tree is not None and tree.nodes_by_id:
                break
            await asyncio.sleep(0.002)
        painted = asyncio.Event()
        app.call_after_refresh(painted.set)
        await painted.wait()
        print(time.time() - t0)

asyncio.run(main())
"""


BARE_PAINT = """
import asyncio, sys, time
t0 = float(sys.argv[1])
from textual.app import App
from textual.widgets import Footer, Header, Static, Tree

class Bare(App):
    BINDINGS = [("t", "x", "sort"), ("v", "x", "queries"), ("q", "quit", "quit")]

    def compose(self):
        yield Header()
        yield Static("run")
        yield Tree("clusters", id="t")
        yield Static("detail")
        yield Footer()

    def on_mount(self):
        tree = self.query_one(Tree)
        for i in range(8):
            tree.root.add(f"node {i}")
        tree.root.expand()

async def main():
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        painted = asyncio.Event()
        app.call_after_refresh(painted.set)
        await painted.wait()
        print(time.time() - t0)

asyncio.run(main())
"""


def _first_paints(code: str, args: list[str], env: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.time()
        res = subprocess.run(
            [sys.executable, "-c", code, str(t0), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def test_first_paint_of_the_tree(big_db: Path, cli_env: dict[str, str]) -> None:
    ours = _first_paints(FIRST_PAINT, [str(big_db), RUN_ID], cli_env, 7)
    bare = _first_paints(BARE_PAINT, [], cli_env, 5)
    median = statistics.median(ours)
    print(
        f"\nfirst paint of `lmsys-tui --run-id {RUN_ID}` (1M queries, whole process): median"
        f" {median:.3f}s, max {max(ours):.3f}s; a bare Textual app (header, 8-node tree,"
        f" footer) in the same run: {statistics.median(bare):.3f}s"
    )
    assert median <= 1.0


async def _poll(predicate: Any, limit: float = 30.0) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > limit:
            raise AssertionError("timed out")
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t0


async def _painted(app: Any) -> None:
    painted = asyncio.Event()
    app.call_after_refresh(painted.set)
    await painted.wait()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _app(db: Path) -> Any:
    from lmsys_tui.config import Settings
    from lmsys_tui.tui.app import LmsysApp

    app = LmsysApp(Settings(db_path=db), run_id=RUN_ID)
    app.animation_level = "none"
    return app


@pytest.mark.anyio
async def test_expanding_a_node(big_db: Path) -> None:
    """From `expand()` to the children painted (roots of ~125k queries, then level 1)."""
    app = _app(big_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await _poll(lambda: hasattr(app.screen, "tree") and app.screen.tree.nodes_by_id)
        tree = app.screen.tree
        await pilot.pause(1.0)  # the first detail read is done

        async def expand(node_id: int) -> float:
            node = tree.nodes_by_id[node_id]
            t0 = time.perf_counter()
            node.expand()
            await _poll(lambda: node.data.loaded)
            await _painted(app)
            return (time.perf_counter() - t0) * 1000

        expand_ms = []
        for r in range(8):
            root = 2_000_000 + r
            expand_ms.append(await expand(root))
            expand_ms.append(await expand(tree.nodes_by_id[root].children[0].data.row.node_id))
            await pilot.pause()
    print(
        "\nexpand a node (8 roots + 8 level-1 nodes), expand() to painted:"
        f" median {statistics.median(expand_ms):.1f} ms, max {max(expand_ms):.1f} ms"
    )
    assert statistics.median(expand_ms) <= 50


BARE_PUSH_ROWS = 100


@pytest.mark.anyio
async def test_first_page_of_a_100k_query_node(big_db: Path) -> None:
    """The store read of the first page, and the whole drill-down (a screen with a 100-row
    table pushed and painted) against the same screen in a bare Textual app."""
    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer, Header, Static

    from lmsys_tui.core.read import members, runs
    from lmsys_tui.core.read.tree import NodeRow
    from lmsys_tui.tui.screens.queries import QueriesScreen

    view = runs.open_run(big_db, RUN_ID).view
    reads = []
    for order in ("distance", "distance", "-distance", "id", "distance"):
        t0 = time.perf_counter()
        page = members.query_page(view, [0], order=order, limit=100)
        reads.append((time.perf_counter() - t0) * 1000)
        assert len(page.rows) == 100
    deep = members.query_page(view, [0], limit=100)
    for _ in range(50):  # page 51: keyset pages cost the same at any depth
        deep = members.query_page(view, [0], after=deep.next_after, limit=100)
    t0 = time.perf_counter()
    members.query_page(view, [0], after=deep.next_after, limit=100)
    deep_ms = (time.perf_counter() - t0) * 1000

    row = NodeRow(0, 0, "cluster 0", BIG, BIG / N_QUERIES)
    app = _app(big_db)
    shown = []
    async with app.run_test(size=(120, 40)) as pilot:
        await _poll(lambda: hasattr(app.screen, "tree") and app.screen.tree.nodes_by_id)
        explorer = app.screen
        await pilot.pause(1.0)
        for _ in range(5):
            t0 = time.perf_counter()
            explorer.open_queries(row)
            await _poll(lambda: isinstance(app.screen, QueriesScreen) and app.screen.page)
            await _painted(app)
            shown.append((time.perf_counter() - t0) * 1000)
            assert app.screen.query_one("#queries", DataTable).row_count == 100
            app.pop_screen()
            await pilot.pause()

    class Page(Screen[None]):
        def compose(self) -> Any:
            yield Header()
            yield Static("title")
            yield Static("status")
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for name, width in (("#", 7), ("Distance", 8), ("Lang", 5), ("Model", 16), ("Q", 70)):
                table.add_column(name, width=width)
            for i in range(BARE_PUSH_ROWS):
                table.add_row(str(i), "0.100", "en", "vicuna-13b", f"query text {i} " * 5)

    class Bare(App[None]):
        def compose(self) -> Any:
            yield Header()
            yield Footer()

    bare = Bare()
    floor = []
    async with bare.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(5):
            t0 = time.perf_counter()
            bare.push_screen(Page())
            await _poll(lambda: isinstance(bare.screen, Page))
            await _painted(bare)
            floor.append((time.perf_counter() - t0) * 1000)
            bare.pop_screen()
            await pilot.pause()
    print(
        f"\nfirst page of the 100k-query cluster, store read: median"
        f" {statistics.median(reads):.1f} ms (page 52: {deep_ms:.1f} ms); whole drill-down"
        f" (screen pushed, 100 rows painted): median {statistics.median(shown):.0f} ms; the same"
        f" screen in a bare Textual app: {statistics.median(floor):.0f} ms"
    )
    assert statistics.median(reads) <= 100 and deep_ms <= 100


WORDS_SEARCHED = ("python", "recipe", "w123", "w4999", "travel question")


@pytest.mark.anyio
async def test_live_search_latency(big_db: Path) -> None:
    """From the last keystroke to the hits painted (keyword mode; the 250 ms debounce
    included), next to what the search core alone takes for the same request."""
    from lmsys_tui.core.search import QuerySearch, Searcher

    core = {}
    with Searcher(big_db) as searcher:
        for word in WORDS_SEARCHED:
            request = QuerySearch(
                word,
                run_id=RUN_ID,
                mode="keyword",
                n_results=50,
                summary_run_id=PASS_ID,
                hierarchy_run_id=HIER_ID,
                snippet_chars=200,
            )
            searcher.search_queries(request)  # warm
            t0 = time.perf_counter()
            searcher.search_queries(request)
            core[word] = (time.perf_counter() - t0) * 1000
    app = _app(big_db)
    latencies = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await _poll(lambda: hasattr(app.screen, "tree") and app.screen.tree.nodes_by_id)
        screen = app.screen
        screen.search_defaults["mode"] = "keyword"
        await pilot.press("slash")
        await pilot.pause()
        for word in WORDS_SEARCHED:
            await pilot.press("ctrl+a", "ctrl+k")
            await pilot.pause(0.4)
            await pilot.press(*word)
            t0 = time.perf_counter()
            await _poll(lambda w=word: screen.search_panel.hits_for == w)
            await _painted(app)
            latencies[word] = (time.perf_counter() - t0) * 1000
        counted = len(screen.tree.hits)
    ui = {w: latencies[w] - core[w] for w in WORDS_SEARCHED}
    print(
        "\nsearch shown after the last keystroke (keyword, 1M):"
        + "".join(
            f"\n  {w!r:20} shown {latencies[w]:6.0f} ms = core {core[w]:6.0f} ms"
            f" + debounce and TUI {ui[w]:4.0f} ms"
            for w in WORDS_SEARCHED
        )
        + f"\n  median shown {statistics.median(latencies.values()):.0f} ms;"
        f" tree nodes with hits after the last one: {counted}"
    )
    # the TUI's share (debounce + worker + painting) must leave the core its time
    assert statistics.median(ui.values()) <= 300
    assert statistics.median(latencies.values()) <= 300


@pytest.mark.anyio
async def test_no_event_loop_stall_while_an_embedding_job_runs(tmp_path: Path) -> None:
    from lmsys_tui.config import Settings
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources import sharegpt
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.tui import jobspecs
    from lmsys_tui.tui.app import LmsysApp
    from lmsys_tui.tui.screens.pipeline import PipelineScreen

    db = tmp_path / "queries.db"
    store = open_store(db)
    run_load(store, sharegpt.read(), sharegpt.info(), limit=1500)
    store.close()
    # a home kept between runs: the ONNX export of the model (once per machine) is not the
    # stage being measured; the first run reports it as model loading
    bench_home = Path(tempfile.gettempdir()) / "lmsys-tui-bench-home"
    settings = Settings(home=bench_home, db_path=db)
    app = LmsysApp(settings)
    app.animation_level = "none"
    ticks: list[float] = []
    first_batch: float | None = None
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # as a user does it: the pipeline screen is open (and painted) before the job starts;
        # opening it is a screen push of its own, timed apart
        t0 = time.perf_counter()
        app.action_pipeline()
        await _poll(lambda: isinstance(app.screen, PipelineScreen) and app.screen.is_mounted)
        await _painted(app)
        opened = time.perf_counter() - t0
        await pilot.pause(0.2)
        app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        job = app.start_job(jobspecs.embed(settings))
        while job.active:
            if first_batch is None and job.done > 0:
                first_batch = time.perf_counter()  # the model is loaded, batches are flowing
            await asyncio.sleep(0.01)
        await pilot.pause()
    assert job.status == "done", job.log
    assert first_batch is not None
    pairs = list(itertools.pairwise(ticks))
    load_gaps = [b - a for a, b in pairs if b <= first_batch]
    enc_gaps = [b - a for a, b in pairs if a >= first_batch]
    print(
        f"\nembedding job ({job.result.get('embedded')} texts, {job.elapsed(app.clock()):.1f}s,"
        f" model loaded in {first_batch - ticks[0]:.1f}s): largest gap between 10 ms ticks"
        f" {max(enc_gaps) * 1000:.0f} ms while encoding (median"
        f" {statistics.median(enc_gaps) * 1000:.1f} ms, {len(enc_gaps)} ticks),"
        f" {max(load_gaps or [0]) * 1000:.0f} ms while the model loads; opening the pipeline"
        f" screen before it: {opened * 1000:.0f} ms"
    )
    assert max(enc_gaps) <= 0.05
    assert max(load_gaps or [0]) <= 0.05
