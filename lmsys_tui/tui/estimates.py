"""What an LLM job of the pipeline forms would cost, said before it starts (`--dry-run`).

Read in a worker (sampling reads the run's queries): the same core estimate the headless
`--dry-run` prints, from the options the form built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmsys_tui.core.options import RunArg
from lmsys_tui.errors import LmsysError

if TYPE_CHECKING:
    from pathlib import Path

ESTIMATED = ("summarize", "merge-clusters")  # actions whose jobs call an LLM


def estimate_line(db: Path, action: str, options: tuple[Any, ...]) -> str | None:
    """One line: the estimate of the job, or why there is none; None for other jobs."""
    from lmsys_tui.core.hierarchy.options import MergeOptions
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.summarize.options import SummarizeOptions

    if action not in ESTIMATED:
        return None
    run = next((o for o in options if isinstance(o, RunArg)), None)
    opts = next((o for o in options if isinstance(o, SummarizeOptions | MergeOptions)), None)
    if run is None or opts is None or not db.exists():
        return None
    try:
        store = open_store(db, create=False)
        try:
            if isinstance(opts, SummarizeOptions):
                from lmsys_tui.core.summarize.estimate import estimate_summarize

                found = estimate_summarize(store, run.run_id, opts)
            else:
                from lmsys_tui.core.hierarchy.estimate import estimate_merge

                found = estimate_merge(store, run.run_id, opts)
        finally:
            store.close()
    except LmsysError as exc:
        return f"no estimate: {exc.message}"
    return "≈ " + found.message.removeprefix("dry run: ")
