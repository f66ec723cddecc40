"""Shared test set-up: an isolated home for every test, offline hubs, snapshots in ../snapshots.

Tests never touch the real home directory: LMSYS_TUI_HOME points at a temp dir for the whole
session (so subprocesses inherit it) and at a fresh one per test. API keys are removed so no
test can reach a paid service by accident; hubs are forced offline.

The fixtures several test modules share live here, once: the stores they build come from the
fixture modules beside this file (cluster_seed, embed_sample, search_fixtures,
summary_fixtures, tui_store), imported inside each fixture so a test pays only for its own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def db_rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Every row of `sql` on the store file `db`, as tuples (a check on what a stage wrote)."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


@pytest.fixture
def anyio_backend() -> str:
    """Textual's Pilot runs on asyncio only."""
    return "asyncio"


# -- stores built by the fixture modules ------------------------------------------------------


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Real ShareGPT first turns embedded with the real MiniLM, once per process."""
    import embed_sample

    return embed_sample.get(tmp_path_factory)


@pytest.fixture
def filled(sample: Any, home: Path) -> Iterator[Any]:
    """The test's own open copy of the embedded `sample`."""
    from lmsys_tui.core.store.db import open_store

    store = open_store(sample.copy_to(home))
    yield store
    store.close()


@pytest.fixture
def seeded(home: Path) -> Iterator[Any]:
    """The open store of cluster_seed's embedded sample (no run yet)."""
    from cluster_seed import seeded_home

    from lmsys_tui.core.store.db import open_store

    seeded_home(home)
    s = open_store(home / "queries.db")
    yield s
    s.close()


@pytest.fixture
def runs(home: Path) -> dict[str, str]:
    """cluster_seed's clustered home: run ids by algorithm."""
    from cluster_seed import clustered_home

    return clustered_home(home)


@pytest.fixture
def db(home: Path) -> Path:
    """summary_fixtures' clustered ShareGPT store (real queries and model), its path."""
    from summary_fixtures import clustered_store

    return clustered_store(home)


@pytest.fixture
def cstore(db: Path) -> Iterator[Any]:
    """The `db` store, open."""
    from lmsys_tui.core.store.db import open_store

    s = open_store(db)
    yield s
    s.close()


@pytest.fixture(scope="module")
def seed() -> Any:
    """search_fixtures' searchable store (queries, vectors, Chroma), once per module."""
    from search_fixtures import search_seed

    return search_seed()


@pytest.fixture
def fx(store: Any) -> Any:
    """tui_store's fixed store for the explorer: a run with passes and a hierarchy."""
    import tui_store

    return tui_store.build(store)


@pytest.fixture
def server() -> Iterator[Any]:
    """The local LLM server (tests/llm_server.py) the real SDKs talk to."""
    from llm_server import LLMServer

    with LLMServer() as srv:
        yield srv
