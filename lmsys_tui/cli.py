"""Entry point: `lmsys-tui` opens the TUI; `lmsys-tui --headless CMD` runs a command.

The headless door never imports textual, and neither door imports torch, chromadb or the LLM
SDKs at start: every command imports what it needs inside its function.
"""

from __future__ import annotations

import importlib
import inspect
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

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


GROUP_DEFAULTS = {"cluster": "kmeans"}
"""A group run with options and no sub-command runs this one: `cluster --n-clusters 50` is
`cluster kmeans --n-clusters 50`, as the reference's quick start writes it."""


def _group_default(command: Any) -> Any:
    """A group callback taking `command`'s parameters that runs it when no sub-command is
    named (with no arguments at all the group still prints its help)."""
    signature = inspect.signature(command)

    def callback(ctx: typer.Context, **values: Any) -> None:
        if ctx.invoked_subcommand is None:
            command(**values)

    ctx = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    everything = [ctx, *signature.parameters.values()]
    callback.__signature__ = signature.replace(parameters=everything)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in everything}
    callback.__doc__ = command.__doc__
    return callback


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
        group = " ".join(group_path)
        if wanted and GROUP_DEFAULTS.get(group) == name:
            groups[group].callback(invoke_without_command=True)(_group_default(target))
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


def _run(app: typer.Typer, args: list[str], prog_name: str) -> NoReturn:
    """Run a door's Typer app with Click's errors in the one-line `error: ...` form every
    other error has (Click would print usage, a hint and a boxed message on three lines)."""
    try:
        from typer._click import exceptions as click  # newer typer vendors click here
    except ImportError:
        from click import exceptions as click

    try:
        code = typer.main.get_command(app).main(
            args=args, prog_name=prog_name, standalone_mode=False
        )
    except click.NoArgsIsHelpError as exc:
        exc.show()  # no arguments at all: the help is the answer
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        _error(f"{exc.format_message()}{where}", exc.exit_code)
    except click.ClickException as exc:
        _error(exc.format_message(), exc.exit_code)
    except typer.Abort:
        _error("aborted", 1)
    # as Click's standalone mode ends: always SystemExit, with typer.Exit(n)'s or Ctrl-C's
    # (130, outside a command) code, else 0
    raise SystemExit(code if isinstance(code, int) else 0)


def _error(message: str, code: int) -> NoReturn:
    from lmsys_tui.core.text import safe_text

    print(f"error: {safe_text(message, one_line=True)}", file=sys.stderr, flush=True)
    raise SystemExit(code)


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
            _run(build_headless_app(args), args, "lmsys-tui --headless")
        finally:
            if before is not None:  # None also when the old handler was not set from Python
                signal.signal(signal.SIGTERM, before)
        return
    if args[:1] == ["demo"]:
        demo = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        demo.command()(_demo)
        _run(demo, args[1:], "lmsys-tui demo")
        return
    if args[:1] == ["serve"]:
        from lmsys_tui.commands.serve import serve

        web = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        web.command()(serve)
        web(args=args[1:], prog_name="lmsys-tui serve")
        return
    tui = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    tui.command()(_tui)
    _run(tui, args, "lmsys-tui")
