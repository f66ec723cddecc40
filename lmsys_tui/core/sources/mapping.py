"""Column mapping shared by every tabular reader (local files and Hugging Face datasets).

A `Plan` says which column holds what, resolved once per source from its column names and the
user's `ColumnMap`; a `Mapper` applies it to one row. Files and `--hf` datasets go through the
same code, so a column map means the same thing whatever the rows come from. Resolution fails
with `UsageError` before any row is read, so a wrong column name never leaves a dataset behind.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lmsys_tui.core.sources.base import (
    BadReason,
    Conversation,
    RowError,
    as_bool,
    as_int,
    as_opt_str,
    as_timestamp,
    check_text,
    first_user_turn,
    moderation_flagged,
)
from lmsys_tui.core.sources.spec import ColumnMap
from lmsys_tui.errors import UsageError

MESSAGE_COLUMNS = ("conversation", "conversations", "messages")
PLAIN_COLUMNS = ("text", "prompt", "query", "question", "instruction")
ID_COLUMNS = ("conversation_id", "id")
# lmsys/lmsys-chat-1m's id and message list, and its per-row flags: with the first and one of
# the second, a source is "LMSYS-shaped"
LMSYS_REQUIRED = ("conversation_id", "conversation")
_LMSYS_MARKERS = ("turn", "redacted", "openai_moderation")


def is_lmsys_shape(columns: Collection[str]) -> bool:
    """LMSYS-Chat-1M's own columns: its id, its message list and one of its flags."""
    return all(c in columns for c in LMSYS_REQUIRED) and any(c in columns for c in _LMSYS_MARKERS)


@dataclass(frozen=True)
class Plan:
    """Which column holds what, and how to read the text column."""

    text: str
    text_format: str  # messages | plain | auto (decided per value: list -> messages)
    conversation_id: str | None
    model: str | None
    language: str | None
    timestamp: str | None
    turn: str | None = None  # LMSYS only: its own turn count
    redacted: str | None = None
    moderation: str | None = None
    model_default: str | None = None
    max_chars: int | None = None  # skip longer first turns (None: keep them)
    json_cells: bool = False  # message lists arrive as JSON strings (CSV)
    lmsys: bool = False
    label: str | None = None  # --label-column: a known class, for `evaluate`

    def columns(self) -> list[str]:
        """The source columns this plan reads (to read nothing else)."""
        named = (
            self.text,
            self.conversation_id,
            self.model,
            self.language,
            self.timestamp,
            self.turn,
            self.redacted,
            self.moderation,
            self.label,
        )
        return list(dict.fromkeys(c for c in named if c))

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


def resolve(
    columns: Collection[str],
    cmap: ColumnMap,
    *,
    max_chars: int | None,
    json_cells: bool = False,
    require_lmsys: bool = False,
    where: str = "the source",
) -> Plan:
    """Resolve the user's column map against the columns the source really has."""
    cols = list(columns)
    present = set(cols)
    named = {
        "--text-column": cmap.text_column,
        "--model-column": cmap.model_column,
        "--language-column": cmap.language_column,
        "--timestamp-column": cmap.timestamp_column,
        "--conversation-id-column": cmap.conversation_id_column,
        "--label-column": cmap.label_column,
    }
    for flag, col in named.items():
        if col is not None and col not in present:
            raise UsageError(
                f"{flag} {col!r}: no such column in {where}; columns are {_listing(cols)}"
            )
    lmsys = is_lmsys_shape(present)
    if require_lmsys and not lmsys:
        missing = [c for c in LMSYS_REQUIRED if c not in present]
        missing += (
            [] if any(c in present for c in _LMSYS_MARKERS) else [" or ".join(_LMSYS_MARKERS)]
        )
        raise UsageError(
            f"{where} is not LMSYS-shaped (missing {', '.join(missing)}); "
            f"columns are {_listing(cols)}"
        )
    text, fmt = _text_column(cols, cmap, where)
    return Plan(
        text=text,
        text_format=fmt,
        conversation_id=cmap.conversation_id_column or _first(ID_COLUMNS, present),
        model=cmap.model_column or _first(("model",), present),
        language=cmap.language_column or _first(("language",), present),
        timestamp=cmap.timestamp_column or _first(("timestamp",), present),
        turn="turn" if lmsys and "turn" in present else None,
        redacted="redacted" if lmsys and "redacted" in present else None,
        moderation="openai_moderation" if lmsys and "openai_moderation" in present else None,
        model_default=cmap.model_default,
        max_chars=max_chars,
        json_cells=json_cells,
        lmsys=lmsys,
        label=cmap.label_column,
    )


def _text_column(cols: list[str], cmap: ColumnMap, where: str) -> tuple[str, str]:
    if cmap.text_column is not None:
        return cmap.text_column, cmap.text_format
    lowered = {c.lower(): c for c in reversed(cols)}
    for names, fmt in ((MESSAGE_COLUMNS, "messages"), (PLAIN_COLUMNS, "plain")):
        for name in names:
            if name in lowered:
                return lowered[name], fmt if cmap.text_format == "auto" else cmap.text_format
    raise UsageError(
        f"no text column found in {where} (looked for "
        f"{', '.join(MESSAGE_COLUMNS + PLAIN_COLUMNS)}); columns are {_listing(cols)}; "
        "pass --text-column"
    )


def _first(names: tuple[str, ...], present: set[str]) -> str | None:
    return next((n for n in names if n in present), None)


def _listing(cols: list[str], limit: int = 20) -> str:
    shown = ", ".join(cols[:limit]) or "(none)"
    return shown + (f", … ({len(cols)} in all)" if len(cols) > limit else "")


class Mapper:
    """Turns one row (a mapping of column -> value) into a Conversation or a RowError."""

    def __init__(self, plan: Plan, *, check_unicode: bool = False) -> None:
        self.plan = plan
        # JSON can carry lone surrogates (\\ud800) that SQLite cannot store as UTF-8
        self.check_unicode = check_unicode
        # the columns `build` takes after the first turn, in its argument order (None: absent)
        self.fields: tuple[str | None, ...] = (
            plan.conversation_id,
            plan.model,
            plan.language,
            plan.turn,
            plan.redacted,
            plan.moderation,
            plan.timestamp,
            plan.label,
        )

    def text_of(self, value: Any) -> tuple[str, int | None]:
        """(first user turn, user-turn count or None) from the text column's value."""
        plan = self.plan
        fmt = plan.text_format
        if value is None:
            raise RowError(BadReason.MISSING_TEXT)
        if plan.json_cells and isinstance(value, str) and fmt != "plain":
            value = self._json_cell(value, fmt)
        if fmt == "messages" or (fmt == "auto" and isinstance(value, list | tuple)):
            return first_user_turn(value, plan.max_chars)
        return check_text(value, plan.max_chars), None

    def _json_cell(self, cell: str, fmt: str) -> Any:
        s = cell.strip()
        if fmt == "messages":
            if not s:
                raise RowError(BadReason.MISSING_TEXT)
        elif not s.startswith("["):
            return cell
        try:
            parsed = json.loads(s)
        except ValueError:
            if fmt == "messages":
                raise RowError(BadReason.INVALID_JSON) from None
            return cell  # auto: plain text that happens to start with "["
        return parsed if fmt == "messages" or isinstance(parsed, list) else cell

    def convert(self, row: Mapping[str, Any], index: int) -> Conversation:
        """Map one row (column -> value); absent columns read as None."""
        get = row.get
        return self.build(index, self.text_of(get(self.plan.text)), *map(get, self.fields))

    def build(
        self,
        index: int,
        first: tuple[str, int | None],
        raw_id: Any,
        model: Any,
        language: Any,
        turn: Any,
        redacted: Any,
        moderation: Any,
        timestamp: Any,
        label: Any = None,
    ) -> Conversation:
        """One Conversation from the extracted first turn and the raw values of `fields`.

        Positional so the Arrow path can feed column lists without building a dict per row.
        """
        plan = self.plan
        text, user_turns = first
        conv_id = f"row-{index}" if plan.conversation_id is None else _id(raw_id)
        model = as_opt_str(model)
        language = as_opt_str(language)
        label = _label(label)
        if self.check_unicode:
            for value in (text, conv_id, model, language, label):
                _encodable(value)
        turns = as_int(turn)
        return Conversation(
            conversation_id=conv_id,
            text=text,
            model=model or plan.model_default,
            language=language,
            turn_count=turns if turns is not None else user_turns,
            redacted=as_bool(redacted),
            moderation_flagged=self._flagged(moderation),
            timestamp=as_timestamp(timestamp),
            label=label,
        )

    def _flagged(self, value: Any) -> bool | None:
        """Any turn flagged; a bool is taken as is (the Arrow path reduces the list to one)."""
        if isinstance(value, bool):
            return value
        if self.plan.json_cells and isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                raise RowError(BadReason.INVALID_JSON) from None
        return moderation_flagged(value)


def _id(value: Any) -> str:
    if value is None or value == "":
        raise RowError(BadReason.MISSING_ID)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RowError(BadReason.WRONG_TYPE)


def _label(value: Any) -> str | None:
    """A label cell as text: class names and class numbers alike (7 and "7" are one class)."""
    if value is None or (isinstance(value, float) and value != value):  # NaN: a missing cell
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def _encodable(value: str | None) -> None:
    if value is None or value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RowError(BadReason.INVALID_JSON) from None
