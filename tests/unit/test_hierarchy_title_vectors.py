"""The hierarchy embeds its node titles with the run's cached ONNX export when the embedding
stage left one: a merge then never imports torch (~2-4 s of every start, so of every restart
after a kill), and the titles land in the space the centroids came from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmsys_tui.core.embed import embed_texts
from lmsys_tui.core.embed.onnx_export import export_dir, has_export
from lmsys_tui.core.hierarchy.leaves import text_vectors

pytestmark = pytest.mark.slow

TITLES = ["Python script errors", "SQL joins", "Marketing plan for a bakery", ""]


def _run(space) -> dict:
    return {
        "embedding_provider": space.provider,
        "embedding_model": space.model,
        "embedding_dim": space.dim,
    }


def test_title_vectors_with_the_export_never_import_torch(sample, home: Path) -> None:
    sample.copy_to(home)  # the home's cache holds the sample's export
    assert has_export(sample.space, home / "cache")
    code = (
        "import sys\n"
        "from lmsys_tui.core.hierarchy.leaves import text_vectors\n"
        f"v = text_vectors({_run(sample.space)!r}, {TITLES!r})\n"
        "assert v is not None and v.shape == (4, 384), v\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "LMSYS_TUI_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_title_vectors_agree_with_torch_and_need_no_export(sample, home: Path) -> None:
    got = text_vectors(_run(sample.space), TITLES)  # no export in this home: torch
    assert got is not None
    assert not export_dir(home / "cache", sample.space).exists()
    sample.copy_to(home)
    via_export = text_vectors(_run(sample.space), TITLES)
    ref = embed_texts(sample.space, [t or "-" for t in TITLES], backend="torch")
    assert via_export is not None
    assert (via_export * ref).sum(axis=1).min() > 0.99
    assert np.allclose(got, ref, atol=1e-5)
