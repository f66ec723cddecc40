"""The merge-clusters stage: levels chained into a tree, checkpointed, resumable.

Leaves are the run's clusters (noise left out) named by one summary pass. Level sizes follow a
geometric schedule; each level is built by Clio with an LLM, or offline by agglomerative
clustering when no key is set. Query counts roll up from the clusters to every node. A killed
or cancelled run is continued with `--resume HIER_ID`: finished levels are read back from the
checkpoint, the unfinished level resumes at its last step, and answers already paid for come
from the ledger.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy import nodes as rows
from lmsys_tui.core.hierarchy.nodes import Node, title_keywords
from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.core.hierarchy.plan import level_sizes, unit_rows
from lmsys_tui.errors import Cancelled, LmsysError, NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.store.db import Store

STAGE = "merge"


@dataclass
class MergeResult:
    hierarchy_run_id: str
    run_id: str
    summary_run_id: str | None
    model: str
    status: str
    schedule: list[int]
    levels: list[int] = field(default_factory=list)  # nodes per level actually built
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    unsummarised: int = 0
    vectors: str = "centroids"
    llm: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""
    edits: dict[str, Any] | None = None  # curation replayed on the hierarchy (core/curate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _leaves(
    store: Store, run_id: str, summaries: dict[int, dict[str, Any]]
) -> tuple[list[Node], np.ndarray, int]:
    """Leaf nodes (clusters with their pass's titles) and their unit centroids."""
    import numpy as np

    from lmsys_tui.core.llm.offline import keyword_title
    from lmsys_tui.core.summarize import load_clusters

    clusters = [c for c in load_clusters(store, run_id) if c.cluster_id >= 0]
    if len(clusters) < 2:
        raise UsageError(f"run {run_id!r} has fewer than two clusters: nothing to merge")
    leaves, vecs, missing = [], [], 0
    for c in clusters:
        if not c.centroid:
            raise UsageError(f"cluster {c.cluster_id} of run {run_id!r} has no centroid")
        s = summaries.get(c.cluster_id)
        done = s is not None and s["status"] == "done" and s["title"]
        keywords = list((s or {}).get("parameters", {}).get("keywords") or c.keywords)
        if done:
            title, description = s["title"], s["description"] or ""  # type: ignore[index]
        else:
            missing += 1
            title = keyword_title(keywords) or f"Cluster {c.cluster_id}"
            description = ""
        leaves.append(
            Node(
                c.cluster_id,
                0,
                title,
                description,
                c.size,
                keywords=keywords or title_keywords(title),
            )
        )
        vecs.append(np.frombuffer(c.centroid, dtype=np.float32))
    return leaves, unit_rows(np.vstack(vecs)), missing


def _parent_vectors(parents: list[Node], children: list[Node], vectors: np.ndarray) -> np.ndarray:
    """Query-weighted mean of the children's vectors, unit length."""
    import numpy as np

    index = {n.id: i for i, n in enumerate(children)}
    out = []
    for p in parents:
        idx = [index[c] for c in p.children]
        w = np.array([max(children[i].count, 1) for i in idx], dtype=np.float32)
        out.append((vectors[idx] * w[:, None]).sum(0) / w.sum())
    return unit_rows(np.vstack(out))


def _text_vectors(run: dict[str, Any], texts: list[str]) -> np.ndarray | None:
    """Titles + descriptions embedded in the run's space (Clio embeds them, not centroids).

    None when the run records no space or its encoder cannot be had (e.g. an OpenAI space
    without a key): the nodes' centroids stand in, and the result says so.
    """
    if not (run["embedding_provider"] and run["embedding_model"] and run["embedding_dim"]):
        return None
    from lmsys_tui.core.embed import Space, embed_texts

    space = Space(str(run["embedding_provider"]), str(run["embedding_model"]),
                  int(run["embedding_dim"]))  # fmt: skip
    try:
        # torch, not ONNX: a few hundred short texts do not repay an export
        return unit_rows(embed_texts(space, [t or "-" for t in texts], backend="torch"))
    except (LmsysError, OSError, ValueError):
        return None


def _start(store: Store, run_id: str, opts: MergeOptions) -> tuple[str, dict[str, Any]]:
    """(hierarchy id, its row) for a resumed run; validates --resume."""
    row = rows.load_run(store, opts.resume or "")
    if row is None:
        raise NotFoundError(f"no hierarchy run {opts.resume!r} to resume")
    if row["run_id"] != run_id:
        raise UsageError(f"hierarchy run {opts.resume!r} belongs to run {row['run_id']!r}")
    return row["hierarchy_run_id"], row


def run_merge(
    store: Store,
    run_id: str,
    opts: MergeOptions | None = None,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> MergeResult:
    """Build (or resume) a hierarchy over the run's clusters."""
    from lmsys_tui.core.llm.probe import probe
    from lmsys_tui.core.llm.providers import resolve_model, resumed_url
    from lmsys_tui.core.summarize import load_run, summaries_for_pass

    opts = opts or MergeOptions()
    started = time.perf_counter()
    run = load_run(store, run_id)
    existing: dict[str, Any] | None = None
    if opts.resume:
        hier_id, existing = _start(store, run_id, opts)
        given_url = opts.base_url
        for key, value in (existing["parameters"] or {}).items():
            if key in opts.content_params():
                setattr(opts, key, value)
        opts.base_url = resumed_url(opts.base_url, given_url)
        opts.model = existing["model"]
        srid = existing["summary_run_id"]
    else:
        srid = None
    srid, summaries = summaries_for_pass(
        store, run_id, None if srid else opts.alias, srid or opts.summary_run_id
    )
    if srid is None:
        raise UsageError(f"run {run_id!r} has no summaries: run `summarize {run_id}` first")
    spec = resolve_model(opts.model, opts.base_url)
    probe(spec)  # a dead or refusing endpoint is one line, exit 4, before any pass row
    leaves, vectors, missing = _leaves(store, run_id, summaries)
    schedule = level_sizes(len(leaves), opts.target_levels, opts.merge_ratio)
    if existing is None:
        hier_id = rows.new_hierarchy_id(store, run_id)
        rows.create_run(
            store,
            hier_id,
            run_id,
            srid,
            spec.model,
            opts.content_params() | {"schedule": schedule},
            leaves,
        )
    else:
        rows.finish_run(store, hier_id, "running", None, None)
    result = MergeResult(
        hier_id,
        run_id,
        srid,
        spec.model,
        "running",
        schedule,
        levels=[len(leaves)],
        unsummarised=missing,
    )
    checkpoint = dict((existing or {}).get("checkpoint") or {"levels_done": 0, "step": {}})
    try:
        if spec.offline:
            _offline_levels(
                store,
                hier_id,
                run_id,
                leaves,
                vectors,
                schedule,
                checkpoint,
                result,
                progress,
                cancelled,
            )
        else:
            asyncio.run(
                _llm_levels(
                    store,
                    run,
                    hier_id,
                    leaves,
                    vectors,
                    schedule,
                    checkpoint,
                    opts,
                    spec,
                    result,
                    progress,
                    cancelled,
                )
            )
    except (Cancelled, KeyboardInterrupt) as exc:
        result.status = "cancelled"
        msg = exc.message if isinstance(exc, Cancelled) else "interrupted"
        rows.finish_run(store, hier_id, "cancelled", f"{msg}; --resume {hier_id}", result.to_dict())
        raise
    except Exception as exc:
        message = exc.message if isinstance(exc, LmsysError) else f"{type(exc).__name__}: {exc}"
        result.status = "failed"
        rows.finish_run(
            store, hier_id, "failed", f"{message}; --resume {hier_id}", result.to_dict()
        )
        raise
    from lmsys_tui.core.curate.replay import replay_on_hierarchy

    result.edits = replay_on_hierarchy(store.path, run_id, hier_id)  # curation survives it
    result.status = "done"
    result.seconds = round(time.perf_counter() - started, 3)
    shape = " → ".join(str(n) for n in result.levels)
    result.message = f"hierarchy {hier_id}: {shape} nodes per level"
    if result.unplaced:
        result.message += f"; {len(result.unplaced)} children could not be placed (recorded)"
    rows.finish_run(store, hier_id, "done", None, result.to_dict())
    return result


def _restore(checkpoint: dict[str, Any], level: int) -> list[Node]:
    return [Node.from_json(d) for d in checkpoint["levels"][str(level)]]


def _level_done(checkpoint: dict[str, Any], level: int, parents: list[Node]) -> dict[str, Any]:
    levels = dict(checkpoint.get("levels") or {})
    levels[str(level)] = [p.to_json() for p in parents]
    unplaced = list(checkpoint.get("unplaced") or []) + list(
        (checkpoint.get("step") or {}).get("unplaced") or []
    )
    return {"levels_done": level, "levels": levels, "unplaced": unplaced, "step": {}}


def _offline_levels(
    store: Store,
    hier_id: str,
    run_id: str,
    leaves: list[Node],
    vectors: np.ndarray,
    schedule: list[int],
    checkpoint: dict[str, Any],
    result: MergeResult,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    from lmsys_tui.core.hierarchy.agglo import merge_level

    current, vecs = leaves, vectors
    for level in range(1, len(schedule)):
        if cancelled():
            raise Cancelled(f"merge cancelled before level {level}")
        if level <= checkpoint.get("levels_done", 0):
            parents = _restore(checkpoint, level)
            vecs = _parent_vectors(parents, current, vecs)
        else:
            parents, vecs = merge_level(current, vecs, schedule[level], level)
            checkpoint = _level_done(checkpoint, level, parents)
            rows.write_level(store, hier_id, run_id, parents, checkpoint)
        result.levels.append(len(parents))
        current = parents
        progress(level, len(schedule) - 1, f"level {level}: {len(parents)} nodes")


async def _llm_levels(
    store: Store,
    run: dict[str, Any],
    hier_id: str,
    leaves: list[Node],
    vectors: np.ndarray,
    schedule: list[int],
    checkpoint: dict[str, Any],
    opts: MergeOptions,
    spec: ModelSpec,
    result: MergeResult,
    progress: Progress,
    cancelled: CancelCheck,
) -> None:
    from lmsys_tui.core.hierarchy.clio import ClioParams, build_level
    from lmsys_tui.core.llm.clients import LLMSession

    session = LLMSession.for_stage(store, spec, STAGE, run["run_id"], opts)
    params = ClioParams(neighborhood_size=opts.neighborhood_size, seed=opts.seed)
    state = {"checkpoint": checkpoint}

    async def save(step: dict[str, Any], _final: bool) -> None:
        state["checkpoint"] = {**state["checkpoint"], "step": step}
        snapshot = {**state["checkpoint"], "step": _jsonable(step)}
        await session.db(rows.save_checkpoint, store, hier_id, snapshot)

    embedded = _text_vectors(run, [n.text() for n in leaves])
    if embedded is not None:
        vectors, result.vectors = embedded, "titles"
    current, vecs = leaves, vectors
    try:
        for level in range(1, len(schedule)):
            if cancelled():
                raise Cancelled(f"merge cancelled before level {level}; --resume {hier_id}")
            if level <= state["checkpoint"].get("levels_done", 0):
                parents = _restore(state["checkpoint"], level)
            else:
                step = dict(state["checkpoint"].get("step") or {})
                parents = await build_level(
                    session,
                    current,
                    vecs,
                    schedule[level],
                    level,
                    params,
                    step,
                    save,
                    progress,
                    cancelled,
                )
                state["checkpoint"] = _level_done(
                    {**state["checkpoint"], "step": step}, level, parents
                )
                await session.db(
                    rows.write_level,
                    store,
                    hier_id,
                    run["run_id"],
                    parents,
                    _jsonable(state["checkpoint"]),
                )
            texts = (
                _text_vectors(run, [p.text() for p in parents]) if embedded is not None else None
            )
            vecs = texts if texts is not None else _parent_vectors(parents, current, vecs)
            result.levels.append(len(parents))
            current = parents
    finally:
        result.unplaced = list(state["checkpoint"].get("unplaced") or [])
        result.llm = session.stats.to_dict()
        await session.aclose()


def _jsonable(value: Any) -> Any:
    """A deep copy that the JSON column can store (and that later edits cannot alias)."""
    import json

    return json.loads(json.dumps(value))
