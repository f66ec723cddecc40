"""The summarize stage: a title, a two-sentence description and a coherence score per cluster.

What it fixes in the reference: summaries are saved one by one as they arrive (a failure loses
nothing, and a cluster that still fails after retries is recorded as failed while the pass goes
on); `--rpm` and `--concurrency` are enforced by the LLM layer; contrastive examples come from
the clusters *nearest* by centroid, and the prompt says what they are; `--resume` continues a
pass, and identical prompts are answered from the ledger, so nothing is paid twice.

The sample sent per cluster is half its most central members (by distance to the centroid) and
half a seeded, distance-stratified draw of the rest (so the rim is seen too), interleaved and
cut by a token budget. With no key the offline summariser (c-TF-IDF) does the same job.
"""

from __future__ import annotations

import asyncio
import html
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from lmsys_tui.core.summarize_options import SummarizeOptions
from lmsys_tui.errors import Cancelled, LmsysError, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.llm.clients import ModelSpec
    from lmsys_tui.core.store.db import Store

STAGE = "summarize"
CHARS_PER_TOKEN = 4  # rough estimate for budgeting; the ledger records the real counts
INCOHERENT_PREFIXES = ("Mixed:", "Miscellaneous:")
SYSTEM_PROMPT = (
    "You summarise clusters of requests that users sent to AI assistants, for an aggregate, "
    "privacy-preserving study of how people use them (in the manner of Anthropic's Clio). "
    "Describe the shared task or topic; never repeat names, e-mail addresses or other details "
    "that could identify a person."
)


class ClusterSummaryAnswer(BaseModel):
    """The structured answer asked of the model for one cluster."""

    title: str = Field(description="At most 10 words naming what the requests have in common.")
    description: str = Field(description="Exactly two sentences.")
    coherence: int = Field(ge=1, le=5, description="1 = unrelated requests, 5 = one clear task.")


@dataclass
class SummarizeResult:
    summary_run_id: str
    run_id: str
    alias: str | None
    model: str
    status: str
    clusters: int  # clusters this invocation worked on
    done: int
    failed: int
    skipped: int  # already done in the pass being resumed
    llm: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    chroma: dict[str, Any] | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


# ----------------------------------------------------------------------------- store reads


def _raw(store: Store) -> Any:
    return store.engine.raw_connection()


def _fetch(store: Store, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    raw = _raw(store)
    try:
        return raw.cursor().execute(sql, args).fetchall()
    finally:
        raw.close()


def load_run(store: Store, run_id: str) -> dict[str, Any]:
    rows = _fetch(
        store,
        "SELECT run_id, algorithm, num_clusters, embedding_provider, embedding_model,"
        " embedding_dim, status FROM clustering_runs WHERE run_id = ?",
        (run_id,),
    )
    if not rows:
        raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")
    keys = [
        "run_id",
        "algorithm",
        "num_clusters",
        "embedding_provider",
        "embedding_model",
        "embedding_dim",
        "status",
    ]
    return dict(zip(keys, rows[0], strict=True))


@dataclass
class ClusterRow:
    cluster_id: int
    size: int
    centroid: bytes | None
    keywords: list[str]


def load_clusters(store: Store, run_id: str) -> list[ClusterRow]:
    import json

    rows = _fetch(
        store,
        "SELECT cluster_id, size, centroid, keywords FROM clusters WHERE run_id = ?"
        " ORDER BY cluster_id",
        (run_id,),
    )
    out = []
    for cid, size, centroid, keywords in rows:
        kw = json.loads(keywords) if isinstance(keywords, str) else (keywords or [])
        out.append(ClusterRow(int(cid), int(size or 0), centroid, [str(k) for k in kw]))
    return out


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


def member_ranking(store: Store, run_id: str, cluster_id: int) -> list[int]:
    """Query ids of a cluster, most central first (distance, else confidence, then id)."""
    rows = _fetch(
        store,
        "SELECT query_id, distance, confidence_score FROM query_clusters"
        " WHERE run_id = ? AND cluster_id = ?",
        (run_id, cluster_id),
    )

    def key(r: tuple[Any, ...]) -> tuple[float, float, int]:
        dist = r[1] if r[1] is not None else math.inf
        conf = -(r[2] if r[2] is not None else 0.0)
        return (dist, conf, r[0])

    return [r[0] for r in sorted(rows, key=key)]


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


def fetch_texts(store: Store, ids: list[int], clip: int) -> dict[int, tuple[str, str]]:
    """id -> (text cut to `clip` chars in SQL, text hash)."""
    import json

    if not ids:
        return {}
    rows = _fetch(
        store,
        "SELECT q.id, substr(q.query_text, 1, ?), q.text_hash FROM queries q"
        " JOIN json_each(?) j ON q.id = j.value",
        (clip, json.dumps(ids)),
    )
    return {r[0]: (r[1], r[2]) for r in rows}


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
    by_id = {c.cluster_id: c for c in clusters}
    neighbours = nearest_neighbours(clusters, opts.contrast_neighbors)
    ranking: dict[int, list[int]] = {}
    needed = set(todo) | {n for cid in todo for n, _ in neighbours.get(cid, [])}
    for cid in sorted(needed):
        ranking[cid] = member_ranking(store, run_id, cid)
    jobs = []
    for cid in todo:
        if cancelled():
            raise Cancelled("summarize cancelled while sampling; nothing was asked yet")
        ids = sample_ids(ranking[cid], opts.max_queries, f"{opts.seed}:{run_id}:{cid}")
        texts = fetch_texts(store, ids, opts.max_query_chars)
        sample = budgeted(ids, texts, opts.token_budget)
        contrast = []
        for nid, sim in neighbours.get(cid, []):
            nids = ranking[nid][: opts.contrast_examples * 3]
            ntexts = fetch_texts(store, nids, min(opts.max_query_chars, 400))
            examples = budgeted(nids, ntexts, opts.token_budget // 4)[: opts.contrast_examples]
            if examples:
                contrast.append((nid, sim, examples))
        jobs.append(Job(cid, by_id[cid].size, sample, contrast, by_id[cid].keywords))
    return jobs


# ----------------------------------------------------------------------------- prompts


def _esc(text: str) -> str:
    """Query text inside tags: escaped so a query cannot close or fake a tag."""
    return html.escape(text, quote=False)


def build_messages(job: Job, clip: int) -> list[dict[str, str]]:
    n = len(job.sample)
    parts = [
        f"Below are {n} requests from one cluster of {job.size} (the most central first, "
        f"alternating with a varied sample of the rest). Texts longer than {clip} characters "
        "are cut.",
        "",
        f'<cluster_queries count="{n}">',
        *(f"<query>{_esc(t)}</query>" for t in job.sample),
        "</cluster_queries>",
    ]
    if job.contrast:
        parts += [
            "",
            f"For contrast, here are requests from the {len(job.contrast)} other clusters whose "
            "centroids are nearest to this one. They are NOT part of this cluster: use them only "
            "to make the title and description say what sets this cluster apart.",
            "<contrast_clusters>",
        ]
        for rank, (_nid, sim, examples) in enumerate(job.contrast, start=1):
            parts.append(f'<contrast_cluster rank="{rank}" similarity="{sim:.2f}">')
            parts += [f"<query>{_esc(t)}</query>" for t in examples]
            parts.append("</contrast_cluster>")
        parts.append("</contrast_clusters>")
    parts += [
        "",
        "Answer with:",
        "- title: at most 10 words naming what these requests have in common, specific enough "
        'to tell this cluster from its neighbours (e.g. "Debugging pandas DataFrame merges"). '
        'If they share no clear theme, start the title with "Mixed:" or "Miscellaneous:".',
        "- description: exactly two sentences on what users asked for and what distinguishes "
        "this cluster from the contrast clusters.",
        "- coherence: 1-5, how well the requests share one theme (5 = all the same kind of task, "
        "1 = unrelated requests).",
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(parts)},
    ]


def clean_answer(answer: ClusterSummaryAnswer) -> tuple[str, str, int]:
    """Normalise the model's answer; an incoherent cluster's title always says so."""
    title = " ".join(answer.title.split()).strip(" .\"'")[:200] or "Untitled"
    description = " ".join(answer.description.split())[:2000]
    coherence = min(5, max(1, int(answer.coherence)))
    if coherence <= 2 and not title.startswith(INCOHERENT_PREFIXES):
        title = f"Mixed: {title}"
    return title, description, coherence


# ----------------------------------------------------------------------------- pass rows


def _now() -> datetime:
    return datetime.now(UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()[:40] or "model"


def new_pass_id(store: Store, model: str) -> str:
    base = f"summary-{_slug(model.split('/', 1)[-1])}-{_now():%Y%m%d-%H%M%S}"
    taken = {
        r[0]
        for r in _fetch(
            store,
            "SELECT summary_run_id FROM summary_runs WHERE summary_run_id LIKE ?",
            (base + "%",),
        )
    }
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def save_summary(
    store: Store,
    run_id: str,
    summary_run_id: str,
    alias: str | None,
    model: str,
    job: Job,
    *,
    title: str | None,
    description: str | None,
    coherence: int | None,
    params: dict[str, Any],
    error: str | None = None,
) -> None:
    """Commit one cluster's summary (or its failure) now, replacing an earlier attempt.

    Plain SQL on the engine's connection (the ORM costs ~2 ms a row on the event loop's GIL).
    """
    import json

    from lmsys_tui.core.store.models import db_timestamp

    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "DELETE FROM cluster_summaries WHERE summary_run_id = ? AND cluster_id = ?",
            (summary_run_id, job.cluster_id),
        )
        cur.execute(
            "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, alias, title,"
            " description, summary, coherence, num_queries, representative_queries, model,"
            " parameters, status, error, generated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                job.cluster_id,
                summary_run_id,
                alias,
                title,
                description,
                description,
                coherence,
                job.size,
                json.dumps(job.representative(), ensure_ascii=False),
                model,
                json.dumps(params, ensure_ascii=False),
                "done" if error is None else "failed",
                error,
                db_timestamp(_now()),
            ),
        )
        raw.commit()
    finally:
        raw.close()


def _finish_pass(
    store: Store, summary_run_id: str, status: str, error: str | None, result: dict[str, Any]
) -> None:
    from lmsys_tui.core.store.models import SummaryRun

    with store.session() as session:
        row = session.get(SummaryRun, summary_run_id)
        if row is None:
            return
        row.status = status
        row.error = error
        row.finished_at = _now()
        row.parameters = {**(row.parameters or {}), "last_result": result}
        session.add(row)
        session.commit()


def _open_pass(
    store: Store, run_id: str, opts: SummarizeOptions, spec: ModelSpec
) -> tuple[str, str | None, SummarizeOptions, set[int]]:
    """Create the pass row, or reopen the one named by --resume; returns done cluster ids."""
    from lmsys_tui.core.store.models import SummaryRun

    with store.session() as session:
        if opts.resume:
            row = session.get(SummaryRun, opts.resume)
            if row is None:
                raise NotFoundError(f"no summary pass {opts.resume!r} to resume")
            if row.run_id != run_id:
                raise UsageError(f"summary pass {opts.resume!r} belongs to run {row.run_id!r}")
            saved = dict(row.parameters or {})
            for key in SummarizeOptions().content_params():
                if key in saved:
                    setattr(opts, key, saved[key])
            opts.model = row.model
            row.status, row.error, row.finished_at = "running", None, None
            session.add(row)
            session.commit()
            done = {
                r[0]
                for r in _fetch(
                    store,
                    "SELECT cluster_id FROM cluster_summaries WHERE summary_run_id = ?"
                    " AND status = 'done'",
                    (row.summary_run_id,),
                )
            }
            return row.summary_run_id, row.alias, opts, done
        srid = opts.summary_run_id or new_pass_id(store, spec.model)
        if session.get(SummaryRun, srid) is not None:
            raise UsageError(f"summary pass {srid!r} exists; continue it with --resume {srid}")
        session.add(
            SummaryRun(
                summary_run_id=srid,
                run_id=run_id,
                alias=opts.alias,
                model=spec.model,
                parameters=opts.content_params(),
            )
        )
        session.commit()
    return srid, opts.alias, opts, set()


# ----------------------------------------------------------------------------- the stage


def run_summarize(
    store: Store,
    run_id: str,
    opts: SummarizeOptions | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> SummarizeResult:
    """Summarise the run's clusters into one summary pass (new, or resumed)."""
    from lmsys_tui.core.llm.clients import resolve_model

    opts = opts or SummarizeOptions()
    opts.check()
    started = time.perf_counter()
    load_run(store, run_id)
    if opts.use_chroma:
        # fail before paying for anything: the run must record a space, Chroma must open
        from lmsys_tui.core.store.vectors import open_chroma

        run_row = load_run(store, run_id)
        if not run_row["embedding_dim"]:
            raise UsageError(f"run {run_id!r} records no embedding space: --use-chroma needs it")
        open_chroma(opts.chroma_path, opts.chroma_host, opts.chroma_port)
    if opts.resume:
        row = _fetch(
            store, "SELECT model FROM summary_runs WHERE summary_run_id = ?", (opts.resume,)
        )
        if not row:
            raise NotFoundError(f"no summary pass {opts.resume!r} to resume")
        opts.model = row[0][0]
    spec = resolve_model(opts.model, opts.base_url)
    clusters = load_clusters(store, run_id)
    if not clusters:
        raise UsageError(f"run {run_id!r} has no clusters")
    srid, alias, opts, done_before = _open_pass(store, run_id, opts, spec)
    known = {c.cluster_id for c in clusters}
    wanted = opts.cluster_ids or [c.cluster_id for c in clusters if c.cluster_id >= 0]
    missing = [c for c in wanted if c not in known]
    if missing:
        _finish_pass(store, srid, "failed", f"no cluster {missing[0]} in run", {})
        raise NotFoundError(f"run {run_id!r} has no cluster {missing[0]}")
    todo = [c for c in wanted if c not in done_before]
    result = SummarizeResult(
        srid, run_id, alias, spec.model, "running", len(todo), 0, 0, len(wanted) - len(todo)
    )
    try:
        progress(0, len(todo), "sampling")
        phase = time.perf_counter()
        jobs = build_jobs(store, run_id, clusters, todo, opts, cancelled)
        result.timings["sampling"] = round(time.perf_counter() - phase, 3)
        phase = time.perf_counter()
        if spec.offline:
            _offline_pass(store, run_id, srid, alias, jobs, result, progress, cancelled)
        else:
            asyncio.run(
                _llm_pass(store, run_id, srid, alias, spec, jobs, opts, result, progress, cancelled)
            )
        result.timings["offline" if spec.offline else "llm"] = round(time.perf_counter() - phase, 3)
    except Cancelled as exc:
        result.status = "cancelled"
        result.seconds = round(time.perf_counter() - started, 3)
        _finish_pass(store, srid, "cancelled", exc.message, result.to_dict())
        raise
    except KeyboardInterrupt:
        result.status = "cancelled"
        _finish_pass(store, srid, "cancelled", "interrupted", result.to_dict())
        raise
    except Exception as exc:
        message = exc.message if isinstance(exc, LmsysError) else f"{type(exc).__name__}: {exc}"
        result.status = "failed"
        _finish_pass(store, srid, "failed", message, result.to_dict())
        raise
    if opts.use_chroma:
        result.chroma = index_summaries(
            store,
            run_id,
            srid,
            chroma_path=opts.chroma_path,
            chroma_host=opts.chroma_host,
            chroma_port=opts.chroma_port,
            backend=opts.embed_backend,
        )
    result.seconds = round(time.perf_counter() - started, 3)
    result.status = "done"
    error = None
    if result.failed:
        error = f"{result.failed} of {len(wanted)} clusters failed; retry them with --resume {srid}"
    result.message = error or (
        f"summarised {result.done} clusters into pass {srid}"
        + (f" ({result.skipped} were already done)" if result.skipped else "")
    )
    _finish_pass(store, srid, "done", error, result.to_dict())
    return result


def index_summaries(
    store: Store,
    run_id: str,
    summary_run_id: str,
    *,
    chroma_path: str | None = None,
    chroma_host: str | None = None,
    chroma_port: int | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Embed the pass's summaries in the run's space and upsert them into Chroma.

    One document per run + cluster + summary pass (so passes never overwrite each other),
    title + description embedded through the embedding store (each text once), metadata as
    `verify sync` expects it. Failed clusters have nothing to index.
    """
    import numpy as np

    from lmsys_tui.core.embed import Space
    from lmsys_tui.core.search.clusters import doc_vectors
    from lmsys_tui.core.store import vectors

    run = load_run(store, run_id)
    if not (run["embedding_provider"] and run["embedding_model"] and run["embedding_dim"]):
        raise UsageError(f"run {run_id!r} records no embedding space: nothing to embed in")
    space = Space(str(run["embedding_provider"]), str(run["embedding_model"]),
                  int(run["embedding_dim"]))  # fmt: skip
    _, rows = summaries_for_pass(store, run_id, summary_run_id=summary_run_id)
    sizes = {c.cluster_id: c.size for c in load_clusters(store, run_id)}
    ids, docs, metas = [], [], []
    for cid, row in rows.items():
        document = vectors.summary_document(row["title"], row["description"])
        if row["status"] != "done" or not document:
            continue
        meta = {
            "run_id": run_id,
            "cluster_id": int(cid),
            "summary_run_id": summary_run_id,
            "alias": row["alias"],
            "title": row["title"],
            "description": row["description"],
            "num_queries": int(sizes.get(cid, row["num_queries"] or 0)),
        }
        ids.append(vectors.summary_doc_id(run_id, cid, summary_run_id))
        docs.append(document)
        metas.append({k: v for k, v in meta.items() if v is not None})
    client = vectors.open_chroma(chroma_path, chroma_host, chroma_port)
    collection = vectors.summaries_collection(client, space)
    for start in range(0, len(ids), 500):
        part = slice(start, start + 500)
        vecs = doc_vectors(store.path, space, docs[part], backend=backend)
        collection.upsert(
            ids=ids[part],
            embeddings=np.asarray(vecs, dtype=np.float32),
            documents=docs[part],
            metadatas=metas[part],
        )
    return {
        "collection": collection.name,
        "written": len(ids),
        "where": vectors.where(chroma_path, chroma_host, chroma_port),
    }


def _offline_pass(
    store: Store,
    run_id: str,
    srid: str,
    alias: str | None,
    jobs: list[Job],
    result: SummarizeResult,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    """Deterministic summaries with no model; committed in batches as they are made."""
    from lmsys_tui.core.llm import offline

    needs = {j.cluster_id: j.sample for j in jobs if not j.keywords}
    computed = offline.ctfidf_keywords(needs) if needs else {}
    batch = 200
    for start in range(0, len(jobs), batch):
        if cancelled():
            raise Cancelled(f"summarize cancelled after {result.done} clusters; --resume {srid}")
        for job in jobs[start : start + batch]:
            keywords = job.keywords or computed.get(job.cluster_id, [])
            s = offline.summarise(keywords, job.sample[0::2][:3], job.size, job.sample)
            save_summary(
                store,
                run_id,
                srid,
                alias,
                offline.OFFLINE_MODEL,
                job,
                title=s.title,
                description=s.description,
                coherence=s.coherence,
                params={
                    "sample": len(job.sample),
                    "keywords": s.keywords[:10],
                    "contrast": [c[0] for c in job.contrast],
                },
            )
            result.done += 1
        progress(result.done, len(jobs), "offline")


async def _llm_pass(
    store: Store,
    run_id: str,
    srid: str,
    alias: str | None,
    spec: ModelSpec,
    jobs: list[Job],
    opts: SummarizeOptions,
    result: SummarizeResult,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    from lmsys_tui.core.llm.clients import (
        CallFailed,
        LLMSession,
        request_timeout,
        retry_policy,
        run_tasks,
    )

    session = LLMSession(
        store,
        spec,
        STAGE,
        run_id=run_id,
        concurrency=opts.concurrency,
        rpm=opts.rpm,
        retry=retry_policy(opts.max_attempts),
        timeout=request_timeout(opts.timeout),
    )

    async def one(job: Job) -> None:
        messages = build_messages(job, opts.max_query_chars)
        params = {"sample": len(job.sample), "contrast": [c[0] for c in job.contrast]}
        try:
            answer = await session.ask(messages, ClusterSummaryAnswer)
        except CallFailed as exc:
            await session.db(
                save_summary,
                store,
                run_id,
                srid,
                alias,
                spec.model,
                job,
                title=None,
                description=None,
                coherence=None,
                params=params | {"attempts": exc.attempts},
                error=exc.message,
            )
            result.failed += 1
            return
        title, description, coherence = clean_answer(answer)
        await session.db(
            save_summary,
            store,
            run_id,
            srid,
            alias,
            spec.model,
            job,
            title=title,
            description=description,
            coherence=coherence,
            params=params,
        )
        result.done += 1

    try:
        await run_tasks(
            [one(j) for j in jobs],
            session,
            progress,
            cancelled,
            len(jobs),
            what=f"summarize cancelled; continue with --resume {srid}",
        )
    finally:
        result.llm = session.stats.to_dict()
        await session.aclose()


# ----------------------------------------------------------------------------- pass selection


def resolve_pass(
    store: Store, run_id: str, alias: str | None = None, summary_run_id: str | None = None
) -> str | None:
    """The one summary pass to read: by id, by alias (its newest pass), else the newest pass
    with summaries (finished passes first), the same rule list-clusters uses.

    "Newest" is by creation time then insertion order, never by string sort. Returns None
    when the run has no pass at all (and nothing was asked for by name).
    """
    if summary_run_id:
        rows = _fetch(
            store, "SELECT run_id FROM summary_runs WHERE summary_run_id = ?", (summary_run_id,)
        )
        if not rows:
            raise NotFoundError(f"no summary pass {summary_run_id!r}")
        if rows[0][0] != run_id:
            raise UsageError(f"summary pass {summary_run_id!r} belongs to run {rows[0][0]!r}")
        if alias:
            check = _fetch(
                store,
                "SELECT 1 FROM summary_runs WHERE summary_run_id = ? AND alias = ?",
                (summary_run_id, alias),
            )
            if not check:
                raise UsageError(f"summary pass {summary_run_id!r} has no alias {alias!r}")
        return summary_run_id
    sql = "SELECT summary_run_id FROM summary_runs s WHERE s.run_id = ?"
    args: tuple[Any, ...] = (run_id,)
    if alias:
        sql += " AND s.alias = ? ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1"
        args += (alias,)
    else:  # as list-clusters does: the newest pass with summaries, finished ones first
        sql += (
            " AND EXISTS (SELECT 1 FROM cluster_summaries c WHERE c.summary_run_id ="
            " s.summary_run_id) ORDER BY (s.status = 'done') DESC, s.created_at DESC,"
            " s.rowid DESC LIMIT 1"
        )
    rows = _fetch(store, sql, args)
    if not rows:
        if alias:
            raise NotFoundError(f"no summary pass with alias {alias!r} for run {run_id!r}")
        return None
    return rows[0][0]


def summaries_for_pass(
    store: Store, run_id: str, alias: str | None = None, summary_run_id: str | None = None
) -> tuple[str | None, dict[int, dict[str, Any]]]:
    """(pass id, cluster id -> summary) for exactly one pass, never a mix of passes."""
    srid = resolve_pass(store, run_id, alias, summary_run_id)
    if srid is None:
        return None, {}
    rows = _fetch(
        store,
        "SELECT cluster_id, title, description, coherence, num_queries, model, alias, status,"
        " error, parameters FROM cluster_summaries WHERE summary_run_id = ? AND run_id = ?"
        " ORDER BY cluster_id",
        (srid, run_id),
    )
    import json

    keys = [
        "cluster_id",
        "title",
        "description",
        "coherence",
        "num_queries",
        "model",
        "alias",
        "status",
        "error",
        "parameters",
    ]
    out = {}
    for r in rows:
        d = dict(zip(keys, r, strict=True))
        d["parameters"] = json.loads(d["parameters"]) if d["parameters"] else {}
        d["summary_run_id"] = srid
        out[d["cluster_id"]] = d
    return srid, out
