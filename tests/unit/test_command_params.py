"""The headless interface, and the option groups that declare most of it once.

`tests/golden/headless-help.txt` holds the `--help` of every headless command and group (as
printed to a pipe: 78 columns), so a change to a shared option group shows as a reviewed diff
of every command it reaches. After a deliberate change, rewrite it with
`LMSYS_TUI_UPDATE_GOLDEN=1 pytest tests/unit/test_command_params.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.testing import CliRunner

from lmsys_tui.cli import build_headless_app
from lmsys_tui.commands.params import Params, group, takes

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


COLOUR = group(
    colour=(Annotated[str, typer.Option(help="A colour.")], "red"),
    size=(Annotated[int | None, typer.Option("--size", help="A size.")], None),
)


def test_a_group_joins_the_signature_and_reaches_the_command() -> None:
    got: dict[str, Any] = {}

    @takes(COLOUR)
    def paint(
        name: Annotated[str, typer.Argument(help="What to paint.")],
        coats: Annotated[int, typer.Option(help="Coats.")] = 1,
        *,
        params: Params,
    ) -> None:
        got.update(name=name, coats=coats, params=params)

    app = typer.Typer(rich_markup_mode=None)
    app.command()(paint)
    app.command("other")(lambda: None)  # two commands: `paint` is a subcommand
    runner = CliRunner()
    res = runner.invoke(app, ["paint", "--help"])
    options = [line.split()[0] for line in res.output.splitlines() if line.startswith("  --")]
    assert options == ["--coats", "--colour", "--size", "--help"]

    res = runner.invoke(app, ["paint", "fence", "--size", "3"])
    assert res.exit_code == 0, res.output
    assert (got["name"], got["coats"]) == ("fence", 1)
    params = got["params"]
    assert params == {"name": "fence", "coats": 1, "colour": "red", "size": 3}
    assert (params.colour, params.size) == ("red", 3)
