"""Import hygiene: the headless door never imports textual, start paths import nothing heavy.

Each case runs the real CLI in a fresh interpreter that records `sys.modules` at exit (the
CLI ends in SystemExit, so the record is written by an atexit hook) and checks what was
imported. The cases also check the command worked, so a probe that died early cannot pass.
The import-linter contracts in pyproject.toml are run too (`lint-imports`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = (
    "torch",
    "sentence_transformers",
    "chromadb",
    "sklearn",
    "datasets",
    "anthropic",
    "openai",
    "instructor",
)
ORM = ("sqlalchemy", "sqlmodel")

CLI_PROBE = """
import atexit, json, sys
record, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: json.dump(sorted(sys.modules), open(record, "w")))
sys.argv = ["lmsys-tui", *args]
from lmsys_tui.cli import main
main()
"""

# The TUI's start path, as `lmsys-tui` takes it (cli._tui -> run_app), up to the runs screen
# showing the store; run headless through Pilot because a test has no terminal.
TUI_PROBE = """
import asyncio, json, sys
record = sys.argv[1]
from lmsys_tui.config import load_settings
from lmsys_tui.tui.app import LmsysApp

async def first_paint():
    app = LmsysApp(load_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        return app.screen.query_one("#datasets").row_count

rows = asyncio.run(first_paint())
json.dump({"rows": rows, "modules": sorted(sys.modules)}, open(record, "w"))
"""


def _imported(names: list[str], package: str) -> bool:
    return any(n == package or n.startswith(package + ".") for n in names)


def _probe(code: str, args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[Any, Any]:
    record = tmp_path / "modules.json"
    record.unlink(missing_ok=True)
    res = subprocess.run(
        [sys.executable, "-c", code, str(record), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert record.exists(), res.stderr
    return res, json.loads(record.read_text())


@pytest.fixture
def loaded_home(store: Any) -> Path:
    """A store with one small dataset, so the listing commands read real rows."""
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo

    convs = [Conversation(f"c{i}", f"question number {i}", language="en") for i in range(4)]
    run_load(store, iter(convs), SourceInfo("file", None, "probe-set", detect_language=False))
    return store.path


def test_headless_help_imports_no_textual_and_nothing_heavy(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    res, modules = _probe(CLI_PROBE, ["--headless", "--help"], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "runs" in res.stdout and "load" in res.stdout
    for package in ("textual", *HEAVY, *ORM):
        assert not _imported(modules, package), package


def test_headless_help_lists_every_command_without_importing_them(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`--help` lists the commands from actions.py without importing their modules, and lists
    them exactly as the fully built app (every module imported) does."""
    from typer.testing import CliRunner

    from lmsys_tui.cli import build_headless_app

    res, modules = _probe(CLI_PROBE, ["--headless", "--help"], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert not _imported(modules, "lmsys_tui.commands"), "a command module was imported"
    helps = [
        CliRunner().invoke(build_headless_app(args), ["--help"], prog_name="lmsys-tui --headless")
        for args in (None, ["--help"])  # all commands imported; as main() builds it
    ]
    assert helps[0].exit_code == helps[1].exit_code == 0
    assert "search-cluster" in helps[1].output
    assert helps[0].output == helps[1].output
    res, modules = _probe(CLI_PROBE, ["--headless", "-v", "chroma", "--help"], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "info" in res.stdout
    assert _imported(modules, "lmsys_tui.commands.embed")
    assert not _imported(modules, "lmsys_tui.commands.data")


@pytest.mark.parametrize(
    ("command", "expect"),
    [("runs", '"runs": []'), ("datasets", "probe-set"), ("status", '"queries": 4')],
)
def test_listing_commands_skip_textual_and_the_orm(
    loaded_home: Path, cli_env: dict[str, str], tmp_path: Path, command: str, expect: str
) -> None:
    res, modules = _probe(CLI_PROBE, ["--headless", command, "--json"], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    json.loads(res.stdout)
    assert expect in res.stdout
    assert _imported(modules, "lmsys_tui.core.read.catalog")
    for package in ("textual", *HEAVY, *ORM):
        assert not _imported(modules, package), package


def test_tui_start_reads_the_store_without_orm_or_heavy_imports(
    loaded_home: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    res, record = _probe(TUI_PROBE, [], cli_env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert record["rows"] == 1
    modules = record["modules"]
    assert _imported(modules, "textual")
    for package in (*HEAVY, *ORM):
        assert not _imported(modules, package), package


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter (dev extra) is not installed")
    res = subprocess.run(
        [str(lint), "--no-cache"],  # reads [tool.importlinter] from ./pyproject.toml
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout
    for contract in ("Inside core", "Inside tui", "No import circles"):
        assert contract in res.stdout, contract  # the layers inside each package are checked
