"""Incremental reading of a top-level JSON array, one element at a time.

The packaged ShareGPT file (125 MB) is cut off mid-record, so `json.load` fails on it. Decoding
element by element with the C `raw_decode` keeps every complete record, stops cleanly at the cut,
and holds one chunk plus one record in memory whatever the file size. One bad element (bad
syntax, nesting too deep for the decoder, bytes that are not UTF-8) is reported in its place and
reading goes on after it, as a bad line is in JSON Lines: it never costs the rest of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from lmsys_tui.core.sources.base import BAD_BYTES, BadReason, has_bad_bytes

_CHUNK = 1 << 20
_WS = " \t\r\n"
_STRUCTURE = re.compile(r'["\[\]{},]')
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def iter_json_array(stream: IO[str], chunk_size: int = _CHUNK) -> Iterator[tuple[int, Any]]:
    """Yield (index, element) of the JSON array in `stream`.

    An element that does not decode yields `BadReason.INVALID_JSON` in its place, one holding
    bytes that are not UTF-8 (`stream` decoded with errors="surrogateescape") yields
    `BadReason.INVALID_UTF8`. Raises ValueError if the stream is not an array; a truncated final
    element ends the iteration quietly, after every complete element before it (the packaged
    ShareGPT file ends that way, so the cut is not an error and is not counted as a bad row).
    """
    decoder = json.JSONDecoder()
    buf = stream.read(chunk_size)
    pos = _skip_ws(buf, 0)
    if pos >= len(buf) or buf[pos] != "[":
        raise ValueError("not a JSON array")
    pos += 1
    index = 0
    eof = False
    dirty = has_bad_bytes(buf)  # only then is each element searched for them
    while True:
        pos = _skip_ws(buf, pos)
        if pos < len(buf) and buf[pos] == ",":
            pos = _skip_ws(buf, pos + 1)
        if pos < len(buf) and buf[pos] == "]":
            return
        value, end = _decode(decoder, buf, pos, eof)
        if end is None:  # the element goes on past the buffer
            if eof:
                return  # truncated final element
            more = stream.read(chunk_size)
            eof = not more
            buf = buf[pos:] + more
            pos = 0
            dirty = has_bad_bytes(buf)
            continue
        yield index, BadReason.INVALID_UTF8 if dirty and BAD_BYTES.search(buf, pos, end) else value
        index += 1
        pos = end


def _decode(decoder: json.JSONDecoder, buf: str, pos: int, eof: bool) -> tuple[Any, int | None]:
    """(element, end) of the element at `pos`; end is None when more text is needed."""
    if pos >= len(buf):
        return None, None
    try:
        value, end = decoder.raw_decode(buf, pos)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return BadReason.INVALID_JSON, _element_end(buf, pos)
    if isinstance(value, dict | list):
        return value, end
    # a number cut by the chunk edge decodes short ("3." of "3.5"): a scalar is whole only
    # when a comma or the closing bracket follows it
    after = _skip_ws(buf, end)
    if after >= len(buf):
        return (value, end) if eof else (None, None)
    if buf[after] in ",]":
        return value, end
    return BadReason.INVALID_JSON, _element_end(buf, pos)


def _element_end(buf: str, pos: int) -> int | None:
    """Where the element starting at `pos` ends, found from brackets and strings alone.

    Used only for an element the decoder refused: either it is cut by the buffer's end (None:
    read more) or it is bad and is skipped up to its closing bracket or the next comma.
    """
    depth = 0
    i = pos
    while match := _STRUCTURE.search(buf, i):
        char = match.group()
        i = match.end()
        if char == '"':
            string = _STRING.match(buf, match.start())
            if string is None:
                return None
            i = string.end()
        elif char in "[{":
            depth += 1
        elif depth == 0:  # "," or a bracket closing nothing of this element
            return match.start() if char in ",]" else i
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _skip_ws(buf: str, pos: int) -> int:
    n = len(buf)
    while pos < n and buf[pos] in _WS:
        pos += 1
    return pos
