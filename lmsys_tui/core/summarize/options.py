"""What a summarize pass is asked to do (its options) and what it reports (its result).

Apart from the stage's other modules: the headless CLI reads these defaults when it starts, and
`prompts` builds a pydantic model on import (~0.1 s) that no command should pay for at start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lmsys_tui.core.llm.options import LLMOptions
from lmsys_tui.core.llm.providers import stored_url
from lmsys_tui.core.options import option
from lmsys_tui.errors import UsageError


@dataclass
class SummarizeOptions(LLMOptions):
    max_queries: int = option(100, minimum=1)
    cluster_ids: list[int] | None = option(flag="--cluster-id")
    summary_run_id: str | None = option()
    alias: str | None = option()
    contrast_neighbors: int = option(2, minimum=0)
    contrast_examples: int = option(2, minimum=0)
    use_chroma: bool = option(False)
    chroma_path: str | None = None  # set by the door from its settings (--chroma-path)
    chroma_host: str | None = option()
    chroma_port: int | None = option()
    embed_backend: str = option("auto")  # how --use-chroma embeds summaries (local models)
    token_budget: int = option(6000, minimum=1)  # tokens of query text per prompt
    max_query_chars: int = 1500  # each query is cut to this first

    def check(self) -> None:
        super().check()
        if self.max_query_chars <= 0:
            raise UsageError("max_query_chars must be a positive number")

    def content_params(self) -> dict[str, Any]:
        """What decides the prompts; stored on the pass so --resume asks the same questions."""
        return {
            "max_queries": self.max_queries,
            "contrast_neighbors": self.contrast_neighbors,
            "contrast_examples": self.contrast_examples,
            "token_budget": self.token_budget,
            "max_query_chars": self.max_query_chars,
            "seed": self.seed,
            "cluster_ids": self.cluster_ids,
            "base_url": stored_url(self.base_url),
        }


@dataclass
class SummarizeResult:
    summary_run_id: str
    run_id: str
    alias: str | None
    model: str
    status: str
    clusters: int  # clusters this invocation worked on
    done: int
    failed: int
    skipped: int  # already done in the pass being resumed
    llm: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    chroma: dict[str, Any] | None = None
    message: str = ""
    edits: dict[str, Any] | None = None  # curation replayed on the pass (core/curate/replay)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
