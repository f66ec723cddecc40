"""The search core: one `Searcher` per store, reused across searches (the TUI keeps one).

A search runs in steps (resolve the run and its space, filters -> population, embed the text,
rank, hydrate the hits, count facets) and checks `cancelled()` between them, raising
`Cancelled`, so a live search that the user has already typed past stops early. Results are
plain dataclasses (types.py); the CLI turns them into the reference JSON.

The Searcher reads the store through one read-only stdlib connection it keeps
(`sql.shared_reader`: no SQLAlchemy), keeps vectors and populations in memory while the store is
unchanged (`PRAGMA data_version`), and is safe to call from worker threads (one search at a time
per Searcher).

Over 450 lines (~550) on purpose: the steps are methods of one class because they share its reader
connection, its caches and its interrupt flag; split into modules they would pass that state
around. What does not need it lives beside it (requests, filters, facets, keyword, semantic,
hybrid).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.read import runs, tree
from lmsys_tui.core.search import facets as facet_counts
from lmsys_tui.core.search import filters as flt
from lmsys_tui.core.search import keyword
from lmsys_tui.core.search.hybrid import rrf
from lmsys_tui.core.search.requests import validate
from lmsys_tui.core.search.semantic import (
    EXACT_MAX,
    ChromaRanker,
    ExactRanker,
    Ranked,
    VectorCache,
)
from lmsys_tui.core.search.types import (
    ClusterHit,
    ClusterSearch,
    ClusterSearchResult,
    Matched,
    QueryHit,
    QuerySearch,
    QuerySearchResult,
)
from lmsys_tui.core.store import sql
from lmsys_tui.errors import Cancelled, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, never_cancelled

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.embed.space import Space


def _check(cancelled: CancelCheck) -> None:
    if cancelled():
        raise Cancelled("search cancelled")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """A statement aborted by `Searcher.interrupt` ends the search as cancelled."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise Cancelled("search replaced by a newer one") from exc
        raise


class Searcher:
    """Searches one store. `interactive`: a long-lived process (TUI) that keeps every vector of
    a space in memory and may use Chroma; a one-shot CLI process ranks exactly (semantic.py)."""

    def __init__(
        self,
        db_path: Path,
        *,
        chroma_path: Path | None = None,
        chroma_host: str | None = None,
        chroma_port: int | None = None,
        interactive: bool = True,
        backend: str = "auto",
    ) -> None:
        self.db_path = Path(db_path)
        self.interactive = interactive
        self.backend = backend  # embedding backend for query texts (encoders.BACKENDS)
        self.cache = VectorCache(self.db_path)
        self.exact = ExactRanker(self.cache, keep_full=interactive)
        self.chroma = ChromaRanker(chroma_path, chroma_host, chroma_port)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._memo: dict[str, Any] = {}
        self._memo_token: tuple[int, ...] | None = None

    # -- plumbing -------------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sql.shared_reader(self.db_path)
        return self._conn

    def interrupt(self) -> None:
        """Abort the statement another thread's search is running (called when a newer
        search replaces it: a keyword search over 100k+ matches can take a few hundred ms);
        that search raises `Cancelled`. Nothing happens when no statement runs."""
        conn = self._conn
        if conn is not None:
            conn.interrupt()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self.cache.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refresh(self) -> None:
        self.cache.refresh()
        token = self.cache._token
        if token != self._memo_token:
            self._memo.clear()
            self._memo_token = token

    def _memoised(self, key: str, make: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # -- shared steps ---------------------------------------------------------------------------

    def run_info(self, run_id: str) -> tuple[dict[str, Any], Space]:
        """The finished run and its embedding space (search never leaves the run's space)."""
        from lmsys_tui.core.embed.space import Space

        run = runs.get_run(self.conn(), run_id)
        provider, model, dim = (
            run["embedding_provider"],
            run["embedding_model"],
            run["embedding_dim"],
        )
        if not provider or not model or not dim:
            raise UsageError(f"run {run_id!r} does not record its embedding space")
        return run, Space(str(provider), str(model), int(dim))

    def summary_pass(
        self, run_id: str, summary_run_id: str | None, alias: str | None
    ) -> str | None:
        found = runs.summary_pass(self.conn(), run_id, summary_run_id, alias)
        return str(found["summary_run_id"]) if found else None

    def embed(self, space: Space, text: str) -> np.ndarray:
        from lmsys_tui.core.embed import embed_texts

        return embed_texts(space, [text], backend=self.backend)[0]

    def _latest_run(self) -> str:
        row = (
            self.conn()
            .execute(
                "SELECT run_id FROM clustering_runs WHERE status = 'done'"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1"
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError("no finished clustering run in the store (run `cluster` first)")
        return str(row[0])

    # -- search-cluster -------------------------------------------------------------------------

    def search_clusters(
        self, req: ClusterSearch, cancelled: CancelCheck = never_cancelled
    ) -> ClusterSearchResult:
        """The run's clusters nearest to the text, inside one summary pass (clusters.py)."""
        from dataclasses import replace

        from lmsys_tui.core.search.clusters import rank_clusters

        started = time.perf_counter()
        if not req.text or not req.text.strip():
            raise UsageError("the search text is empty")
        sql.require_positive(top_k=req.top_k)
        with self._lock, _interruptible():
            self._refresh()
            run_id = req.run_id or self._latest_run()
            _, space = self.run_info(run_id)
            srid = self.summary_pass(run_id, req.summary_run_id, req.alias)
            _check(cancelled)
            qvec = self.embed(space, req.text)
            _check(cancelled)
            hits = rank_clusters(
                self.db_path, self.conn(), space, run_id, srid, qvec, req.top_k, self.backend
            )
        return ClusterSearchResult(
            request=replace(req, run_id=run_id),
            hits=hits,
            source="summaries" if srid else "centroids",
            summary_run_id=srid,
            space=space.to_dict(),
            seconds=round(time.perf_counter() - started, 4),
        )

    # -- search (queries) -----------------------------------------------------------------------

    def prepare(self, run_id: str) -> Space:
        """Read what any search of the run needs first (the run, its space, its population's
        size: ~70 ms at 1M queries), so the first search a user types is as fast as the rest."""
        with self._lock:
            self._refresh()
            _, space = self.run_info(run_id)
            self._population_size(flt.Filters(run_id=run_id))
            self._population_size(flt.Filters())
        return space

    def keyword_counts(self, text: str, run_id: str) -> dict[int, int]:
        """Every keyword match of `text` among the run's queries, counted per cluster (the
        explorer's per-node counts; a search's hits are only the best few of them)."""
        with self._lock, _interruptible():
            self._refresh()
            self.run_info(run_id)
            filters = flt.Filters(run_id=run_id)
            narrowing = self._narrowing(filters, self._population_size(filters))
            set_sql, set_args = keyword.match_set_sql(text, narrowing)
            rows = facet_counts.count(self.conn(), "cluster", set_sql, set_args, run_id)
        return {int(k): n for k, n in rows}

    def search_queries(
        self, req: QuerySearch, cancelled: CancelCheck = never_cancelled
    ) -> QuerySearchResult:
        """Ranked queries, applied clusters and exact facets (see the module docstring)."""
        from lmsys_tui.core.search.clusters import rank_clusters

        started = time.perf_counter()
        validate(req)
        with self._lock, _interruptible():
            self._refresh()
            conn = self.conn()
            srid = None
            if req.run_id is not None:
                _, space = self.run_info(req.run_id)
                srid = self.summary_pass(req.run_id, req.summary_run_id, req.alias)
            else:
                space = default_space(req.embedding_provider, req.embedding_model)
            dataset_id = flt.dataset_id(conn, req.dataset)
            if req.cluster_ids is not None:
                flt.check_clusters(conn, req.run_id, req.cluster_ids)
            nodes = self._node_paths(req) if req.hierarchy_run_id else {}
            _check(cancelled)
            applied: list[ClusterHit] = []
            cluster_ids = req.cluster_ids
            if req.within_clusters and req.run_id is not None:
                wvec = self.embed(space, req.within_clusters)
                _check(cancelled)
                applied = rank_clusters(
                    self.db_path, conn, space, req.run_id, srid, wvec, req.top_clusters,
                    self.backend,
                )  # fmt: skip
                if cluster_ids is None:  # explicit --cluster-ids win, as in the reference
                    cluster_ids = tuple(c.cluster_id for c in applied)
            filters = flt.Filters(
                run_id=req.run_id,
                cluster_ids=cluster_ids,
                languages=req.languages,
                models=req.models,
                dataset_id=dataset_id,
            )
            population = self._population_size(filters)
            _check(cancelled)
            k = max(req.n_candidates, req.n_results)
            sem: Ranked | None = None
            qvec = None
            if req.mode in ("semantic", "hybrid"):
                qvec, sem = self._semantic(
                    space, req.text, k, filters, population, req.engine, cancelled
                )
                _check(cancelled)
            kw: list[tuple[int, float]] = []
            if req.mode == "keyword" or (req.mode == "hybrid" and keyword.has_words(req.text)):
                kw = keyword.ranked(conn, req.text, self._narrowing(filters, population), k)
                _check(cancelled)
            hits, matched, set_sql, set_args = self._assemble(
                req, space, qvec, sem, kw, filters, population
            )
            _check(cancelled)
            self._hydrate(hits, req, nodes)
            groups = list(dict.fromkeys([*req.facets, *([req.by] if req.by else [])]))
            counts = (
                facet_counts.buckets(conn, groups, set_sql, set_args, req.run_id, srid)
                if groups
                else {}
            )
        return QuerySearchResult(
            request=req,
            hits=hits,
            applied_clusters=applied,
            facets=counts,
            matched=matched,
            space=space.to_dict(),
            summary_run_id=srid,
            seconds=round(time.perf_counter() - started, 4),
        )

    def _population_size(self, filters: flt.Filters) -> int:
        key = f"count:{filters!r}"
        if not filters.any:
            query, args = "SELECT COUNT(*) FROM queries", []
        else:
            query, args = filters.population_sql("count")
        return int(self._memoised(key, lambda: self.conn().execute(query, args).fetchone()[0]))

    def _narrowing(self, filters: flt.Filters, population: int) -> flt.Filters:
        """The filters, or none when they pass every query: a run over the whole store (the
        usual case) filters nothing, and joining 100k keyword matches to its membership only
        to keep them all took most of a keyword search's time at 1M queries."""
        if filters.any and population == self._population_size(flt.Filters()):
            return flt.Filters()
        return filters

    def _population_ids(self, filters: flt.Filters) -> np.ndarray:
        key = f"ids:{filters!r}"
        return self._memoised(key, lambda: flt.population(self.conn(), filters))

    def _plan(
        self, space: Space, filters: flt.Filters, population: int, engine: str
    ) -> tuple[bool, np.ndarray | None, str, int]:
        """(use Chroma, allowed ids or None for all, cache key, Chroma's count)."""
        everything = not self._narrowing(filters, population).any
        allowed = None if everything else self._population_ids(filters)
        key = repr(filters)  # a frozen dataclass: every field, in order
        use_chroma = engine == "chroma" or (
            engine == "auto" and self.interactive and population > EXACT_MAX
        )
        total = 0
        if use_chroma:
            total = self.chroma.count(space)
            if engine == "chroma" and total == 0:
                from lmsys_tui.core.store.vectors import queries_collection_name

                raise NotFoundError(
                    f"no Chroma collection {queries_collection_name(space)} with vectors for"
                    f" {space.key}; run backfill-chroma"
                )
            use_chroma = total >= population or engine == "chroma"
        return use_chroma, allowed, key, total

    def _semantic(
        self,
        space: Space,
        text: str,
        k: int,
        filters: flt.Filters,
        population: int,
        engine: str,
        cancelled: CancelCheck,
    ) -> tuple[np.ndarray, Ranked]:
        """Embed the text and rank; the exact engine's vectors load while the text embeds."""
        use_chroma, allowed, key, total = self._plan(space, filters, population, engine)
        loader = None
        if not use_chroma:
            loader = _Background(lambda: self.exact.prepare(space, key, allowed))
        try:
            qvec = self.embed(space, text)
        finally:
            if loader is not None:
                loader.join()
        _check(cancelled)
        if use_chroma:
            got = self.chroma.rank(space, qvec, k, allowed, total, cancelled)
            if got is not None:
                return qvec, got
        return qvec, self.exact.rank(space, qvec, k, key, allowed)

    def _assemble(
        self,
        req: QuerySearch,
        space: Space,
        qvec: np.ndarray | None,
        sem: Ranked | None,
        kw: list[tuple[int, float]],
        filters: flt.Filters,
        population: int,
    ) -> tuple[list[QueryHit], Matched, str, list[Any]]:
        """Order the hits per mode and name the matched set the counts cover."""
        engine = sem.engine if sem is not None else None
        if req.mode == "semantic":
            assert sem is not None
            ids, dist = sem.ids.tolist(), sem.distances.tolist()
            hits = [
                _hit(i, round(d, 6), -d) for i, d in zip(ids[: req.n_results], dist, strict=False)
            ]
            set_sql, set_args = facet_counts.id_list_sql(ids)
            matched = Matched(
                "semantic",
                "nearest",
                len(ids),
                population,
                engine,
                f"the {len(ids):,} queries nearest to the text (--n-candidates) among the"
                f" {population:,} that pass the filters; {sem.searched:,} of those have a vector",
            )
        elif req.mode == "keyword":
            narrowing = self._narrowing(filters, population)
            set_sql, set_args = keyword.match_set_sql(req.text, narrowing)
            total = keyword.count(self.conn(), req.text, narrowing)
            hits = [_hit(i, None, -r) for i, r in kw[: req.n_results]]
            matched = Matched(
                "keyword",
                "keyword_matches",
                total,
                population,
                None,
                f"every query among the {population:,} that pass the filters whose text"
                f" contains all the words ({total:,})",
            )
        else:
            assert sem is not None and qvec is not None
            sem_ids = sem.ids.tolist()
            fused = rrf([sem_ids, [i for i, _ in kw]])
            known = dict(zip(sem_ids, sem.distances.tolist(), strict=True))
            top = fused[: req.n_results]
            missing = [i for i, _ in top if i not in known]
            if missing:
                known.update(self._distances(space, qvec, missing))
            hits = [_hit(i, round(known[i], 6) if i in known else None, score) for i, score in top]
            union = [i for i, _ in fused]
            set_sql, set_args = facet_counts.id_list_sql(union)
            matched = Matched(
                "hybrid",
                "fused",
                len(union),
                population,
                engine,
                f"the union of the {len(sem_ids):,} nearest queries and the {len(kw):,} best"
                f" keyword matches (--n-candidates each) among the {population:,} that pass"
                " the filters",
            )
        return hits, matched, set_sql, set_args

    def _distances(self, space: Space, qvec: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Cosine distances of a few queries (keyword-only hits of a hybrid search)."""
        import numpy as np

        from lmsys_tui.core.search.semantic import load_population

        got, matrix = load_population(self.db_path, space, np.asarray(sorted(ids), np.int64))
        return {
            int(i): float(d)
            for i, d in zip(got.tolist(), (1.0 - matrix @ qvec).tolist(), strict=True)
        }

    def _hydrate(self, hits: list[QueryHit], req: QuerySearch, nodes: dict[int, tuple]) -> None:
        if not hits:
            return
        conn = self.conn()
        wanted = sql.id_list(h.query_id for h in hits)
        rows = {
            int(r[0]): r[1:]
            for r in conn.execute(
                "SELECT q.id, substr(q.query_text, 1, ?), length(q.query_text) > ?, q.model,"
                f" q.language FROM queries q WHERE q.id {sql.IN_IDS}",
                (req.snippet_chars, req.snippet_chars, wanted),
            )
        }
        clusters: dict[int, int] = {}
        if req.run_id is not None:
            # driven by the hit list (CROSS JOIN keeps that order): a lookup per hit in the
            # (run_id, query_id) key; with `IN` SQLite scanned the run's whole membership index
            # (90 ms at 100k queries, cold)
            clusters = {
                int(q): int(c)
                for q, c in conn.execute(
                    f"SELECT qc.query_id, qc.cluster_id FROM ({sql.ID_TABLE}) m"
                    " CROSS JOIN query_clusters qc WHERE qc.run_id = ? AND qc.query_id = m.id",
                    (wanted, req.run_id),
                )
            }
        for hit in hits:
            snippet, clipped, model, language = rows.get(hit.query_id, ("", False, None, None))
            hit.snippet = (snippet or "") + ("…" if clipped else "")
            hit.model, hit.language = model, language
            hit.cluster_id = clusters.get(hit.query_id)
            if hit.cluster_id is not None:
                hit.nodes = nodes.get(hit.cluster_id, (hit.cluster_id,) if nodes else ())

    def _node_paths(self, req: QuerySearch) -> dict[int, tuple[int, ...]]:
        """Cluster id -> hierarchy node ids from the cluster (level 0) up to its root."""
        assert req.run_id is not None and req.hierarchy_run_id is not None  # validate() said so
        conn = self.conn()
        return tree.leaf_paths(conn, runs.get_hierarchy(conn, req.run_id, req.hierarchy_run_id))


class _Background:
    """Run a function in a thread; `join` waits and re-raises what it raised."""

    def __init__(self, fn: Any) -> None:
        self._error: BaseException | None = None

        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed to the caller by join()
                self._error = exc

        self._thread = threading.Thread(target=run, name="search-vectors", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def default_space(provider: str | None, model: str | None) -> Space:
    """The space of a search without a run: the default, or the one named (the reference's
    `--embedding-model provider/model` form included)."""
    from lmsys_tui.core.embed.space import PROVIDERS, resolve_space

    if model and "/" in model and provider is None:
        head, tail = model.split("/", 1)
        if head in PROVIDERS:
            provider, model = head, tail
    return resolve_space(provider or "sentence-transformers", model)


def _hit(query_id: int, distance: float | None, score: float) -> QueryHit:
    return QueryHit(
        query_id=int(query_id),
        distance=distance,
        snippet="",
        model=None,
        language=None,
        cluster_id=None,
        score=float(score),
    )
