"""Untrusted text (labels, queries, LLM output) made inert before it reaches a widget.

Strings handed to most Textual widgets are parsed as markup, and Rich keeps ESC and other
control characters, which a terminal would obey. Everything from the store is shown through
`inert()`: a `Text` (never parsed as markup) whose control characters are printed as escapes.
The escaping itself is the one the headless door uses (`core.text.safe_text`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from lmsys_tui.core.text import safe_text
from lmsys_tui.errors import LmsysError


def plain(value: Any, limit: int | None = None, *, one_line: bool = True) -> str:
    """`safe_text`, on one line unless asked: a list row or a label never breaks."""
    return safe_text(value, limit, one_line=one_line)


def inert(value: Any, limit: int | None = None, *, one_line: bool = True, style: str = "") -> Text:
    """`value` as a Text that is never parsed as markup (see `plain`)."""
    return Text(plain(value, limit, one_line=one_line), style=style, no_wrap=one_line, end="")


def describe_error(error: BaseException | None) -> str:
    """One line for the user: our errors carry their message, others get their type."""
    if error is None:
        return "unknown error"
    if isinstance(error, LmsysError):
        return plain(error.message, 300)
    return plain(f"{type(error).__name__}: {error}", 300)
