"""`summarize --dry-run`: the pass's real prompts priced, nothing asked and no pass row made.

Sampling runs as in the real pass (the same clusters, samples and contrast), each cluster's
messages are built and counted, and a prompt the ledger already answered is counted as free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmsys_tui.core.cluster.runs import load_clusters, load_run
from lmsys_tui.core.llm.budget import Estimate, answer_tokens, is_answered
from lmsys_tui.core.summarize.options import SummarizeOptions
from lmsys_tui.core.summarize.passes import done_clusters, resumed_model
from lmsys_tui.core.summarize.sampling import build_jobs
from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

STAGE = "summarize"


def estimate_summarize(store: Store, run_id: str, opts: SummarizeOptions) -> Estimate:
    from lmsys_tui.core.llm.clients import request_key, request_tokens
    from lmsys_tui.core.llm.providers import resolve_model
    from lmsys_tui.core.summarize.prompts import ClusterSummaryAnswer, build_messages

    load_run(store, run_id)
    model = resumed_model(store, opts.resume) if opts.resume else opts.model
    spec = resolve_model(model, opts.base_url)
    estimate = Estimate(spec.model)
    clusters = load_clusters(store, run_id)
    if not clusters:
        raise UsageError(f"run {run_id!r} has no clusters")
    done = done_clusters(store, opts.resume) if opts.resume else set()
    wanted = opts.cluster_ids or [c.cluster_id for c in clusters if c.cluster_id >= 0]
    todo = [c for c in wanted if c not in done]
    if spec.offline:
        estimate.notes.append("offline summariser: no LLM calls, no cost")
        return estimate.priced(spec)
    out = answer_tokens(store, spec.model, STAGE)
    for job in build_jobs(store, run_id, clusters, todo, opts, lambda: False):
        messages = build_messages(job, opts.max_query_chars)
        cached = is_answered(store, spec.model, request_key(spec, messages, ClusterSummaryAnswer))
        estimate.add(request_tokens(messages, ClusterSummaryAnswer), out, cached=cached)
    if len(wanted) > len(todo):
        estimate.notes.append(f"{len(wanted) - len(todo)} clusters already done in the pass")
    return estimate.priced(spec)
