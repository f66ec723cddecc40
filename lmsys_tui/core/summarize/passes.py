"""Summary passes in the store: opening (or reopening) one, saving each summary as it comes,
recording how the pass ended, and which pass a reader means.

A run has many passes (one per model, alias or retry); a reader always sees exactly one of
them, never a mix. Each summary is committed the moment it exists, so a killed pass loses
nothing and `--resume` asks only for what is missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.store.db import Store
    from lmsys_tui.core.summarize.options import SummarizeOptions
    from lmsys_tui.core.summarize.sampling import Job

SUMMARY_COLUMNS = (
    "cluster_id, title, description, coherence, num_queries, model, alias, status, error,"
    " parameters"
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()[:40] or "model"


@dataclass(frozen=True)
class SummaryPass:
    """One pass being written: where its rows go and the model they are credited to."""

    store: Store
    run_id: str
    summary_run_id: str
    alias: str | None
    model: str

    def save(
        self,
        job: Job,
        *,
        title: str | None,
        description: str | None,
        coherence: int | None,
        params: dict[str, Any],
        error: str | None = None,
    ) -> None:
        """Commit one cluster's summary (or its failure) now, replacing an earlier attempt.

        Plain SQL (the ORM costs ~2 ms a row on the event loop's GIL).
        """
        with sql.transaction(self.store) as conn:
            cur = conn.cursor()
            cur.execute(
                "DELETE FROM cluster_summaries WHERE summary_run_id = ? AND cluster_id = ?",
                (self.summary_run_id, job.cluster_id),
            )
            cur.execute(
                "INSERT INTO cluster_summaries (run_id, cluster_id, summary_run_id, alias, title,"
                " description, summary, coherence, num_queries, representative_queries, model,"
                " parameters, status, error, generated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.run_id,
                    job.cluster_id,
                    self.summary_run_id,
                    self.alias,
                    title,
                    description,
                    description,
                    coherence,
                    job.size,
                    json.dumps(job.representative(), ensure_ascii=False),
                    self.model,
                    json.dumps(params, ensure_ascii=False),
                    "done" if error is None else "failed",
                    error,
                    sql.db_timestamp(sql.utcnow()),
                ),
            )

    def finish(self, status: str, error: str | None, result: dict[str, Any]) -> None:
        from lmsys_tui.core.store.models import SummaryRun, record_end

        record_end(self.store, SummaryRun, self.summary_run_id, status, error, result)


def done_clusters(store: Store, summary_run_id: str) -> set[int]:
    """The clusters a pass has already titled: what a resume skips and an estimate leaves out."""
    with sql.connection(store) as conn:
        return {
            int(r[0])
            for r in sql.tuples(
                conn,
                "SELECT cluster_id FROM cluster_summaries WHERE summary_run_id = ?"
                " AND status = 'done'",
                (summary_run_id,),
            )
        }


def resumed_model(store: Store, summary_run_id: str) -> str:
    """The model of the pass `--resume` names (a resumed pass keeps its model)."""
    with sql.connection(store) as conn:
        model = sql.scalar(
            conn, "SELECT model FROM summary_runs WHERE summary_run_id = ?", (summary_run_id,)
        )
    if model is None:
        raise NotFoundError(f"no summary pass {summary_run_id!r} to resume")
    return str(model)


def open_pass(
    store: Store, run_id: str, opts: SummarizeOptions, spec: ModelSpec
) -> tuple[SummaryPass, set[int]]:
    """Create the pass row, or reopen the one named by --resume (with the options that decide
    its prompts, so it asks the same questions); returns the pass and its done cluster ids."""
    from lmsys_tui.core.store.models import SummaryRun

    with store.session() as session:
        if opts.resume:
            row = session.get(SummaryRun, opts.resume)
            if row is None:
                raise NotFoundError(f"no summary pass {opts.resume!r} to resume")
            if row.run_id != run_id:
                raise UsageError(f"summary pass {opts.resume!r} belongs to run {row.run_id!r}")
            saved = dict(row.parameters or {})
            for key in opts.content_params():
                if key in saved:
                    setattr(opts, key, saved[key])
            opts.model = row.model
            row.status, row.error, row.finished_at = "running", None, None
            session.add(row)
            session.commit()
            done = done_clusters(store, row.summary_run_id)
            return SummaryPass(store, run_id, row.summary_run_id, row.alias, spec.model), done
        if opts.summary_run_id:
            srid = opts.summary_run_id
        else:
            with sql.connection(store) as conn:
                srid = sql.new_id(
                    f"summary-{_slug(spec.model.split('/', 1)[-1])}",
                    numbered_in=(conn, "summary_runs", "summary_run_id"),
                )
        if session.get(SummaryRun, srid) is not None:
            raise UsageError(f"summary pass {srid!r} exists; continue it with --resume {srid}")
        session.add(
            SummaryRun(
                summary_run_id=srid,
                run_id=run_id,
                alias=opts.alias,
                model=spec.model,
                parameters=opts.content_params(),
            )
        )
        session.commit()
    return SummaryPass(store, run_id, srid, opts.alias, spec.model), set()


def resolve_pass(
    store: Store, run_id: str, alias: str | None = None, summary_run_id: str | None = None
) -> str | None:
    """The id of the one summary pass to read, by the rule both doors use
    (`read.runs.summary_pass`); None when the run has no pass and none was asked for."""
    from lmsys_tui.core.read.runs import summary_pass

    with sql.connection(store) as conn:
        found = summary_pass(conn, run_id, summary_run_id or None, alias or None)
    return found["summary_run_id"] if found is not None else None


def summaries_for_pass(
    store: Store, run_id: str, alias: str | None = None, summary_run_id: str | None = None
) -> tuple[str | None, dict[int, dict[str, Any]]]:
    """(pass id, cluster id -> summary) for exactly one pass, never a mix of passes."""
    srid = resolve_pass(store, run_id, alias, summary_run_id)
    if srid is None:
        return None, {}
    from lmsys_tui.core.read.tree import pass_summaries

    with sql.connection(store) as conn:
        found = pass_summaries(conn, srid, None, SUMMARY_COLUMNS)
    for row in found.values():
        row["parameters"] = sql.loads(row["parameters"], {}) or {}
        row["summary_run_id"] = srid
    return srid, found
