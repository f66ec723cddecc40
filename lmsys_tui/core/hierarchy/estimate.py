"""`merge-clusters --dry-run`: the hierarchy's calls counted and priced, nothing asked.

Level 1's proposal prompts are the real ones (the leaves as the pass titled them, in
neighbourhoods of `--neighborhood-size`); the later steps and levels depend on the model's
answers, so their prompts are built from stand-ins of the same shape: a child's text as long as
the average leaf's, a parent name of `NAME_WORDS` words. One assignment per child (retries
are not counted), one rename per parent, one dedupe per `dedupe_chunk` proposals.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lmsys_tui.core.hierarchy.clio import (
    ClioParams,
    DedupedParents,
    ParentChoice,
    ParentName,
    ProposedParents,
    assign_prompt,
    dedupe_prompt,
    propose_prompt,
    rename_prompt,
)
from lmsys_tui.core.hierarchy.leaves import leaf_shape, load_leaves
from lmsys_tui.core.hierarchy.nodes import Node
from lmsys_tui.core.hierarchy.options import STAGE, MergeOptions
from lmsys_tui.core.llm.budget import Estimate, answer_tokens
from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

NAME_WORDS = 6


def estimate_merge(store: Store, run_id: str, opts: MergeOptions) -> Estimate:
    from lmsys_tui.core.llm.clients import request_tokens
    from lmsys_tui.core.llm.providers import resolve_model
    from lmsys_tui.core.summarize import load_run, summaries_for_pass

    load_run(store, run_id)
    srid, summaries = summaries_for_pass(store, run_id, opts.alias, opts.summary_run_id)
    if srid is None:
        raise UsageError(f"run {run_id!r} has no summaries: run `summarize {run_id}` first")
    spec = resolve_model(opts.model, opts.base_url)
    estimate = Estimate(spec.model)
    leaves, vectors, _ = load_leaves(store, run_id, summaries)
    schedule = leaf_shape(leaves, vectors, opts).sizes  # the sizes the stage will aim for
    estimate.notes.append("levels " + " -> ".join(map(str, schedule)))
    if spec.offline:
        estimate.notes.append("offline: agglomerative levels, no LLM calls, no cost")
        return estimate.priced(spec)
    params = ClioParams(neighborhood_size=opts.neighborhood_size, seed=opts.seed)
    out = answer_tokens(store, spec.model, STAGE)
    name = " ".join(["word"] * NAME_WORDS)
    mean = sum(len(n.text()) for n in leaves) // max(1, len(leaves))
    stand_in = Node(0, 0, name, "x" * max(0, mean - len(name)), 1)
    children: list[Node] = leaves
    for level in range(1, len(schedule)):
        n, m = len(children), schedule[level]
        hoods = max(1, math.ceil(n / params.neighborhood_size))
        size = math.ceil(n / hoods)
        wanted = max(1, round(size * m / n * 1.5))
        context = children[: params.context_size]
        for i in range(hoods):
            members = children[i * size : (i + 1) * size] or children[:size]
            prompt = propose_prompt(members, context, wanted)
            estimate.add(request_tokens(prompt, ProposedParents), out)
        proposals = hoods * wanted
        chunks = max(1, math.ceil(proposals / params.dedupe_chunk))
        chunk = [name] * min(proposals, params.dedupe_chunk)
        estimate.add(request_tokens(dedupe_prompt(chunk, m), DedupedParents), out, n=chunks)
        options = [name] * m
        estimate.add(request_tokens(assign_prompt(stand_in, options, None), ParentChoice), out, n=n)
        shown = [stand_in] * min(params.rename_children, max(1, n // m))
        estimate.add(request_tokens(rename_prompt(name, shown, n // m), ParentName), out, n=m)
        children = [stand_in] * m
    return estimate.priced(spec)
