"""LMSYS-Chat-1M-shaped rows and the files tests write them to (jsonl, json, parquet, csv).

The fields are those of `lmsys/lmsys-chat-1m`: conversation_id, model, conversation (a list of
{role, content}), turn, language, openai_moderation (one result per message), redacted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

MODELS = ("vicuna-13b", "koala-13b", "gpt-4", "llama-2-13b-chat")
LANGUAGES = ("English", "German", "Chinese", "Spanish")


def lmsys_row(i: int, *, text: str | None = None, turns: int | None = None) -> dict[str, Any]:
    """Row i: deterministic, with a varying model, language, turn count and flags."""
    turns = turns if turns is not None else 1 + i % 3
    first = text if text is not None else f"question number {i}: how do I sort a list?"
    conversation: list[dict[str, Any]] = []
    for t in range(turns):
        conversation.append({"role": "user", "content": first if t == 0 else f"follow-up {t}"})
        conversation.append({"role": "assistant", "content": f"answer {t} to {i}"})
    return {
        "conversation_id": f"conv-{i:06d}",
        "model": MODELS[i % len(MODELS)],
        "conversation": conversation,
        "turn": turns,
        "language": LANGUAGES[i % len(LANGUAGES)],
        "openai_moderation": [
            {
                "categories": {"harassment": False, "violence": False},
                "category_scores": {"harassment": 0.01, "violence": 0.02},
                "flagged": i % 5 == 0 and m == len(conversation) - 1,  # a late turn flagged
            }
            for m in range(len(conversation))
        ],
        "redacted": i % 7 == 0,
    }


def expected(row: dict[str, Any]) -> tuple[Any, ...]:
    """What the store must hold for a good LMSYS row (columns of `stored`)."""
    return (
        row["conversation_id"],
        row["conversation"][0]["content"],
        row["model"],
        row["language"],
        row["turn"],
        int(row["redacted"]),
        int(any(m["flagged"] for m in row["openai_moderation"])),
    )


STORED = (
    "SELECT conversation_id, query_text, model, language, turn_count, redacted,"
    " moderation_flagged FROM queries ORDER BY id"
)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            fh.write("\n")
    return path


def write_json(path: Path, rows: list[Any]) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]], **kw: Any) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, **kw)
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path
