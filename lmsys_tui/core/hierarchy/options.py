"""`merge-clusters`' options, in a module of their own so that the headless CLI, which reads
their defaults when it starts, does not import the stage (asyncio, the LLM layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmsys_tui.core.llm.options import LLMOptions
from lmsys_tui.core.llm.providers import stored_url
from lmsys_tui.core.options import option


@dataclass
class MergeOptions(LLMOptions):
    summary_run_id: str | None = option()
    alias: str | None = option()
    target_levels: int = option(3, minimum=2)  # leaves plus at least one merged level
    merge_ratio: float = option(0.35, above=0, below=1)
    neighborhood_size: int = option(40, minimum=2)

    def content_params(self) -> dict[str, Any]:
        """What decides the tree; stored on the run so --resume builds the same one."""
        return {
            "target_levels": self.target_levels,
            "merge_ratio": self.merge_ratio,
            "neighborhood_size": self.neighborhood_size,
            "seed": self.seed,
            "base_url": stored_url(self.base_url),
        }
