"""Usage errors from the parser (unknown option or command, bad value, missing argument) are
the one-line `error: ...` the README promises, exit 2, in all three doors."""

from __future__ import annotations

import pytest
from conftest import run_cli

from lmsys_tui.errors import ExitCode


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--headless", "load", "--no-such-flag"], "No such option: --no-such-flag"),
        (["--headless", "no-such-command"], "No such command 'no-such-command'"),
        (["--headless", "load", "--limit", "many"], "'--limit'"),
        (["--headless", "search"], "Missing argument"),
        (["--headless", "cluster", "kmeans", "--n-clusters"], "requires an argument"),
        (["--headless", "runs", "extra"], "unexpected extra argument"),
        (["--no-such-flag"], "No such option"),
        (["demo", "--limit", "0"], "--limit must be a positive number"),
    ],
)
def test_parser_errors_are_one_line_exit_2(cli_env, args: list[str], says: str) -> None:
    res = run_cli(args, cli_env)
    assert res.returncode == ExitCode.USAGE, res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert says in lines[0]


def test_no_arguments_still_prints_the_help(cli_env) -> None:
    res = run_cli(["--headless"], cli_env)
    assert "Commands:" in res.stdout + res.stderr
    assert not res.stderr.startswith("error:")


def test_help_and_version_exit_0(cli_env) -> None:
    assert run_cli(["--headless", "load", "--help"], cli_env).returncode == 0
    res = run_cli(["--headless", "--version"], cli_env)
    assert res.returncode == 0 and res.stdout.startswith("lmsys-tui ")
