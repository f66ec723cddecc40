"""A committed batch runs through the graph in calls of CALL_ROWS rows, each cut to its own
longest text: the same fp32 vectors as one call per text, with the real bundled MiniLM export."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lmsys_tui.core.embed import onnx_runtime
from lmsys_tui.core.embed.encoders import get_encoder

pytestmark = pytest.mark.slow


class _Recording:
    """The real session, noting the shape of each call."""

    def __init__(self, session: Any) -> None:
        self.session, self.shapes = session, []

    def run(self, names: Any, feed: dict[str, np.ndarray]) -> Any:
        self.shapes.append(feed["input_ids"].shape)
        return self.session.run(names, feed)


def test_a_batch_runs_in_short_calls_cut_to_their_longest_text(sample) -> None:
    texts = sorted(sample.real_texts[:40], key=len, reverse=True)
    encoder, _ = get_encoder(sample.space, "onnx", sample.cache_dir)
    real = encoder.session  # the encoder is cached for the process: put it back after
    encoder.session = spy = _Recording(real)
    try:
        got, ok = encoder.encode(texts)
    finally:
        encoder.session = real
    assert ok.all()
    rows = onnx_runtime.CALL_ROWS
    assert [shape[0] for shape in spy.shapes] == [
        min(rows, len(texts) - start) for start in range(0, len(texts), rows)
    ]
    widths = [shape[1] for shape in spy.shapes]
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0]  # each call cut
    one_by_one = np.vstack([encoder.encode([t])[0] for t in texts])
    assert np.allclose(got, one_by_one, atol=1e-5)
