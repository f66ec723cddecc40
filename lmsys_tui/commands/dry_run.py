"""`--dry-run` of the LLM stages (summarize, merge-clusters): the estimate, printed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.commands.output import report

if TYPE_CHECKING:
    from lmsys_tui.core.llm.budget import Estimate
    from lmsys_tui.core.store.db import Store


def dry_run(db: Path, estimate: Callable[[Store], Estimate], params: Any) -> None:
    """Open the store (which must exist), estimate, report: the message on stderr, the
    estimate as JSON/XML on stdout when asked."""
    from lmsys_tui.commands.progress import run_on_store

    found = run_on_store(db, "dry run", lambda store, _progress: estimate(store), create=False)
    notes = "; ".join(found.notes)
    report(found, params, root="estimate", message=found.message + (f" ({notes})" if notes else ""))
