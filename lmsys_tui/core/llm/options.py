"""What every LLM stage is asked the same way: which model and endpoint, how hard to call it.

`SummarizeOptions` and `MergeOptions` derive from it, so these fields, their flags, defaults and
checks are declared once (and `commands.options.LLM` takes its defaults from here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lmsys_tui.core.options import Options, option
from lmsys_tui.errors import UsageError


@dataclass
class LLMOptions(Options):
    model: str | None = option()
    base_url: str | None = option()
    concurrency: int = option(8, minimum=1)
    rpm: float | None = option(above=0)
    resume: str | None = option()  # the pass (or hierarchy) to continue
    seed: int = 42
    request_timeout: float | None = option(above=0)  # seconds (None: $LMSYS_TUI_LLM_TIMEOUT or 60)
    cluster_deadline: float = option(300.0, above=0)  # seconds for one call and all its retries
    max_attempts: int | None = None  # per call, retries included (None: the limits' default)
    dry_run: bool = option(False)  # estimate calls, tokens and dollars; ask nothing
    budget_usd: float | None = option(above=0)  # stop before spending past this (see budget)

    def check(self) -> None:
        check_base_url(self.base_url)
        if self.budget_usd is not None and self.model and "/" in self.model:
            from lmsys_tui.core.llm.pricing import price

            provider, _, name = self.model.partition("/")
            if price(provider, name) is None:  # before any pass row (the session checks too)
                raise UsageError(
                    f"no price is known for {self.model!r}, so --budget-usd cannot be kept "
                    "(prices: lmsys_tui/core/llm/pricing.py)"
                )


def check_base_url(url: str | None) -> None:
    """A --base-url must be an http(s) URL with a host: anything else is a usage error before
    a pass starts (else every request fails the same way and the pass ends "done", all failed)."""
    if url is None:
        return
    try:
        parts = urlsplit(url.strip())
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        shown = re.sub(r"//[^/@]*@", "//***@", url)  # a password in it is never printed
        raise UsageError(
            f"--base-url must be an http:// or https:// URL with a host, not {shown!r}"
        )
