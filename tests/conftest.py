"""Shared test set-up: an isolated home for every test, offline hubs, snapshots in ../snapshots.

Tests never touch the real home directory: LMSYS_TUI_HOME points at a temp dir for the whole
session (so subprocesses inherit it) and at a fresh one per test. API keys are removed so no
test can reach a paid service by accident; hubs are forced offline.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "snapshots"

_SESSION_HOME = tempfile.mkdtemp(prefix="lmsys-tui-test-home-")
os.environ["LMSYS_TUI_HOME"] = _SESSION_HOME
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"
for _var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY", "COHERE_API_KEY", "NO_COLOR"):
    os.environ.pop(_var, None)


def _use_top_level_snapshots() -> None:
    """pytest-textual-snapshot 1.1 has no option for the folder; rebind its extension."""
    try:
        import pytest_textual_snapshot as pts
    except ImportError:  # pragma: no cover - dev extra not installed
        return

    class TopLevelSVGExtension(pts.SVGImageExtension):
        @classmethod
        def dirname(cls, *, test_location):  # type: ignore[no-untyped-def]
            return str(SNAPSHOTS / Path(test_location.filepath).stem)

    pts.SVGImageExtension = TopLevelSVGExtension


_use_top_level_snapshots()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LMSYS_TUI_HOME for each test."""
    path = tmp_path / "home"
    monkeypatch.setenv("LMSYS_TUI_HOME", str(path))
    return path


@pytest.fixture
def store(home: Path) -> Iterator[object]:
    from lmsys_tui.core.store.db import open_store

    s = open_store(home / "queries.db")
    yield s
    s.close()


@pytest.fixture
def cli_env(home: Path) -> dict[str, str]:
    """Environment for running `lmsys-tui` in a subprocess against the test's home."""
    env = dict(os.environ)
    env["LMSYS_TUI_HOME"] = str(home)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_cli(args: list[str], env: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    """Run `lmsys-tui ARGS` as a real process (python -m, so no PATH assumptions)."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "lmsys_tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 300),
        **kw,
    )
