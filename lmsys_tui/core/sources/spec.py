"""What the user asked to load: the source kind, where it is, and how its columns map."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SOURCES = ("sharegpt", "lmsys", "hf", "file")
LMSYS_HF_ID = "lmsys/lmsys-chat-1m"


@dataclass(frozen=True)
class ColumnMap:
    """Which columns hold what; None means "detect" (message list or plain text)."""

    text_column: str | None = None
    text_format: str = "auto"  # auto | messages | plain
    model_column: str | None = None
    language_column: str | None = None
    timestamp_column: str | None = None
    conversation_id_column: str | None = None
    model_default: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    source: str = "sharegpt"
    hf: str | None = None
    file: Path | None = None
    split: str = "train"
    streaming: bool = True
    columns: ColumnMap = field(default_factory=ColumnMap)
    max_chars: int = 100_000
