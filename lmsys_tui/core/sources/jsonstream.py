"""Incremental reading of a top-level JSON array, one element at a time.

The packaged ShareGPT file (125 MB) is cut off mid-record, so `json.load` fails on it. Decoding
element by element with the C `raw_decode` keeps every complete record, stops cleanly at the cut,
and holds one chunk plus one record in memory whatever the file size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

_CHUNK = 1 << 20
_WS = " \t\r\n"


def iter_json_array(stream: IO[str], chunk_size: int = _CHUNK) -> Iterator[tuple[int, Any]]:
    """Yield (index, element) of the JSON array in `stream`.

    Raises ValueError if the stream is not an array; a truncated final element ends the
    iteration quietly, after every complete element before it (the packaged ShareGPT file
    ends that way, so the cut is not an error and is not counted as a bad row).
    """
    decoder = json.JSONDecoder()
    buf = stream.read(chunk_size)
    pos = _skip_ws(buf, 0)
    if pos >= len(buf) or buf[pos] != "[":
        raise ValueError("not a JSON array")
    pos += 1
    index = 0
    eof = False
    while True:
        pos = _skip_ws(buf, pos)
        if pos < len(buf) and buf[pos] == ",":
            pos = _skip_ws(buf, pos + 1)
        if pos < len(buf) and buf[pos] == "]":
            return
        try:
            if pos >= len(buf):
                raise json.JSONDecodeError("need more", buf, pos)
            value, end = decoder.raw_decode(buf, pos)
            # a number or literal cut by the chunk edge would decode short; re-read to be sure
            if end >= len(buf) and not eof:
                raise json.JSONDecodeError("at chunk edge", buf, end)
        except json.JSONDecodeError:
            if eof:
                return  # truncated final element
            more = stream.read(chunk_size)
            if not more:
                eof = True
            buf = buf[pos:] + more
            pos = 0
            continue
        yield index, value
        index += 1
        pos = end


def _skip_ws(buf: str, pos: int) -> int:
    n = len(buf)
    while pos < n and buf[pos] in _WS:
        pos += 1
    return pos
