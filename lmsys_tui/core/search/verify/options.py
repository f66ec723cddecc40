"""`verify sync`'s options (its run is the command's argument), apart from the checks so the
headless CLI can read the defaults at start without loading them."""

from __future__ import annotations

from dataclasses import dataclass

from lmsys_tui.core.options import Options, option


@dataclass(frozen=True)
class VerifyOptions(Options):
    fix: bool = option(False)
    chroma_host: str | None = option()
    chroma_port: int | None = option()
    embed_backend: str = option("auto")  # for the summary texts --fix must embed
