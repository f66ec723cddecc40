"""`merge-clusters`' options, in a module of their own so that the headless CLI, which reads
their defaults when it starts, does not import the stage (asyncio, the LLM layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmsys_tui.core.llm.options import LLMOptions
from lmsys_tui.core.llm.providers import stored_url
from lmsys_tui.core.options import option
from lmsys_tui.errors import UsageError

STAGE = "merge"  # the stage's name in the LLM ledger (the run and its dry run price it)

PROVIDER_DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-5-20250929",
    "openai": "gpt-4o-mini",
    "groq": "llama-3.1-8b-instant",
}  # what `--llm-provider P` alone writes with (the reference's defaults)


@dataclass
class MergeOptions(LLMOptions):
    summary_run_id: str | None = option()
    alias: str | None = option()
    target_levels: int = option(3, minimum=2)  # leaves plus at least one merged level
    # None: each level's size is chosen from the centroids (core/hierarchy/shape.py); a ratio
    # brings back the fixed geometric schedule, --top-nodes fixes the top level's size
    merge_ratio: float | None = option(None, above=0, below=1)
    top_nodes: int | None = option(None, minimum=1)
    neighborhood_size: int = option(40, minimum=2)
    llm_provider: str | None = option(lower=True)  # the reference's spelling of --model P/M
    llm_model: str | None = option()
    embedding_model: str | None = option()  # embeds titles (default: the run's own model)

    def check(self) -> None:
        super().check()
        if self.merge_ratio is not None and self.top_nodes is not None:
            raise UsageError("--top-nodes and --merge-ratio do not go together: give one")
        if self.llm_provider is None and self.llm_model is None:
            return
        provider = self.llm_provider.lower() if self.llm_provider else None
        name = self.llm_model
        if provider is None and name is not None and "/" in name:
            provider, _, name = name.partition("/")
        if provider is None:
            raise UsageError("--llm-model needs --llm-provider (or give --model provider/name)")
        name = name or PROVIDER_DEFAULT_MODELS.get(provider)
        if name is None:
            raise UsageError(f"--llm-provider {provider} needs --llm-model")
        model = f"{provider}/{name}"
        if self.model is not None and self.model != model:
            raise UsageError(f"--model {self.model} and --llm-provider/--llm-model {model} differ")
        self.model = model

    def content_params(self) -> dict[str, Any]:
        """What decides the tree; stored on the run so --resume builds the same one."""
        return {
            "target_levels": self.target_levels,
            "merge_ratio": self.merge_ratio,
            "top_nodes": self.top_nodes,
            "neighborhood_size": self.neighborhood_size,
            "embedding_model": self.embedding_model,
            "seed": self.seed,
            "base_url": stored_url(self.base_url),
        }
