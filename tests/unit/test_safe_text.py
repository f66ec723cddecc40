"""The one escaper both doors use for untrusted text (core.text.safe_text)."""

from __future__ import annotations

from lmsys_tui.commands import output
from lmsys_tui.core.text import safe_text
from lmsys_tui.tui import text as tui_text


def test_control_characters_are_shown_as_escapes_and_markup_is_kept_as_written() -> None:
    evil = "[bold red]x[/] \x1b[31mred\x1b[0m \x07 \x9b"
    assert safe_text(evil) == "[bold red]x[/] \\x1b[31mred\\x1b[0m \\x07 \\x9b"


def test_headless_keeps_newlines_and_tabs_the_tui_makes_one_line() -> None:
    text = "one\r\ntwo\tthree\n\nfour"
    assert output.safe_text(text) == "one\\r\ntwo\tthree\n\nfour"  # CR is escaped
    assert tui_text.plain(text) == "one two three four"
    assert tui_text.plain(text, one_line=False) == output.safe_text(text)


def test_limits_clip_with_an_ellipsis_and_none_is_empty() -> None:
    assert safe_text("abcdef", 4) == "abc…"
    assert safe_text("abcd", 4) == "abcd"
    assert safe_text("abc", 0) == "…"
    assert safe_text(None) == "" and tui_text.plain(None) == ""
    assert tui_text.plain("a\nb" * 10, 5) == "a ba…"


def test_both_doors_call_the_core_escaper() -> None:
    assert output.safe_text is safe_text
    assert tui_text.inert("x\x1b").plain == "x\\x1b"
