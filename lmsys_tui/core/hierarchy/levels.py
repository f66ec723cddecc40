"""The merge stage's two level loops, offline (cuts of one agglomeration) and LLM (Clio), and
the checkpoint they share: each finished level is written with the checkpoint that lets a killed
run skip it on `--resume`, and an LLM level resumes at its last saved step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.hierarchy import nodes as rows
from lmsys_tui.core.hierarchy.leaves import parent_vectors, text_vectors
from lmsys_tui.core.hierarchy.nodes import Node
from lmsys_tui.core.hierarchy.options import STAGE
from lmsys_tui.core.hierarchy.shape import merge_failure
from lmsys_tui.errors import Cancelled
from lmsys_tui.stage import CancelCheck, Progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.hierarchy.merge import MergeResult
    from lmsys_tui.core.hierarchy.options import MergeOptions
    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.store.db import Store


def _restore(checkpoint: dict[str, Any], level: int) -> list[Node]:
    return [Node.from_json(d) for d in checkpoint["levels"][str(level)]]


def _level_done(checkpoint: dict[str, Any], level: int, parents: list[Node]) -> dict[str, Any]:
    levels = dict(checkpoint.get("levels") or {})
    levels[str(level)] = [p.to_json() for p in parents]
    unplaced = list(checkpoint.get("unplaced") or []) + list(
        (checkpoint.get("step") or {}).get("unplaced") or []
    )
    fallbacks = list(checkpoint.get("fallbacks") or [])
    return {
        "levels_done": level,
        "levels": levels,
        "unplaced": unplaced,
        "fallbacks": fallbacks,
        "step": {},
    }


def offline_levels(
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
    from lmsys_tui.core.hierarchy.shape import cuts, dendrogram

    # every level is a cut of the one agglomeration the shape was scored on: the cuts nest
    leaf_cuts = cuts(dendrogram(vectors), schedule[1:]) if len(schedule) > 1 else None
    below = list(range(len(leaves)))  # a leaf under each node of the current level
    current, vecs = leaves, vectors
    for level in range(1, len(schedule)):
        if cancelled():
            raise Cancelled(f"merge cancelled before level {level}")
        if level <= checkpoint.get("levels_done", 0):
            parents = _restore(checkpoint, level)
            vecs = parent_vectors(parents, current, vecs)
        else:
            labels = leaf_cuts[below, level - 1] if leaf_cuts is not None else None
            parents, vecs = merge_level(current, vecs, schedule[level], level, labels)
            checkpoint = _level_done(checkpoint, level, parents)
            rows.write_level(store, hier_id, run_id, parents, checkpoint)
        index = {n.id: i for i, n in enumerate(current)}
        below = [below[index[p.children[0]]] for p in parents]
        result.levels.append(len(parents))
        current = parents
        progress(level, len(schedule) - 1, f"level {level}: {len(parents)} nodes")


async def llm_levels(
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
    from lmsys_tui.core.hierarchy.agglo import merge_level
    from lmsys_tui.core.hierarchy.clio import ClioParams, build_level
    from lmsys_tui.core.llm.clients import LLMSession

    session = LLMSession.for_stage(store, spec, STAGE, run["run_id"], opts)
    params = ClioParams(neighborhood_size=opts.neighborhood_size, seed=opts.seed)
    state = {"checkpoint": checkpoint}

    async def save(step: dict[str, Any], _final: bool) -> None:
        state["checkpoint"] = {**state["checkpoint"], "step": step}
        snapshot = {**state["checkpoint"], "step": _jsonable(step)}
        await session.db(rows.save_checkpoint, store, hier_id, snapshot)

    embedded = text_vectors(run, [n.text() for n in leaves], opts.embedding_model)
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
                why = merge_failure(len(current), len(parents), schedule[level])
                if why is not None:  # never store a level that did not merge: build it offline
                    parents, _ = merge_level(current, vecs, schedule[level], level)
                    dropped = len(step.get("unplaced") or [])
                    step["unplaced"] = []  # the LLM's placement is not what is stored
                    fallback = {"level": level, "reason": f"the LLM gave {why}"}
                    fallback |= {"unplaced_dropped": dropped} if dropped else {}
                    fallbacks = [*(state["checkpoint"].get("fallbacks") or []), fallback]
                    state["checkpoint"] = {**state["checkpoint"], "fallbacks": fallbacks}
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
                text_vectors(run, [p.text() for p in parents], opts.embedding_model)
                if embedded is not None
                else None
            )
            vecs = texts if texts is not None else parent_vectors(parents, current, vecs)
            result.levels.append(len(parents))
            current = parents
    finally:
        result.unplaced = list(state["checkpoint"].get("unplaced") or [])
        result.fallbacks = list(state["checkpoint"].get("fallbacks") or [])
        result.llm = session.stats.to_dict()
        await session.aclose()


def _jsonable(value: Any) -> Any:
    """A deep copy that the JSON column can store (and that later edits cannot alias)."""
    import json

    return json.loads(json.dumps(value))
