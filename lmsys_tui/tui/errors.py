"""How a failure reads in the TUI: one line for a notification or a status line.

Its own module so that screens and widgets that show a failure need not import the App.
"""

from __future__ import annotations

from lmsys_tui.errors import LmsysError
from lmsys_tui.tui.text import plain


def describe_error(error: BaseException | None) -> str:
    """One line for the user: our errors carry their message, others get their type."""
    if error is None:
        return "unknown error"
    if isinstance(error, LmsysError):
        return plain(error.message, 300)
    return plain(f"{type(error).__name__}: {error}", 300)
