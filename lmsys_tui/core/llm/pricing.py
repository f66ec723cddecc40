"""The one price table: what a call to a model costs, and what a prompt will cost.

USD per million tokens (input, output); the longest matching prefix of the model name wins.
Estimates for the ledger's cost column, `--dry-run` and `--budget-usd`, not a bill: a model
the table lacks has no price (its cost is unknown, and a budget cannot be kept with it).
"""

from __future__ import annotations

import json
from typing import Any

PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4": (30.0, 60.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "llama-3.1-8b-instant": (0.05, 0.08),
    "llama-3.3-70b-versatile": (0.59, 0.79),
}
FREE_PROVIDERS = {"ollama", "offline"}
CHARS_PER_TOKEN = 4.0  # English-ish text; no tokenizer is loaded for an estimate
MESSAGE_OVERHEAD = 4  # tokens of role and framing per message


def price(provider: str, name: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens; (0, 0) for local providers; None if unknown."""
    if provider in FREE_PROVIDERS:
        return (0.0, 0.0)
    match = max((p for p in PRICES if name.startswith(p)), key=len, default=None)
    return None if match is None else PRICES[match]


def estimate_cost(
    provider: str, name: str, tokens_in: int | None, tokens_out: int | None
) -> float | None:
    found = price(provider, name)
    if found is None or (found != (0.0, 0.0) and tokens_in is None and tokens_out is None):
        return None
    price_in, price_out = found
    return round(((tokens_in or 0) * price_in + (tokens_out or 0) * price_out) / 1e6, 8)


def count_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def prompt_tokens(messages: list[dict[str, Any]], schema: Any = None) -> int:
    """Input tokens of a request: its messages, and the response schema the call sends."""
    total = sum(count_tokens(str(m.get("content", ""))) + MESSAGE_OVERHEAD for m in messages)
    if schema is not None:
        total += count_tokens(json.dumps(schema, separators=(",", ":")))
    return total
