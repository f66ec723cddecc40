"""What every dataset reader yields, and the row checks they share.

A reader turns raw rows into `Conversation` (kept) or `BadRow` (counted by reason and skipped):
one bad row never costs a good one, and nothing in a row can crash the load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MAX_TEXT_CHARS = 100_000  # --max-chars: longer first turns are kept (skipped with --skip-long)

# Bytes that are not UTF-8, as the `surrogateescape` error handler decodes them. Every text
# reader decodes that way and skips a row holding one as `invalid_utf8`: never a U+FFFD guess.
BAD_BYTES = re.compile("[\udc80-\udcff]")


def has_bad_bytes(text: str) -> bool:
    """Whether `text` (read with surrogateescape) held bytes that are not UTF-8.

    The usual answer costs nothing: `isascii` reads a flag, and encoding is ~50x faster than
    `BAD_BYTES.search` (the only surrogates in read text come from the error handler).
    """
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class BadReason(StrEnum):
    MISSING_TEXT = "missing_text"
    EMPTY_TEXT = "empty_text"
    NON_STRING = "non_string"
    NUL_BYTES = "nul_bytes"
    INVALID_JSON = "invalid_json"
    TOO_LONG = "too_long"
    WRONG_TYPE = "wrong_type"
    NO_USER_TURN = "no_user_turn"
    MISSING_ID = "missing_id"
    INVALID_UTF8 = "invalid_utf8"
    MALFORMED_CSV = "malformed_csv"


@dataclass(slots=True)
class Conversation:
    conversation_id: str
    text: str
    model: str | None = None
    language: str | None = None
    turn_count: int | None = None
    redacted: bool | None = None
    moderation_flagged: bool | None = None
    timestamp: datetime | None = None
    extra: dict[str, Any] | None = None
    label: str | None = None  # a known class (load --label-column), for `evaluate`


@dataclass(slots=True)
class BadRow:
    reason: BadReason
    where: str = ""


Item = Conversation | BadRow


class RowError(Exception):
    """Raised inside a reader for one row; the reader turns it into a BadRow."""

    def __init__(self, reason: BadReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass
class SourceInfo:
    """How a reader describes itself to the load stage (stored on the dataset row)."""

    source: str
    ref: str | None
    default_label: str
    total: int | None = None  # rows, when known up front (for progress)
    detect_language: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)


def check_text(value: Any, max_chars: int | None = None) -> str:
    """Validate a first-turn text; raise RowError with the reason it is unusable. A text
    longer than `max_chars` is one only when a limit is given (the user asked to skip them)."""
    if value is None:
        raise RowError(BadReason.MISSING_TEXT)
    if not isinstance(value, str):
        raise RowError(BadReason.NON_STRING)
    if "\x00" in value:
        raise RowError(BadReason.NUL_BYTES)
    if not value.strip():
        raise RowError(BadReason.EMPTY_TEXT)
    if max_chars is not None and len(value) > max_chars:
        raise RowError(BadReason.TOO_LONG)
    return value


_USER_ROLES = {"user", "human", "prompter"}
_ROLE_KEYS = ("role", "from", "speaker", "author")
_CONTENT_KEYS = ("content", "value", "text", "message")


def message_text(content: Any) -> Any:
    """Content of a message: a string, or OpenAI-style parts [{type: text, text}] joined."""
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if not parts or not all(isinstance(p, str) for p in parts):
            raise RowError(BadReason.NON_STRING)
        return "\n".join(parts)
    return content


def first_user_turn(messages: Any, max_chars: int | None = None) -> tuple[str, int]:
    """(text of the first user turn, number of user turns) from a message list."""
    if messages is None:
        raise RowError(BadReason.MISSING_TEXT)
    if not isinstance(messages, list | tuple):
        raise RowError(BadReason.WRONG_TYPE)
    first: Any = None
    found = False
    user_turns = 0
    for msg in messages:
        if not isinstance(msg, dict):
            raise RowError(BadReason.WRONG_TYPE)
        role = next((msg[k] for k in _ROLE_KEYS if k in msg), None)
        if not isinstance(role, str) or role.lower() not in _USER_ROLES:
            continue
        user_turns += 1
        if not found:
            found = True
            first = message_text(next((msg[k] for k in _CONTENT_KEYS if k in msg), None))
    if not found:
        raise RowError(BadReason.NO_USER_TURN if messages else BadReason.MISSING_TEXT)
    return check_text(first, max_chars), user_turns


def as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    raise RowError(BadReason.WRONG_TYPE)


def as_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(BadReason.WRONG_TYPE)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RowError(BadReason.WRONG_TYPE) from exc


def as_opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RowError(BadReason.WRONG_TYPE)


def as_timestamp(value: Any) -> datetime | None:
    """Timezone-aware UTC datetime from a datetime, epoch seconds or ISO string."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            ts = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            raise RowError(BadReason.WRONG_TYPE)
    except (ValueError, OverflowError, OSError) as exc:
        raise RowError(BadReason.WRONG_TYPE) from exc
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def moderation_flagged(value: Any) -> bool | None:
    """LMSYS `openai_moderation` is a list of per-turn results with a `flagged` bool."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list | tuple):
        raise RowError(BadReason.WRONG_TYPE)
    return any(isinstance(v, dict) and bool(v.get("flagged")) for v in value)
