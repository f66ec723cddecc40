"""The hierarchy embeds its node titles with the run's cached ONNX export when the embedding
stage left one: a merge then never imports torch (~2-4 s of every start, so of every restart
after a kill). The vectors are fp32 (torch's), whatever variant embedded the queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch_free import assert_no_torch_import, run_row

from lmsys_tui.core.embed import embed_texts
from lmsys_tui.core.embed.onnx_export import export_dir, has_export
from lmsys_tui.core.hierarchy.leaves import text_vectors

pytestmark = pytest.mark.slow

TITLES = ["Python script errors", "SQL joins", "Marketing plan for a bakery", ""]


def test_title_vectors_with_the_export_never_import_torch(sample, home: Path) -> None:
    sample.copy_to(home)  # the home's cache holds the sample's export
    assert has_export(sample.space, home / "cache")
    code = (
        "from lmsys_tui.core.hierarchy.leaves import text_vectors\n"
        f"v = text_vectors({run_row(sample.space)!r}, {TITLES!r})\n"
        "assert v is not None and v.shape == (4, 384), v\n"
    )
    assert_no_torch_import(home, code)


def test_title_vectors_agree_with_torch_and_need_no_export(sample, home: Path) -> None:
    got = text_vectors(run_row(sample.space), TITLES)  # no export in this home: torch
    assert got is not None
    assert not export_dir(home / "cache", sample.space).exists()
    sample.copy_to(home)
    via_export = text_vectors(run_row(sample.space), TITLES)
    ref = embed_texts(sample.space, [t or "-" for t in TITLES], backend="torch")
    assert via_export is not None
    assert (via_export * ref).sum(axis=1).min() > 0.99
    assert np.allclose(got, ref, atol=1e-5)
