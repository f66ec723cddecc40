"""Helpers for the tests that offline titles use the cached ONNX export and never import torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_row(space: Any) -> dict[str, Any]:
    """The clustering run's columns that name its embedding space."""
    return {
        "embedding_provider": space.provider,
        "embedding_model": space.model,
        "embedding_dim": space.dim,
    }


def assert_no_torch_import(home: Path, code: str) -> None:
    """Run `code` in a fresh interpreter with `home` as LMSYS_TUI_HOME; it must succeed and
    leave torch unimported (a torch import costs 2-4 s of every process that makes one)."""
    env = {**os.environ, "LMSYS_TUI_HOME": str(home)}
    script = f"{code}\nimport sys\nprint('torch' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
