"""One LLM level of the Clio hierarchy: propose, dedupe, assign, rename.

1. Balanced neighbourhoods of ~`neighborhood_size` nodes; for each, the model proposes parent
   names, seeing the nearest nodes *outside* the neighbourhood as context.
2. Proposals are deduplicated in bounded chunks (never one prompt over hundreds of names);
   chunks follow the neighbourhoods' order along their main axis so similar names meet.
3. Each child is assigned to one parent from a list shuffled per child and attempt. The answer
   must name a listed parent; otherwise the question is asked again (reshuffled, saying what
   was wrong). A child that still cannot be placed is recorded, and becomes its own parent:
   it is never dropped into the first parent.
4. Each parent is renamed from the children it really received.

Every finished step goes into the checkpoint, and every answer is in the ledger, so a killed
level resumes at its step and re-asks nothing that was paid for.
"""

from __future__ import annotations

import html
import random
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from lmsys_tui.core.hierarchy.agglo import name_parent
from lmsys_tui.core.hierarchy.nodes import Node
from lmsys_tui.core.hierarchy.plan import balanced_neighbourhoods, order_parents, parent_id
from lmsys_tui.core.llm.clients import CallFailed, run_tasks
from lmsys_tui.core.summarize.prompts import SYSTEM_PROMPT, clean_title
from lmsys_tui.stage import CancelCheck, Progress

if TYPE_CHECKING:
    import numpy as np

    from lmsys_tui.core.llm.clients import LLMSession


class ProposedParents(BaseModel):
    names: list[str] = Field(min_length=1, description="Broader category names.")


class DedupedParents(BaseModel):
    names: list[str] = Field(min_length=1, description="The distinct category names.")


class ParentChoice(BaseModel):
    category: str = Field(description="One of the listed categories, copied exactly.")


class ParentName(BaseModel):
    title: str = Field(description="At most 10 words.")
    description: str = Field(description="Two sentences.")


@dataclass(frozen=True)
class ClioParams:
    neighborhood_size: int = 40
    seed: int = 42
    context_size: int = 5  # nearest outside nodes shown when proposing
    dedupe_chunk: int = 40  # names per dedupe prompt at most
    assign_attempts: int = 3
    rename_children: int = 30  # children shown when renaming (largest first)


SaveStep = Callable[[dict[str, Any], bool], Awaitable[None]]


def _esc(text: str) -> str:
    return html.escape(" ".join(str(text).split()), quote=False)


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _norm(name: str) -> str:
    return re.sub(r"[\s\"'`*.:;,!?]+", " ", name).strip().casefold()


def _clean_names(names: list[str], limit: int) -> list[str]:
    out: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split()).strip(" \"'`*-")[:120]
        if name and _norm(name) not in out:
            out[_norm(name)] = name
    return list(out.values())[:limit]


def propose_prompt(members: list[Node], context: list[Node], wanted: int) -> list[dict[str, str]]:
    parts = [
        f"Below are {len(members)} clusters of requests that users sent to AI assistants, each "
        f"with a title and description. Propose about {wanted} broader categories that together "
        "cover all of them, so that each cluster fits well into one category.",
        "<clusters>",
        *(
            f"<cluster><title>{_esc(n.title)}</title><description>{_esc(n.description)}"
            "</description></cluster>"
            for n in members
        ),
        "</clusters>",
    ]
    if context:
        parts += [
            "For context, these nearby clusters belong to other groups and get their own "
            "categories elsewhere; name yours so that they stay distinct from these:",
            "<nearby_clusters>",
            *(f"<cluster><title>{_esc(n.title)}</title></cluster>" for n in context),
            "</nearby_clusters>",
        ]
    parts += [
        f"<desired_count>{wanted}</desired_count>",
        f"Answer with names: about {wanted} category names of at most 10 words each, specific "
        'rather than vague (e.g. "Python data analysis with pandas", not "Programming").',
    ]
    return _messages("\n".join(parts))


def dedupe_prompt(names: list[str], wanted: int) -> list[dict[str, str]]:
    parts = [
        f"Below are {len(names)} proposed category names for requests users sent to AI "
        f"assistants. Many overlap. Merge them into about {wanted} distinct categories: combine "
        "names that mean the same or nearly the same thing, keep distinct ones, and keep each "
        "name clear and specific.",
        "<names>",
        *(f"<name>{_esc(n)}</name>" for n in names),
        "</names>",
        f"<target_count>{wanted}</target_count>",
        f"Answer with names: the final list of about {wanted} category names.",
    ]
    return _messages("\n".join(parts))


def assign_prompt(child: Node, options: list[str], wrong: str | None) -> list[dict[str, str]]:
    parts = [
        "Which category fits this cluster of user requests best?",
        f"<child><title>{_esc(child.title)}</title><description>{_esc(child.description)}"
        "</description></child>",
        "<categories>",
        *(f"<category>{_esc(o)}</category>" for o in options),
        "</categories>",
        "Answer with category: exactly one of the categories above, copied exactly as written.",
    ]
    if wrong is not None:
        parts.append(
            f'Your previous answer "{_esc(wrong)}" is not one of the listed categories. Choose '
            "one of the listed categories and copy it exactly."
        )
    return _messages("\n".join(parts))


def rename_prompt(name: str, children: list[Node], total: int) -> list[dict[str, str]]:
    parts = [
        f'These {total} clusters of user requests were grouped under the category "{_esc(name)}"'
        + (f" (the {len(children)} largest are shown)." if total > len(children) else "."),
        "<children>",
        *(
            f"<child><title>{_esc(c.title)}</title><description>{_esc(c.description)}"
            "</description></child>"
            for c in children
        ),
        "</children>",
        "Answer with a title (at most 10 words) naming as precisely as possible what all of "
        "these clusters have in common, and a two-sentence description of the group.",
    ]
    return _messages("\n".join(parts))


def match_option(answer: str, options: list[str]) -> str | None:
    """The listed option the answer names (case, quotes and spacing ignored), else None."""
    table = {_norm(o): o for o in options}
    return table.get(_norm(answer))


def _axis_order(vectors: np.ndarray, hoods: list[list[int]]) -> list[int]:
    """Neighbourhoods sorted along the main axis of their centres, so chunks stay local."""
    import numpy as np

    centres = np.vstack([vectors[h].mean(0) for h in hoods])
    if len(hoods) < 3:
        return list(range(len(hoods)))
    centred = centres - centres.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    proj = centred @ axis
    if proj[0] > proj[-1]:  # fix the sign so the order does not flip between runs
        proj = -proj
    return [int(i) for i in np.argsort(proj, kind="stable")]


async def build_level(
    session: LLMSession,
    nodes: list[Node],
    vectors: np.ndarray,
    n_target: int,
    level: int,
    params: ClioParams,
    step: dict[str, Any],
    save: SaveStep,
    progress: Progress,
    cancelled: CancelCheck,
) -> list[Node]:
    """Parents of `nodes` (level `level`); `step` is this level's checkpoint, updated in place."""
    import numpy as np

    ratio = n_target / max(1, len(nodes))
    by_id = {n.id: n for n in nodes}

    async def run_all(coros: list[Any], step_name: str) -> None:
        what = f"merge cancelled at level {level} ({step_name})"
        await run_tasks(coros, session, progress, cancelled, what)

    # 1. proposals per balanced neighbourhood, with the nearest outside nodes as context
    if "proposals" not in step:
        hoods = balanced_neighbourhoods(vectors, params.neighborhood_size, params.seed + level)
        order = _axis_order(vectors, hoods)
        hoods = [hoods[i] for i in order]
        proposals: list[list[str] | None] = [None] * len(hoods)

        async def propose(i: int) -> None:
            members = hoods[i]
            inside = set(members)
            centre = vectors[members].mean(0)
            sims = vectors @ centre
            outside = [int(j) for j in np.argsort(-sims, kind="stable") if int(j) not in inside]
            context = [nodes[j] for j in outside[: params.context_size]]
            wanted = max(1, round(len(members) * ratio * 1.5))
            try:
                answer = await session.ask(
                    propose_prompt([nodes[j] for j in members], context, wanted), ProposedParents
                )
                proposals[i] = _clean_names(answer.names, wanted * 2)
            except CallFailed:
                proposals[i] = None

        await run_all([propose(i) for i in range(len(hoods))], "proposals")
        if all(p is None for p in proposals):
            raise CallFailed(f"no neighbourhood got parent proposals at level {level}", 0)
        step["proposals"] = [p or [] for p in proposals]
        step["proposal_failures"] = sum(p is None for p in proposals)
        await save(step, True)

    # 2. dedupe in bounded chunks, a few rounds at most
    if "parents" not in step:
        current = _clean_names([n for p in step["proposals"] for n in p], 10**6)
        rounds = 0
        failures = 0
        while rounds < 3:
            chunks = [
                current[i : i + params.dedupe_chunk]
                for i in range(0, len(current), params.dedupe_chunk)
            ]
            merged: list[list[str]] = [[] for _ in chunks]

            async def dedupe(
                i: int,
                chunks: list[list[str]] = chunks,
                merged: list[list[str]] = merged,
                total: int = len(current),
            ) -> None:
                nonlocal failures
                wanted = max(1, round(n_target * len(chunks[i]) / total))
                try:
                    answer = await session.ask(dedupe_prompt(chunks[i], wanted), DedupedParents)
                    merged[i] = _clean_names(answer.names, len(chunks[i]))
                except CallFailed:
                    failures += 1
                    merged[i] = chunks[i]  # keep the chunk's names rather than lose them

            await run_all([dedupe(i) for i in range(len(chunks))], "dedupe")
            new = _clean_names([n for m in merged for n in m], 10**6)
            rounds += 1
            progressed = len(new) < len(current)
            current = new
            if len(chunks) == 1 or not progressed or len(current) <= n_target * 1.25:
                break
        step["parents"] = current
        step["dedupe_rounds"] = rounds
        step["dedupe_failures"] = failures
        await save(step, True)

    # 3. assign every child to one listed parent (validated, retried, never defaulted)
    parents: list[str] = step["parents"]
    assignments: dict[str, str | None] = step.setdefault("assignments", {})
    unplaced: list[dict[str, Any]] = step.setdefault("unplaced", [])
    todo = [n for n in nodes if str(n.id) not in assignments]
    last_save = time.monotonic()

    async def assign(child: Node) -> None:
        nonlocal last_save
        wrong: str | None = None
        error = ""
        for attempt in range(params.assign_attempts):
            options = list(parents)
            random.Random(f"{params.seed}:{level}:{child.id}:{attempt}").shuffle(options)
            try:
                answer = await session.ask(assign_prompt(child, options, wrong), ParentChoice)
            except CallFailed as exc:
                error = exc.message
                break
            chosen = match_option(answer.category, options)
            if chosen is not None:
                assignments[str(child.id)] = chosen
                break
            wrong = answer.category
            error = f"answered {answer.category!r}, not a listed category"
        if str(child.id) not in assignments:
            assignments[str(child.id)] = None
            unplaced.append({"level": level, "cluster_id": child.id, "reason": error})
        if time.monotonic() - last_save > 1.0:
            last_save = time.monotonic()
            await save(step, False)

    if todo:
        try:
            await run_all([assign(c) for c in todo], "assignments")
        finally:  # cancelled or failed: what was answered is kept for --resume
            await save(step, True)

    # 4. parents from their real children, renamed from those children
    groups: dict[str, list[int]] = defaultdict(list)
    for node in nodes:
        chosen = assignments.get(str(node.id))
        groups[chosen if chosen is not None else f"\0unplaced:{node.id}"].append(node.id)
    name_of = {tuple(sorted(ids)): name for name, ids in groups.items()}
    ordered = order_parents(list(groups.values()))
    names: dict[str, dict[str, str]] = step.setdefault("names", {})
    missing = [g for g in ordered if name_of[tuple(g)] not in names]

    async def rename(child_ids: list[int]) -> None:
        key = name_of[tuple(child_ids)]
        children = [by_id[c] for c in child_ids]
        if key.startswith("\0unplaced:"):
            only = children[0]
            names[key] = {"title": only.title, "description": only.description}
            return
        shown = sorted(children, key=lambda c: (-c.count, c.id))[: params.rename_children]
        try:
            answer = await session.ask(rename_prompt(key, shown, len(children)), ParentName)
            title = clean_title(answer.title, key)
            names[key] = {"title": title, "description": " ".join(answer.description.split())}
        except CallFailed as exc:
            titles = "; ".join(c.title for c in shown[:5])
            names[key] = {"title": key, "description": f"Groups: {titles}.", "error": exc.message}

    if missing:
        try:
            await run_all([rename(g) for g in missing], "names")
        finally:
            await save(step, True)

    out = []
    for rank, child_ids in enumerate(ordered):
        children = [by_id[c] for c in child_ids]
        named = names[name_of[tuple(child_ids)]]
        _, _, keywords = name_parent(children)
        out.append(
            Node(
                id=parent_id(level, rank),
                level=level,
                title=named["title"],
                description=named["description"],
                count=sum(c.count for c in children),
                children=list(child_ids),
                keywords=keywords,
            )
        )
    return out
