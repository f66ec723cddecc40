"""The headless interface: every command's options, as `--help` shows them.

`tests/golden/headless-help.txt` holds the `--help` of every headless command and group (as
printed to a pipe: 78 columns), so a change to a shared option shows as a reviewed diff of
every command it reaches. After a deliberate change, rewrite it with
`LMSYS_TUI_UPDATE_GOLDEN=1 pytest tests/unit/test_command_params.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import typer
from typer.testing import CliRunner

from lmsys_tui.cli import build_headless_app

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "headless-help.txt"
UPDATE = os.environ.get("LMSYS_TUI_UPDATE_GOLDEN") == "1"


def _paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*path, name))
    return found


def test_every_commands_help_matches_the_golden_file() -> None:
    app = build_headless_app()
    runner = CliRunner()
    parts = []
    for path in _paths(typer.main.get_command(app)):
        # CliRunner forces 80 columns; a pipe gets Click's fallback, 80 - 2
        res = runner.invoke(
            app, [*path, "--help"], prog_name="lmsys-tui --headless", terminal_width=78
        )
        assert res.exit_code == 0, res.output
        parts.append(f"==== {' '.join(('lmsys-tui --headless', *path))} --help\n{res.output}")
    text = "".join(parts)
    if UPDATE:
        GOLDEN.write_text(text, encoding="utf-8")
        return
    assert text == GOLDEN.read_text(encoding="utf-8"), (
        "a command's --help changed: if that is meant, rewrite tests/golden/headless-help.txt"
        " with LMSYS_TUI_UPDATE_GOLDEN=1 and review the diff"
    )
