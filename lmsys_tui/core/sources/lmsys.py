"""LMSYS-Chat-1M: `lmsys/lmsys-chat-1m` streamed with `datasets`, or a local copy (`--file`).

The dataset is gated: without a login, accepted terms or network, opening fails with one line
that says what to do (exit 4) before anything is written. Its columns map through the shared
`Mapper` (first user turn, model, language as LMSYS names it, `turn`, `redacted`, and any turn
flagged in `openai_moderation`), so a downloaded parquet shard loads exactly like the stream.
"""

from __future__ import annotations

from collections.abc import Iterator

from lmsys_tui.core.sources.base import Item, SourceInfo
from lmsys_tui.core.sources.hf import LOGIN_ADVICE, open_dataset
from lmsys_tui.core.sources.spec import LMSYS_HF_ID, SourceSpec

TERMS_URL = "https://huggingface.co/datasets/lmsys/lmsys-chat-1m"
DEFAULT_LABEL = "lmsys-chat-1m"


def _advice(ds_id: str, reason: str) -> str:
    return (
        f"cannot open {ds_id} ({reason}): {LOGIN_ADVICE} and accept the terms at {TERMS_URL}"
        " (this needs the network)"
    )


def open_lmsys(spec: SourceSpec) -> tuple[SourceInfo, Iterator[Item]]:
    if spec.file is not None:
        from lmsys_tui.core.sources.files import open_file

        return open_file(spec, lmsys=True)
    ds_id = spec.hf or LMSYS_HF_ID
    return open_dataset(
        ds_id,
        spec,
        source="lmsys",
        advice=_advice,
        require_lmsys=True,
        label=DEFAULT_LABEL if ds_id == LMSYS_HF_ID else None,
    )
