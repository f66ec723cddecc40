"""Untrusted text (labels, queries, LLM output) made inert before it reaches a widget.

Strings handed to most Textual widgets are parsed as markup, and Rich keeps ESC and other
control characters, which a terminal would obey. Everything from the store is shown through
`inert()`: a `Text` (never parsed as markup) whose control characters are printed as escapes.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def _visible(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def plain(value: Any, limit: int | None = None, *, one_line: bool = True) -> str:
    """`value` as a string with control characters shown as escapes (`\\x1b`), clipped."""
    s = "" if value is None else str(value)
    if one_line:
        s = _LINE_BREAKS.sub(" ", s)
    s = _CONTROL.sub(_visible, s)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def inert(value: Any, limit: int | None = None, *, one_line: bool = True, style: str = "") -> Text:
    """`value` as a Text that is never parsed as markup (see `plain`)."""
    return Text(plain(value, limit, one_line=one_line), style=style, no_wrap=one_line, end="")
