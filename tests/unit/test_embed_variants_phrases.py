"""Offline phrase ranking encodes its phrases with the cached fp32 ONNX export (no torch import,
torch's vectors) and falls back to torch only without one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch_free import assert_no_torch_import, run_row

from lmsys_tui.core.cluster.phrases import candidates, rank, run_encoder
from lmsys_tui.core.embed import embed_texts
from lmsys_tui.core.embed.onnx_export import export_dir, has_export

pytestmark = pytest.mark.slow


def test_phrases_rank_the_same_with_the_export_as_with_torch(sample, home: Path) -> None:
    sample.copy_to(home)  # the home's cache holds the sample's export
    assert has_export(sample.space, home / "cache")
    texts = sample.real_texts[:120]
    groups = {c: texts[c::4] for c in range(4)}
    X = embed_texts(sample.space, texts, backend="torch", cache_dir=home / "cache")
    centroids = {c: X[c::4].mean(axis=0) for c in range(4)}
    found = candidates(groups)
    encode = run_encoder(run_row(sample.space))
    assert encode is not None
    phrases = sorted({p for cands in found.values() for p, _, _ in cands})
    got = encode(phrases)
    ref = embed_texts(sample.space, phrases, backend="torch", cache_dir=home / "cache")
    assert got is not None and (got * ref).sum(axis=1).min() > 0.99
    assert rank(found, centroids, encode) == rank(
        found, centroids, lambda t: embed_texts(sample.space, t, backend="torch")
    )


def test_phrase_encoding_with_the_export_never_imports_torch(sample, home: Path) -> None:
    sample.copy_to(home)
    code = (
        "from lmsys_tui.core.cluster.phrases import run_encoder\n"
        f"enc = run_encoder({run_row(sample.space)!r})\n"
        "v = enc(['python script', 'sql joins', 'marketing plan'])\n"
        "assert v.shape == (3, 384), v.shape\n"
    )
    assert_no_torch_import(home, code)


def test_without_an_export_phrases_use_torch_and_export_nothing(sample, home: Path) -> None:
    encode = run_encoder(run_row(sample.space))
    assert encode is not None
    got = encode(["python script", "sql joins"])
    assert got is not None and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert not export_dir(home / "cache", sample.space).exists()
