"""`verify sync RUN`: SQLite and Chroma agree for a run, by ids and by content; `--fix`.

The check itself succeeding exits 0 whatever it found (as in the reference): the verdict is
`status` ("ok" | "mismatch") with one line per problem in `issues`. Unknown run: exit 3.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import ChromaPath, DbPath, Json, Xml
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.config import load_settings
from lmsys_tui.errors import NotFoundError


@handled
def verify_sync(
    run_id: Annotated[str, typer.Argument(help="Clustering run id (see `runs`).")],
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair Chroma from SQLite, then check again.")
    ] = False,
    chroma_host: Annotated[
        str | None, typer.Option("--chroma-host", help="Chroma server host (default: embedded).")
    ] = None,
    chroma_port: Annotated[
        int | None, typer.Option("--chroma-port", help="Chroma server port.")
    ] = None,
    embed_backend: Annotated[
        str,
        typer.Option("--embed-backend", help="For summary texts --fix must embed: auto | torch."),
    ] = "auto",
    db_path: DbPath = None,
    chroma_path: ChromaPath = None,
    json_out: Json = False,
    xml_out: Xml = False,
) -> None:
    """Check a run's Chroma documents against SQLite (space, ids, text, membership, version)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.search.verify import verify_sync as core_verify

    settings = load_settings(db_path, chroma_path)
    if not settings.db.exists():
        raise NotFoundError(f"no lmsys-tui store at {settings.db}")
    with stderr_progress(f"verify {run_id}") as progress:
        report = core_verify(
            settings.db,
            run_id,
            chroma_path=settings.chroma,
            chroma_host=chroma_host,
            chroma_port=chroma_port,
            fix=fix,
            backend=embed_backend,
            progress=progress,
        )

    def table() -> None:
        rows = [("status", report["status"]), ("space", report["space"]["key"])]
        rows += [(f"sqlite {k}", v) for k, v in report["sqlite"].items()]
        rows += [(f"chroma {k}", v) for k, v in report["chroma"].items()]
        rows += [
            (f"fixed {k}", v) for k, v in report.get("fixed", {}).items() if k != "issues_before"
        ]
        emit_table(f"verify sync {run_id}", ["check", "value"], rows, clip=120)
        for issue in report["issues"]:
            note(f"issue: {issue}")

    emit(report, as_json=json_out, as_xml=xml_out, root="verify", table=table)
