"""Search over queries and clusters: semantic, keyword (FTS5) and hybrid, filters that keep
their recall, exact facet counts, and `verify sync` between SQLite and Chroma.

`from lmsys_tui.core.search import Searcher, QuerySearch` stays cheap (no numpy, no model):
heavy imports happen inside the steps that need them.
"""

from __future__ import annotations

from lmsys_tui.core.search.searcher import Searcher, validate
from lmsys_tui.core.search.types import (
    Bucket,
    ClusterHit,
    ClusterSearch,
    ClusterSearchResult,
    Matched,
    QueryHit,
    QuerySearch,
    QuerySearchResult,
)

__all__ = [
    "Bucket",
    "ClusterHit",
    "ClusterSearch",
    "ClusterSearchResult",
    "Matched",
    "QueryHit",
    "QuerySearch",
    "QuerySearchResult",
    "Searcher",
    "validate",
]
