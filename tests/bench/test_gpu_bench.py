"""The GPU path, runnable as is on a machine with CUDA (and on a CPU, the same code path).

Run: pytest tests/bench/test_gpu_bench.py -s
     LMSYS_BENCH_DEVICE=cuda|cpu (default: cuda when torch sees it), LMSYS_BENCH_TEXTS (default
     20,000 on CUDA, 600 on a CPU), LMSYS_BENCH_BATCH (default 64; x8 on CUDA, as the stage).

Bare `SentenceTransformer.encode` (fp32, its own length sort, same batch size) against our torch
encoder through the embedding stage's pipeline: texts sorted longest first, fp16 weights on
CUDA, the next batch tokenised in a thread while the model runs this one. Prints texts/s of
both and the ratio, and the per-text cosine between the two (fp16 must stay >= 0.999).
"""

from __future__ import annotations

import os
import time
from itertools import islice

import numpy as np

from lmsys_tui.core.embed import resolve_space
from lmsys_tui.core.embed.encoders import TorchEncoder, encode_batches
from lmsys_tui.core.embed.model import gpu_device, load_sentence_transformer
from lmsys_tui.core.embed.space import model_source
from lmsys_tui.core.embed.stage import GPU_BATCH_SCALE
from lmsys_tui.core.sources import sharegpt
from lmsys_tui.core.sources.base import Conversation
from lmsys_tui.core.text import normalise


def test_gpu_path_against_bare_encode() -> None:
    device = os.environ.get("LMSYS_BENCH_DEVICE") or ("cuda" if gpu_device() == "cuda" else "cpu")
    n = int(os.environ.get("LMSYS_BENCH_TEXTS", "20000" if device == "cuda" else "600"))
    batch = int(os.environ.get("LMSYS_BENCH_BATCH", "64")) * (
        GPU_BATCH_SCALE if device == "cuda" else 1
    )
    convs = (c for c in sharegpt.read() if isinstance(c, Conversation))
    texts = list(dict.fromkeys(normalise(c.text) for c in islice(convs, n * 2)))[:n]
    space = resolve_space()
    st = load_sentence_transformer(model_source(space), device)
    ours = TorchEncoder(space, device)
    st.encode(texts[:64], batch_size=64)
    ours.encode(texts[:64])

    t = time.perf_counter()
    bare = st.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)
    bare_s = time.perf_counter() - t

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batches = ((order[i : i + batch], [texts[j] for j in order[i : i + batch]])
               for i in range(0, len(order), batch))  # fmt: skip
    got = np.zeros_like(bare)
    t = time.perf_counter()
    for rows, X, _ok in encode_batches(ours, batches):
        got[rows] = X
    ours_s = time.perf_counter() - t

    cos = (got * bare).sum(axis=1)
    print(f"\n{len(texts):,} ShareGPT first turns on {device}, batch {batch}")
    print(f"bare SentenceTransformer.encode: {len(texts) / bare_s:10.1f} texts/s")
    print(
        f"ours ({ours.name}, overlapped):  {len(texts) / ours_s:10.1f} texts/s"
        f" ({bare_s / ours_s:.2f}x bare)"
    )
    print(f"cosine to bare: min {cos.min():.5f} mean {cos.mean():.6f}")
    assert cos.min() >= 0.999
