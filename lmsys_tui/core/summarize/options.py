"""What a summarize pass is asked to do (its options) and what it reports (its result)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lmsys_tui.errors import UsageError


@dataclass
class SummarizeOptions:
    model: str | None = None
    base_url: str | None = None
    max_queries: int = 100
    concurrency: int = 8
    rpm: float | None = None
    cluster_ids: list[int] | None = None
    summary_run_id: str | None = None
    alias: str | None = None
    contrast_neighbors: int = 2
    contrast_examples: int = 2
    use_chroma: bool = False
    chroma_path: str | None = None
    chroma_host: str | None = None
    chroma_port: int | None = None
    embed_backend: str = "auto"  # how --use-chroma embeds summaries (local models)
    resume: str | None = None
    token_budget: int = 6000  # tokens of query text per prompt
    max_query_chars: int = 1500  # each query is cut to this first
    seed: int = 42
    timeout: float | None = None
    max_attempts: int | None = None

    def check(self) -> None:
        if self.max_queries <= 0:
            raise UsageError("--max-queries must be a positive number")
        if self.concurrency <= 0:
            raise UsageError("--concurrency must be a positive number")
        if self.rpm is not None and self.rpm <= 0:
            raise UsageError("--rpm must be a positive number")
        if self.contrast_neighbors < 0 or self.contrast_examples < 0:
            raise UsageError("--contrast-neighbors and --contrast-examples must not be negative")
        if self.token_budget <= 0 or self.max_query_chars <= 0:
            raise UsageError("--token-budget and --max-query-chars must be positive")

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
            "base_url": self.base_url,
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
