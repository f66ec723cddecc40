"""Text normalisation, the hash that keys queries and embeddings, and the one escaper.

Two texts that differ only in Unicode form or whitespace are the same query for dedup and
embedding purposes. Case is kept: cased embedding models see it.

Untrusted text (queries, titles, LLM output, file contents) is shown by both doors through
`safe_text`: the headless tables and errors, and the TUI's widgets (`tui.text.plain`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

# C0/C1 controls, and the Unicode bidi controls (LRM, RLM, ALM, embeddings, overrides, isolates)
# that would reorder what is shown around them ("Trojan Source"): all shown as escapes
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def normalise(text: str) -> str:
    # str.split() splits on exactly the characters `\s` matches (str.isspace), 4x faster
    return " ".join(unicodedata.normalize("NFKC", text).split())


def text_hash(text: str) -> str:
    """32 hex chars of BLAKE2b over the normalised text."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).hexdigest()


def safe_text(value: Any, limit: int | None = None, *, one_line: bool = False) -> str:
    """`value` made inert for a terminal: control characters shown as escapes (`\\x1b`), so
    no escape sequence reaches the terminal, and bidi controls too (`\\u202e`), so none
    reorders the text; clipped to `limit` with "…"; with `one_line`, line breaks and tabs
    first become one space. Rich markup is the caller's business: show
    the result through `Text` or with markup off."""
    s = "" if value is None else str(value)
    if one_line:
        s = _LINE_BREAKS.sub(" ", s)
    s = _CONTROL.sub(_visible, s)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def _visible(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]
