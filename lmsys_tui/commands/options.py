"""Option types shared by the headless commands (names as in the reference `lmsys` CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DbPath = Annotated[
    Path | None,
    typer.Option("--db-path", help="SQLite store (default: $LMSYS_TUI_HOME/queries.db)."),
]
ChromaPath = Annotated[
    Path | None,
    typer.Option("--chroma-path", help="Chroma folder (default: $LMSYS_TUI_HOME/chroma)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (nothing else).")]
Xml = Annotated[bool, typer.Option("--xml", help="Print XML on stdout.")]
