"""What a query search may ask: `validate` turns a request that cannot be answered into one
`UsageError` line before any store or model is touched (both doors and the API call it through
`Searcher.search_queries`)."""

from __future__ import annotations

from lmsys_tui.core.search.types import ENGINES, GROUPS, MODES, QuerySearch
from lmsys_tui.core.store import sql
from lmsys_tui.errors import UsageError


def validate(req: QuerySearch) -> None:
    if not req.text or not req.text.strip():
        raise UsageError("the search text is empty")
    if req.mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {req.mode!r}")
    if req.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {req.engine!r}")
    if req.by is not None and req.by not in GROUPS:
        raise UsageError(f"--by must be one of {', '.join(GROUPS)}, not {req.by!r}")
    bad = [f for f in req.facets if f not in GROUPS]
    if bad:
        raise UsageError(f"--facets takes {', '.join(GROUPS)}; {bad[0]!r} is not one of them")
    sql.require_positive(
        n_results=req.n_results,
        n_candidates=req.n_candidates,
        top_clusters=req.top_clusters,
        snippet_chars=req.snippet_chars,
    )
    needs_run = "cluster" in req.facets or req.by == "cluster"
    if req.run_id is None:
        if needs_run:
            raise UsageError("cluster counts need --run-id (clusters belong to a run)")
        if req.within_clusters:
            raise UsageError("--within-clusters needs --run-id (clusters belong to a run)")
        if req.cluster_ids is not None:
            raise UsageError("--cluster-ids needs --run-id (cluster ids belong to a run)")
        if req.hierarchy_run_id is not None:
            raise UsageError("--hierarchy-run-id needs --run-id")
    if req.within_clusters is not None and not req.within_clusters.strip():
        raise UsageError("--within-clusters text is empty")
