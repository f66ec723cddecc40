"""`lmsys-tui serve`: the TUI in a web browser (textual-serve), for a colleague without a
terminal. Each browser tab starts its own `lmsys-tui` process on this machine's store.

Bound to 127.0.0.1 by default: the page drives a full session (it can delete runs), so it is
not offered to the network unless `--host` says so. Not a headless command: it serves the
TUI, so it sits beside `demo` in cli.py.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def tui_command(db_path: Path | None, run_id: str | None) -> str:
    """The shell command each browser session runs: this Python, this package, this store."""
    parts = [sys.executable, "-m", "lmsys_tui"]
    if db_path is not None:
        parts += ["--db-path", str(db_path.expanduser().resolve())]
    if run_id is not None:
        parts += ["--run-id", run_id]
    return shlex.join(parts)


def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind. Default 127.0.0.1: only this machine can open the page; "
            "0.0.0.0 offers the full TUI (deleting included) to the whole network."
        ),
    ] = DEFAULT_HOST,
    db_path: Annotated[Path | None, typer.Option("--db-path", help="SQLite store.")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Open this run.")] = None,
) -> None:
    """Serve the TUI to a web browser (textual-serve), on 127.0.0.1:8000 by default."""
    if not 0 < port < 65536:
        raise typer.BadParameter("--port must be between 1 and 65535")
    try:
        from textual_serve.server import Server
    except ImportError:
        print(
            "error: serve needs textual-serve (pip install 'lmsys-tui[serve]')",
            file=sys.stderr,
        )
        raise typer.Exit(4) from None
    print(f"lmsys-tui serving on http://{host}:{port} (Ctrl+C stops)", file=sys.stderr)
    Server(tui_command(db_path, run_id), host=host, port=port, title="lmsys-tui").serve()
