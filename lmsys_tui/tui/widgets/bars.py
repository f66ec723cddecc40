"""Small horizontal bars drawn with block characters (eighths), for shares and breakdowns.

Pure functions returning Rich `Text`; the caller passes the style (from a component class, so
colours stay theme variables in the `.tcss`).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from lmsys_tui.tui.text import plain

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """`fraction` of `width` cells filled, to the eighth of a cell; a non-zero share shows."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, part = divmod(eighths, 8)
    out = "█" * full + (_EIGHTHS[part] if part else "")
    return out.ljust(width)


def percent(fraction: float) -> str:
    """A share as `42.1%`, `0.3%`, or `<0.1%` for tiny non-zero shares."""
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.1f}%"


def chart(
    items: list[tuple[str, int]],
    *,
    label_width: int = 12,
    bar_width: int = 20,
    bar_style: Style | str = "",
    muted: Style | str = "",
) -> Text:
    """One line per (label, count): label, bar of its share of the whole, count and share."""
    total = sum(n for _, n in items) or 1
    out = Text()
    for i, (label, n) in enumerate(items):
        if i:
            out.append("\n")
        out.append(plain(label, label_width).ljust(label_width) + " ")
        out.append(bar(n / total, bar_width), style=bar_style)
        out.append(f" {n:>7,} {percent(n / total):>6}", style=muted)
    return out
