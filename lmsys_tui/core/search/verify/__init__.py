"""`verify sync RUN`: do SQLite (the source of truth) and Chroma agree for one run?

The reference compared one number (summary counts). Here, in the run's embedding space:

- the space: the collections are the run's space's (name, recorded space key, dimension, cosine);
- queries, by id: every query of the run that has a stored vector is in Chroma, and no Chroma
  document points at a query SQLite no longer has;
- queries, by content: each document's metadata equals the SQLite row and its vector equals the
  stored vector of the query's current text (a re-loaded text has a new hash, so a stale vector
  shows up here);
- summaries, by id and content: one document per run + cluster + summary pass, with the pass's
  current title/description, its `summary_run_id` (the version), and the cluster's current size
  (membership moved by curation shows up here); none left over for deleted clusters or passes.

`--fix` repairs Chroma from SQLite: stale and orphaned documents are deleted, missing and stale
ones written again from the embedding store (summary texts missing there are embedded once).
Then everything is checked again and the report says what was fixed.

Modules: `checks` (what is compared, collected in `Found`), `report` (the JSON the command
prints), `repair` (`--fix`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lmsys_tui.core.search.verify.checks import ChromaAccess, inspect_run
from lmsys_tui.core.search.verify.repair import repair
from lmsys_tui.core.search.verify.report import build_report
from lmsys_tui.core.store import sql
from lmsys_tui.errors import LmsysError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

__all__ = ["verify_sync"]


def verify_sync(
    db_path: Path,
    run_id: str,
    *,
    chroma_path: Path | None = None,
    chroma_host: str | None = None,
    chroma_port: int | None = None,
    fix: bool = False,
    backend: str = "auto",
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> dict[str, Any]:
    """The sync report of one run (reference keys first); with `fix`, repaired and re-checked."""
    started = time.perf_counter()
    chroma = ChromaAccess(chroma_path, chroma_host, chroma_port)
    with sql.reader(db_path) as conn:
        space, found, qcol, scol = inspect_run(conn, db_path, run_id, chroma, progress, cancelled)
        report = build_report(run_id, space, found, qcol, scol)
        if fix and report["status"] != "ok":
            try:
                fixed = repair(db_path, run_id, space, found, chroma, cancelled, backend)
            except LmsysError:
                raise
            except Exception as exc:  # Chroma raises its own kinds; say which step failed
                raise LmsysError(f"repair failed: {type(exc).__name__}: {exc}") from exc
            before = report["issues"]
            space, found, qcol, scol = inspect_run(
                conn, db_path, run_id, chroma, progress, cancelled
            )
            report = build_report(run_id, space, found, qcol, scol)
            report["fixed"] = fixed | {"issues_before": before}
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report
