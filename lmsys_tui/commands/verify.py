"""`verify sync RUN`: SQLite and Chroma agree for a run, by ids and by content; `--fix`.

The verdict is `status` ("ok" | "mismatch") with one line per problem in `issues`, printed
either way; a mismatch then exits 1 (the reference exited 0, so scripts took it for a pass).
Unknown run: exit 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import CHROMA_SERVER, JSON_OR_XML, STORE_PATHS, RunId
from lmsys_tui.commands.output import emit, emit_table, fail, handled, note
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.options import RunArg
from lmsys_tui.core.search.verify.options import VerifyOptions as V
from lmsys_tui.errors import ExitCode


def finish_edits(db: Path, chroma_path: Path, opts: V) -> None:
    """First the Chroma update an edit still owes (killed after its commit): that is no
    mismatch to report but the edit's own last step, finished here (core/curate/chroma_sync)."""
    from lmsys_tui.core.curate.chroma_sync import finish_pending
    from lmsys_tui.core.curate.frame import Chroma

    chroma = Chroma(chroma_path, opts.chroma_host, opts.chroma_port, opts.embed_backend)
    for run_id, result in finish_pending(db, chroma).items():
        note(f"finished the Chroma update an edit of {run_id} left pending: {result['status']}")


@handled
@takes(CHROMA_SERVER, STORE_PATHS, JSON_OR_XML)
def verify_sync(
    run_id: RunId,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair Chroma from SQLite, then check again.")
    ] = V.fix,
    embed_backend: Annotated[
        str,
        typer.Option("--embed-backend", help="For summary texts --fix must embed: auto | torch."),
    ] = V.embed_backend,
    *,
    params: Params,
) -> None:
    """Check a run's Chroma documents against SQLite (space, ids, text, membership, version)."""
    from lmsys_tui.commands.progress import stderr_progress
    from lmsys_tui.core.search.verify import verify_sync as core_verify

    run, opts = RunArg.from_params(params), V.from_params(params)
    settings = load_settings(params.db_path, params.chroma_path)
    finish_edits(settings.db, settings.chroma, opts)
    with stderr_progress(f"verify {run_id}") as progress:
        report = core_verify(
            settings.db,
            run.run_id,
            chroma_path=settings.chroma,
            chroma_host=opts.chroma_host,
            chroma_port=opts.chroma_port,
            fix=opts.fix,
            backend=opts.embed_backend,
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

    emit(report, params, root="verify", table=table)
    if report["status"] != "ok":
        issues = len(report["issues"])
        fail(f"run {run_id}: SQLite and Chroma disagree ({issues} issues)", ExitCode.FAILED)
