"""The `verify sync` report: the reference's keys first, then what this one checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsys_tui.core.embed.space import Space
    from lmsys_tui.core.search.verify.checks import Found

EXAMPLES = 5  # ids shown per issue


def _sample(ids: list[Any]) -> str:
    shown = ", ".join(map(str, ids[:EXAMPLES]))
    return shown + (", ..." if len(ids) > EXAMPLES else "")


def build_report(
    run_id: str, space: Space, found: Found, queries_col: Any | None, summaries_col: Any | None
) -> dict[str, Any]:
    from lmsys_tui.core.store.vectors import queries_collection_name, summaries_collection_name

    issues = list(found.space_issues)
    if queries_col is None and found.expected:
        issues.append(f"no Chroma collection {queries_collection_name(space)} for {space.key}")
    elif found.missing:
        issues.append(
            f"{len(found.missing):,} queries of the run are not in Chroma: {_sample(found.missing)}"
        )
    if found.meta_mismatch:
        issues.append(
            f"{len(found.meta_mismatch):,} queries have metadata that differs from SQLite:"
            f" {_sample(found.meta_mismatch)}"
        )
    if found.vector_mismatch:
        issues.append(
            f"{len(found.vector_mismatch):,} queries have a vector that is not their text's"
            f" stored vector{' (wrong dimension)' if found.wrong_dim else ''}:"
            f" {_sample(found.vector_mismatch)}"
        )
    if found.extra:
        issues.append(
            f"{len(found.extra):,} Chroma documents point at queries SQLite does not have:"
            f" {_sample(found.extra)}"
        )
    if summaries_col is None and found.sum_expected:
        issues.append(
            f"run_id {run_id} not present in Chroma summaries collection"
            f" {summaries_collection_name(space)}"
        )
    elif found.sum_missing:
        issues.append(
            f"{len(found.sum_missing):,} summaries are not in Chroma: {_sample(found.sum_missing)}"
        )
    if found.sum_stale:
        issues.append(
            f"{len(found.sum_stale):,} summaries differ from SQLite (text, pass or cluster size):"
            f" {_sample(found.sum_stale)}"
        )
    if found.sum_extra:
        issues.append(
            f"{len(found.sum_extra):,} Chroma summaries have no row in SQLite:"
            f" {_sample(found.sum_extra)}"
        )
    return {
        "run_id": run_id,
        "space": {
            "embedding_provider": space.provider,
            "embedding_model": space.model,
            "embedding_dimension": space.dim,
            "key": space.key,
        },
        "sqlite": {
            "summary_count": len(found.sum_expected),
            "query_count": found.expected + found.not_embedded,
            "queries_with_vectors": found.expected,
            "queries_without_vectors": found.not_embedded,
        },
        "chroma": {
            "summary_count": found.sum_present,
            "runs_in_summaries": found.runs_in_summaries,
            "summaries_collection": summaries_col.name if summaries_col is not None else None,
            "queries_collection": queries_col.name if queries_col is not None else None,
            "queries_present": found.present,
            "missing_queries": len(found.missing),
            "extra_queries": len(found.extra),
            "metadata_mismatch": len(found.meta_mismatch),
            "vector_mismatch": len(found.vector_mismatch),
            "missing_summaries": len(found.sum_missing),
            "stale_summaries": len(found.sum_stale),
            "extra_summaries": len(found.sum_extra),
        },
        "status": "ok" if not issues else "mismatch",
        "issues": issues,
    }
