"""Which queries a stage takes and the space it embeds them in: `cluster`, `embed`, backfill.

Kept apart from the run template (`stage.py`, which imports the store) so that the TUI can
build and check these options while a form is filled in, without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lmsys_tui.core.embed import BACKENDS, DEVICES, Space, resolve_space
from lmsys_tui.core.options import Options, option


@dataclass(frozen=True)
class Selection(Options):
    """The queries a stage covers: one dataset's (or all), the first `limit` by id."""

    dataset: str | None = option()
    limit: int | None = option(minimum=1)


@dataclass(frozen=True)
class EmbedOptions(Options):
    """Which embedding space to use, how to fill it, and whether to index it in Chroma
    (option names as in the reference CLI). `--embedding-provider` is checked by the space."""

    embedding_provider: str = option("sentence-transformers")
    embedding_model: str | None = option()  # None: the provider's default
    dimensions: int | None = option(minimum=1)
    embed_batch_size: int = option(64, minimum=1)
    embed_backend: str = option("auto", choices=BACKENDS)
    embed_device: str = option("auto", choices=DEVICES, flag="--device")
    use_chroma: bool = option(False)
    chroma_path: str | None = None  # set by the door from its settings (--chroma-path)
    chroma_host: str | None = option()
    chroma_port: int | None = option()

    def to_dict(self) -> dict[str, Any]:
        """What a run records: the space and how it was filled (not where Chroma lives)."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("chroma_")}

    def space(self) -> Space:
        """The embedding space these options name (NeedsKeyError / UsageError if unusable)."""
        return resolve_space(self.embedding_provider, self.embedding_model, self.dimensions)
