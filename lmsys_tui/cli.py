"""Entry point: `lmsys-tui` opens the TUI; `lmsys-tui --headless CMD` runs a command.

The headless door never imports textual, and neither door imports torch, chromadb or the LLM
SDKs at start: every command imports what it needs inside its function.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from lmsys_tui import __version__
from lmsys_tui.actions import ACTIONS, GROUPS
from lmsys_tui.core.demo import DemoOptions

HEADLESS = "--headless"


def _version(value: bool) -> None:
    if value:
        print(f"lmsys-tui {__version__}")
        raise typer.Exit()


Version = Annotated[
    bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
]


def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")
    ] = False,
    version: Version = False,
) -> None:
    """lmsys-tui headless mode: every TUI action as a command, `--json` on each.

    Exit codes: 0 ok, 1 failed (also a `verify sync` mismatch), 2 usage or bad input, 3 not
    found, 4 needs a key, login or network, 130 interrupted (committed work is kept), 141
    stdout closed early.
    """
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _listed_only(**_: Any) -> None:
    """Stands in for a command that this process does not run (see build_headless_app)."""


def first_word(args: list[str]) -> str | None:
    """The command (or group) a headless command line names: its first non-option word (the
    root's options are all flags, so no option value can be taken for it)."""
    return next((a for a in args if not a.startswith("-")), None)


def build_headless_app(args: list[str] | None = None) -> typer.Typer:
    """The headless CLI. Given the command line `args`, only the commands under its first word
    import their module; the others are registered by name and help alone, so `--help` lists
    them all without importing every command module (start-up ~0.1 s less)."""
    only = first_word(args) if args is not None else None
    app = typer.Typer(
        name="lmsys-tui --headless",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # plain click help: Rich's help renderer alone costs ~0.18 s of start-up here
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    groups: dict[str, typer.Typer] = {}
    for action in ACTIONS:
        if not action.command or not action.target:
            continue
        *group_path, name = action.command.split()
        parent = app
        for part in group_path:
            if part not in groups:
                groups[part] = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
                app.add_typer(groups[part], name=part, help=GROUPS[part])
            parent = groups[part]
        wanted = args is None or action.command.split()[0] == only
        target = _resolve(action.target) if wanted else _listed_only
        parent.command(name, help=action.help)(target)
    return app


def _tui(
    db_path: Annotated[Path | None, typer.Option("--db-path", help="SQLite store.")] = None,
    chroma_path: Annotated[
        Path | None, typer.Option("--chroma-path", help="Chroma folder.")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Open this run.")] = None,
    version: Version = False,
) -> None:
    """lmsys-tui: explore how people use LLMs. `lmsys-tui --headless --help` lists commands."""
    from lmsys_tui.config import load_settings
    from lmsys_tui.tui.app import run_app

    run_app(load_settings(db_path, chroma_path), run_id=run_id)


def _demo(
    limit: Annotated[
        int, typer.Option(help="Conversations of the packaged ShareGPT data to use.")
    ] = DemoOptions.limit,
    db_path: Annotated[Path | None, typer.Option("--db-path", help="SQLite store.")] = None,
) -> None:
    """Build the demo store (offline stages) if it is not there yet, then open its tree."""
    from lmsys_tui.config import load_settings
    from lmsys_tui.errors import UsageError
    from lmsys_tui.tui.app import run_app

    try:
        opts = DemoOptions(limit=limit)
    except UsageError as exc:
        raise typer.BadParameter(exc.message) from None
    run_app(load_settings(db_path), demo_limit=opts.limit)


def _terminated(_signum: int, _frame: object) -> None:
    """SIGTERM ends a headless command as Ctrl-C does: the stage records its work as
    `cancelled` and the command exits 130, never leaving a pass `running`."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if HEADLESS in args:
        args.remove(HEADLESS)
        main_thread = threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
        try:
            app = build_headless_app(args)
            app(args=args, prog_name="lmsys-tui --headless")
        finally:
            if before is not None:  # None also when the old handler was not set from Python
                signal.signal(signal.SIGTERM, before)
        return
    if args[:1] == ["demo"]:
        demo = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        demo.command()(_demo)
        demo(args=args[1:], prog_name="lmsys-tui demo")
        return
    tui = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    tui.command()(_tui)
    tui(args=args, prog_name="lmsys-tui")
