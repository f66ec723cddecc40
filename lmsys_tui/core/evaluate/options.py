"""`evaluate run` and `evaluate stability` options, light enough for the CLI to read at start."""

from __future__ import annotations

from dataclasses import dataclass

from lmsys_tui.core.options import Options, option


@dataclass(frozen=True)
class EvaluateOptions(Options):
    hierarchy: str | None = option()  # None: the run's newest finished hierarchy


@dataclass(frozen=True)
class StabilityOptions(Options):
    seeds: int = option(5, minimum=2)  # fits compared, the run's own seed first
    hierarchy: str | None = option()  # whose level sizes the refits get (None: newest)
