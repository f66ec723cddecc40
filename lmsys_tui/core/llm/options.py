"""What every LLM stage is asked the same way: which model and endpoint, how hard to call it.

`SummarizeOptions` and `MergeOptions` derive from it, so these fields, their flags, defaults and
checks are declared once (and `commands.options.LLM` takes its defaults from here).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmsys_tui.core.options import Options, option


@dataclass
class LLMOptions(Options):
    model: str | None = option()
    base_url: str | None = option()
    concurrency: int = option(8, minimum=1)
    rpm: float | None = option(above=0)
    resume: str | None = option()  # the pass (or hierarchy) to continue
    seed: int = 42
    timeout: float | None = None  # per request, seconds (None: the SDK's)
    max_attempts: int | None = None  # per call, retries included (None: the limits' default)
