"""What the user asked to load: the source, where it is, how its columns map, how to store it.

`load`'s options, in one light module: the TUI builds and checks them while its form is filled
in, before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.sources.base import MAX_TEXT_CHARS
from lmsys_tui.errors import UsageError

SOURCES = ("sharegpt", "lmsys", "hf", "file")
LMSYS_HF_ID = "lmsys/lmsys-chat-1m"
TEXT_FORMATS = ("auto", "messages", "plain")
BUILD_INDEXES = ("auto", "during", "after")


@dataclass(frozen=True)
class ColumnMap(Options):
    """Which columns hold what; None means "detect" (message list or plain text)."""

    text_column: str | None = option()
    text_format: str = option("auto", choices=TEXT_FORMATS)
    model_column: str | None = option()
    language_column: str | None = option()
    timestamp_column: str | None = option()
    conversation_id_column: str | None = option()
    model_default: str | None = option()
    label_column: str | None = option()  # a known class per row, stored for `evaluate`


@dataclass(frozen=True)
class SourceSpec(Options):
    # None: "file" when --file is given, "hf" when --hf is, else "sharegpt"
    source: str | None = option(choices=SOURCES)
    hf: str | None = option()
    file: Path | None = option()
    split: str = option("train")
    streaming: bool = option(True)
    columns: ColumnMap = field(default_factory=ColumnMap)
    max_chars: int = option(MAX_TEXT_CHARS, minimum=1)
    skip_long: bool = option(False)  # skip first turns over max_chars (default: keep them whole)

    def __post_init__(self) -> None:
        if self.source is None:
            inferred = "file" if self.file else "hf" if self.hf else "sharegpt"
            object.__setattr__(self, "source", inferred)
        super().__post_init__()

    @property
    def skip_above(self) -> int | None:
        """The length over which a first turn is skipped as too_long; None: every row is kept
        whole (as the reference loads it; the encoders embed only a text's start)."""
        return self.max_chars if self.skip_long else None

    def check(self) -> None:
        if self.hf and self.source not in ("hf", "lmsys"):
            raise UsageError(f"--hf does not go with --source {self.source}")
        if self.source == "hf" and not self.hf:
            raise UsageError("--source hf needs --hf ID (a Hugging Face dataset id or folder)")
        if self.source == "file" and self.file is None:
            raise UsageError("--source file needs --file PATH")


@dataclass(frozen=True)
class LoadOptions(Options):
    """How the load stage stores a source: its dataset label, how many, in what batches."""

    label: str | None = option(flag="--dataset-label")  # None: the source's own label
    limit: int | None = option(minimum=1)  # good conversations read from the source
    force_reload: bool = option(False)
    batch_size: int = option(5000, flag="--db-batch-size", minimum=1)  # rows per transaction
    # when the store's search indexes take the new rows: row by row, or once after them
    build_indexes: str = option("auto", choices=BUILD_INDEXES)
