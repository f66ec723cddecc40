"""One clustering run: its row, summary passes, hierarchies, and the view to show it through.

A "view" is a run seen through one hierarchy (or none: flat clusters) and one summary pass
(the titles of its clusters). Titles always come from ONE pass, never a mix: `summary_pass` is
the one rule for which pass that is (an explicit id, else the newest with an alias, else the
newest pass with summaries, finished ones first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

from lmsys_tui.core.store.sql import loads, one, reader, rows, scalar
from lmsys_tui.errors import NotFoundError, UsageError


@dataclass(frozen=True)
class View:
    """Which run, hierarchy and summary pass the explorer shows, with the run's query total."""

    db: Path
    run_id: str
    hierarchy_run_id: str | None
    summary_run_id: str | None
    total: int

    def with_pass(self, summary_run_id: str | None) -> View:
        return replace(self, summary_run_id=summary_run_id)


class ViewChoice(TypedDict, total=False):
    """Which view of a run to open: `open_run`'s keywords, as the TUI hands them along."""

    hierarchy_run_id: str | None
    summary_run_id: str | None
    flat: bool


@dataclass(frozen=True)
class RunOverview:
    """A run with its summary passes and hierarchies, and the view chosen to open it with."""

    run: dict[str, Any]
    passes: list[dict[str, Any]]
    hierarchies: list[dict[str, Any]]
    view: View

    def pass_named(self, summary_run_id: str | None) -> dict[str, Any] | None:
        return next((p for p in self.passes if p["summary_run_id"] == summary_run_id), None)

    def hierarchy_named(self, hierarchy_run_id: str | None) -> dict[str, Any] | None:
        return next(
            (h for h in self.hierarchies if h["hierarchy_run_id"] == hierarchy_run_id), None
        )

    def next_pass(self, current: str | None) -> str | None:
        """The pass after `current` among those that titled clusters, cycling (`current`
        itself when it is the only one); None when no pass titled any."""
        titled = [p["summary_run_id"] for p in self.passes if p["titled"]]
        if not titled:
            return None
        at = titled.index(current) + 1 if current in titled else 0
        return titled[at % len(titled)]

    def next_hierarchy(self, view: View) -> View:
        """`view` through the run's next finished hierarchy, the flat clusters after the last
        one (the same view when there is none). A hierarchy brings the pass it was named from,
        while that pass exists."""
        choices = [h["hierarchy_run_id"] for h in self.hierarchies if h["status"] == "done"]
        choices.append(None)
        current = view.hierarchy_run_id
        at = choices.index(current) + 1 if current in choices else 0
        following = choices[at % len(choices)]
        named = (self.hierarchy_named(following) or {}).get("summary_run_id")
        summary = named if self.pass_named(named) is not None else view.summary_run_id
        return replace(view, hierarchy_run_id=following, summary_run_id=summary)


def get_run(conn: Any, run_id: str, *, finished: bool = True) -> dict[str, Any]:
    """The run row; NotFoundError when unknown or (with `finished`) when it has no results."""
    run = one(
        conn,
        "SELECT run_id, algorithm, num_clusters, dataset_id, embedding_provider, embedding_model,"
        " embedding_dim, parameters, metrics, description, status, error, created_at,"
        " finished_at FROM clustering_runs WHERE run_id = ?",
        (run_id,),
    )
    if run is None:
        raise NotFoundError(f"no clustering run {run_id!r} (see `runs`)")
    if finished and run["status"] != "done":
        why = f": {run['error']}" if run["error"] and run["error"] != run["status"] else ""
        raise NotFoundError(f"run {run_id!r} is {run['status']}{why}; it has no results to show")
    run["parameters"] = loads(run["parameters"], {})
    run["metrics"] = loads(run["metrics"], {})
    return run


def summary_pass(
    conn: Any, run_id: str, summary_run_id: str | None = None, alias: str | None = None
) -> dict[str, Any] | None:
    """The summary pass whose titles to show: explicit id, newest with `alias`, or newest done
    (among passes with summaries); None when the run has none and none was named."""
    base = (
        "SELECT summary_run_id, alias, model, status, created_at FROM summary_runs s"
        " WHERE s.run_id = ?"
    )
    if summary_run_id is not None:
        found = one(conn, base + " AND s.summary_run_id = ?", (run_id, summary_run_id))
        if found is None:
            owner = one(
                conn, "SELECT run_id FROM summary_runs WHERE summary_run_id = ?", (summary_run_id,)
            )
            if owner is not None:
                raise UsageError(
                    f"summary pass {summary_run_id!r} belongs to run {owner['run_id']!r}"
                )
            raise NotFoundError(f"run {run_id!r} has no summary pass {summary_run_id!r}")
        if alias is not None and found["alias"] != alias:
            raise UsageError(f"summary pass {summary_run_id!r} has no alias {alias!r}")
        return found
    if alias is not None:
        found = one(
            conn,
            base + " AND s.alias = ? ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1",
            (run_id, alias),
        )
        if found is None:
            raise NotFoundError(f"run {run_id!r} has no summary pass with alias {alias!r}")
        return found
    return one(
        conn,
        base + " AND EXISTS (SELECT 1 FROM cluster_summaries c"
        " WHERE c.summary_run_id = s.summary_run_id)"
        " ORDER BY (s.status = 'done') DESC, s.created_at DESC, s.rowid DESC LIMIT 1",
        (run_id,),
    )


def list_passes(conn: Any, run_id: str) -> list[dict[str, Any]]:
    """Summary passes of a run, newest first, with how many clusters each one titled."""
    return rows(
        conn,
        "SELECT s.summary_run_id, s.alias, s.model, s.status, s.error, s.created_at,"
        " s.finished_at, (SELECT COUNT(*) FROM cluster_summaries c"
        "  WHERE c.summary_run_id = s.summary_run_id AND c.title IS NOT NULL) AS titled"
        " FROM summary_runs s WHERE s.run_id = ? ORDER BY s.created_at DESC, s.rowid DESC",
        (run_id,),
    )


def list_hierarchies(conn: Any, run_id: str) -> list[dict[str, Any]]:
    """Hierarchies of a run, newest first, with their levels and node count."""
    return rows(
        conn,
        "SELECT h.hierarchy_run_id, h.summary_run_id, h.model, h.status, h.error, h.created_at,"
        " h.finished_at, (SELECT COUNT(*) FROM cluster_hierarchies c"
        "  WHERE c.hierarchy_run_id = h.hierarchy_run_id) AS nodes,"
        " (SELECT MAX(level) + 1 FROM cluster_hierarchies c"
        "  WHERE c.hierarchy_run_id = h.hierarchy_run_id) AS levels"
        " FROM hierarchy_runs h WHERE h.run_id = ? ORDER BY h.created_at DESC, h.rowid DESC",
        (run_id,),
    )


def newest_hierarchy(hierarchies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The hierarchy a run opens with: the newest finished one that has nodes."""
    return next((h for h in hierarchies if h["status"] == "done" and h["nodes"]), None)


def get_hierarchy(conn: Any, run_id: str, hierarchy_run_id: str | None) -> str:
    """The hierarchy id to read a run's nodes from: the one named (it must belong to the run),
    else the run's newest finished hierarchy."""
    if hierarchy_run_id is None:
        found = newest_hierarchy(list_hierarchies(conn, run_id))
        if found is None:
            raise NotFoundError(
                f"run {run_id!r} has no finished hierarchy (merge-clusters makes one)"
            )
        return str(found["hierarchy_run_id"])
    owner = scalar(
        conn, "SELECT run_id FROM hierarchy_runs WHERE hierarchy_run_id = ?", (hierarchy_run_id,)
    )
    if owner is None:
        raise NotFoundError(f"no hierarchy {hierarchy_run_id!r} (see show-hierarchy)")
    if owner != run_id:
        raise UsageError(f"hierarchy {hierarchy_run_id!r} belongs to run {owner!r}, not {run_id!r}")
    return hierarchy_run_id


def run_total(conn: Any, run_id: str) -> int:
    """Queries in the run (noise included): the whole that shares are taken of."""
    return int(
        scalar(conn, "SELECT COALESCE(SUM(size), 0) FROM clusters WHERE run_id = ?", (run_id,), 0)
    )


def open_run(
    db: Path,
    run_id: str,
    *,
    hierarchy_run_id: str | None = None,
    summary_run_id: str | None = None,
    flat: bool = False,
) -> RunOverview:
    """The run, its passes and hierarchies, and the view to show.

    Defaults: the newest finished hierarchy (unless `flat`), and the summary pass that
    hierarchy was named from, else the pass `summary_pass` picks.
    """
    with reader(db) as conn:
        run = get_run(conn, run_id)
        passes = list_passes(conn, run_id)
        hierarchies = list_hierarchies(conn, run_id)
        hier = None
        if hierarchy_run_id is not None:
            hier = next((h for h in hierarchies if h["hierarchy_run_id"] == hierarchy_run_id), None)
            if hier is None:
                raise NotFoundError(f"run {run_id!r} has no hierarchy {hierarchy_run_id!r}")
        elif not flat:
            hier = newest_hierarchy(hierarchies)
        named = hier["summary_run_id"] if hier is not None else None
        if summary_run_id is None and any(p["summary_run_id"] == named for p in passes):
            summary_run_id = named
        chosen = summary_pass(conn, run_id, summary_run_id)
        view = View(
            db=db,
            run_id=run_id,
            hierarchy_run_id=hier["hierarchy_run_id"] if hier else None,
            summary_run_id=chosen["summary_run_id"] if chosen else None,
            total=run_total(conn, run_id),
        )
    return RunOverview(run=run, passes=passes, hierarchies=hierarchies, view=view)


def run_children(db: Path, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary passes, hierarchies) of a run in any state, newest first."""
    with reader(db) as conn:
        return list_passes(conn, run_id), list_hierarchies(conn, run_id)
