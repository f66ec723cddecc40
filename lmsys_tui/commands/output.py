"""How headless commands print: data on stdout, narration on stderr, one-line errors.

`--json` output is identical with or without a TTY and nothing else is ever written to stdout,
so `lmsys-tui --headless X --json | jq` always works. Tables escape untrusted text with the
escaper the TUI uses too (`core.text.safe_text`, kept multi-line here): a query containing
`[bold red]` or escape sequences is shown as written, never interpreted.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from lmsys_tui.core.store.schema import damaged_message
from lmsys_tui.core.text import safe_text
from lmsys_tui.errors import ExitCode, LmsysError, no_room

F = TypeVar("F", bound=Callable[..., Any])


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, markup=False, highlight=False)


def stdout_console() -> Any:
    """The console tables and trees print with; a closed stdout ends it as `_quiet_broken_pipe`
    says (Rich's own handler would exit 1)."""
    from rich.console import Console

    console = Console(markup=False, highlight=False)
    console.on_broken_pipe = _quiet_broken_pipe  # type: ignore[method-assign]
    return console


def note(message: str) -> None:
    """Narration for people: stderr only."""
    print(message, file=sys.stderr, flush=True)


def fail(message: str, code: ExitCode) -> None:
    print(f"error: {safe_text(message)}", file=sys.stderr, flush=True)
    raise SystemExit(int(code))


def handled(func: F) -> F:
    """Turn expected errors into one stderr line and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LmsysError as err:
            fail(err.message, err.code)
        except KeyboardInterrupt:
            fail("interrupted; committed work is kept", ExitCode.INTERRUPTED)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except (SystemExit, Exception) as err:
            if isinstance(err, SystemExit) or type(err).__name__ in {"Exit", "Abort"}:
                raise
            if _damaged(err):
                fail(f"{_store_path(kwargs)}: {damaged_message(err)}", ExitCode.USAGE)
            if (cause := no_room(err)) is not None:
                fail(f"could not write ({cause}): the disk is full or a size limit was reached;"
                     " committed work is kept, run the command again once there is room",
                     ExitCode.FAILED)  # fmt: skip
            if "-v" in sys.argv or "--verbose" in sys.argv:
                raise
            fail(f"{type(err).__name__}: {err} (run with -v for the traceback)", ExitCode.FAILED)

    return wrapper  # type: ignore[return-value]


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (`| head`): stop without a word, as Unix tools do.

    stdout now points at /dev/null, so the interpreter's last flush cannot fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(int(ExitCode.BROKEN_PIPE))


def _damaged(err: BaseException) -> bool:
    """A store SQLite cannot read (damaged, truncated): sqlite3's plain DatabaseError (its
    OperationalError subclass is a lock, a full disk, ...), bare or wrapped by SQLAlchemy."""
    return type(getattr(err, "orig", None) or err) is sqlite3.DatabaseError


def _store_path(kwargs: dict[str, Any]) -> Any:
    from lmsys_tui.config import load_settings

    return load_settings(kwargs.get("db_path")).db


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str, indent=2) + "\n")
    sys.stdout.flush()


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_value(name: str, value: Any, indent: str) -> list[str]:
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)) or "item"
    if tag[0].isdigit() or tag[0] in ".-":
        tag = f"_{tag}"
    if isinstance(value, dict):
        inner = [ln for k, v in value.items() for ln in _xml_value(k, v, indent + "  ")]
        return [f"{indent}<{tag}>", *inner, f"{indent}</{tag}>"]
    if isinstance(value, list | tuple):
        inner = [ln for v in value for ln in _xml_value("item", v, indent + "  ")]
        return [f"{indent}<{tag}>", *inner, f"{indent}</{tag}>"]
    text = "" if value is None else xml_escape(safe_text(value))
    return [f"{indent}<{tag}>{text}</{tag}>"]


def emit_xml(root: str, data: Any) -> None:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', *_xml_value(root, data, "")]
    sys.stdout.write("\n".join(lines) + "\n")


def emit_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, clip: int = 80
) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(Text(safe_text(v, clip)) for v in row))
    stdout_console().print(table)


def emit(
    data: Any,
    params: Mapping[str, Any],
    *,
    root: str = "result",
    table: Callable[[], None] | None = None,
) -> None:
    """`data` as JSON or XML when the command's `params` ask for it (`json_out`, `xml_out`),
    else `table()` for people (nothing without one: the command has said it on stderr)."""
    if params["json_out"]:
        emit_json(data)
    elif params.get("xml_out", False):
        emit_xml(root, data)
    elif table is not None:
        table()


def report(
    summary: Any,
    params: Mapping[str, Any],
    *,
    root: str,
    data: Any = None,
    message: str | None = None,
    table: Callable[[], None] | None = None,
) -> None:
    """What a stage did: its message on stderr for people (then `table`, if any), its dict
    (or `data`) on stdout with --json / --xml."""
    if not params["json_out"] and not params.get("xml_out", False):
        note(summary.message if message is None else message)
    emit(summary.to_dict() if data is None else data, params, root=root, table=table)
