"""Search over queries and clusters: semantic, keyword (FTS5) and hybrid, filters that keep
their recall, exact facet counts, and `verify sync` between SQLite and Chroma.

`from lmsys_tui.core.search import Searcher, QuerySearch` stays cheap (no numpy, no model):
heavy imports happen inside the steps that need them, and the package itself loads nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmsys_tui.core.search.requests import validate
    from lmsys_tui.core.search.searcher import Searcher
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


def __getattr__(name: str) -> Any:
    """The names above load their module when first used, so importing a sibling module
    (`verify`, whose options the headless CLI reads when it starts) does not load them all."""
    if name in __all__:
        import importlib

        module = {"Searcher": "searcher", "validate": "requests"}.get(name, "types")
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
