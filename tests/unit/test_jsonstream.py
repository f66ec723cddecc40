"""Incremental JSON array reading: every complete element, whatever the chunking."""

from __future__ import annotations

import io
import json

import pytest

from lmsys_tui.core.sources.jsonstream import iter_json_array

RECORDS = [
    {"id": "a_0", "conversations": [{"from": "human", "value": "x" * 50}]},
    {"id": "b", "n": 12345, "nested": {"list": [1, 2.5, None, True, "]},{"]}},
    [1, 2, 3],
    "plain string with \\u00e9 and ] brackets",
    1234567,
    None,
]


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_complete_array_matches_json_loads(chunk: int) -> None:
    text = json.dumps(RECORDS, indent=2)
    got = [v for _, v in iter_json_array(io.StringIO(text), chunk_size=chunk)]
    assert got == json.loads(text)


@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_truncated_array_keeps_every_complete_element(chunk: int) -> None:
    text = json.dumps(RECORDS, indent=2)
    cut = text[: text.index('"plain string') + 10]  # cut inside the 4th element
    got = [v for _, v in iter_json_array(io.StringIO(cut), chunk_size=chunk)]
    assert got == RECORDS[:3]


def test_number_cut_at_chunk_edge_is_not_truncated() -> None:
    text = "[1234567890, 5]"
    got = [v for _, v in iter_json_array(io.StringIO(text), chunk_size=4)]
    assert got == [1234567890, 5]


def test_not_an_array_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JSON array"):
        list(iter_json_array(io.StringIO('{"a": 1}')))


def test_packaged_sharegpt_file_is_truncated_but_yields_its_records() -> None:
    from lmsys_tui.core.sources.sharegpt import packaged_path

    path = packaged_path()
    with open(path, encoding="utf-8") as fh, pytest.raises(json.JSONDecodeError):
        json.load(fh)
    with open(path, encoding="utf-8") as fh:
        count = sum(1 for _ in iter_json_array(fh))
    # ShareGPT V3 as packaged: 17,671 complete records before the cut
    assert 17_000 < count < 18_500
