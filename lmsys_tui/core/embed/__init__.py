"""The embedding stage: spaces, the encoders, and the vectors every later stage reads.

`from lmsys_tui.core.embed import ...` stays cheap: the names below load their module (and
numpy, torch or onnxruntime) only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.embed.space import BACKENDS, DEVICES, Space, resolve_space

if TYPE_CHECKING:
    from lmsys_tui.core.embed.encoders import embed_few, embed_texts
    from lmsys_tui.core.embed.stage import (
        EmbedSummary,
        MissingVectorsError,
        embed_queries,
        load_vectors,
        select_query_ids,
    )

__all__ = [
    "BACKENDS",
    "DEVICES",
    "EmbedSummary",
    "MissingVectorsError",
    "Space",
    "embed_few",
    "embed_queries",
    "embed_texts",
    "load_vectors",
    "resolve_space",
    "select_query_ids",
]

_LAZY = {
    "embed_few": "lmsys_tui.core.embed.encoders",
    "embed_texts": "lmsys_tui.core.embed.encoders",
    "EmbedSummary": "lmsys_tui.core.embed.stage",
    "MissingVectorsError": "lmsys_tui.core.embed.stage",
    "embed_queries": "lmsys_tui.core.embed.stage",
    "load_vectors": "lmsys_tui.core.embed.stage",
    "select_query_ids": "lmsys_tui.core.embed.stage",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
