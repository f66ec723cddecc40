"""Headless `evaluate titles RUN --judge MODEL`: an LLM checks each title against its queries."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import (
    DB_PATH,
    JSON_OR_XML,
    SUMMARY_PASS,
    BaseUrl,
    ClusterDeadline,
    Concurrency,
    RequestTimeout,
    Rpm,
    RunId,
)
from lmsys_tui.commands.output import emit, emit_table, handled, stdout_console
from lmsys_tui.commands.params import Params, group, takes
from lmsys_tui.core.evaluate.judge import JudgeOptions as J
from lmsys_tui.core.evaluate.judge import summary_line
from lmsys_tui.core.options import RunArg

Judge = Annotated[
    str | None,
    typer.Option(
        "--judge",
        help="The judging model: openai/…, anthropic/…, ollama/…, or provider/name with "
        "--base-url (a local OpenAI-compatible server).",
    ),
]
JUDGE = group(
    model=(Judge, None),
    base_url=(BaseUrl, None),
    concurrency=(Concurrency, J.concurrency),
    rpm=(Rpm, None),
    request_timeout=(RequestTimeout, None),
    cluster_deadline=(ClusterDeadline, J.cluster_deadline),
)


def _print(data: dict[str, Any]) -> None:
    def yes(v: dict[str, Any], key: str) -> str:
        return "error" if "error" in v else ("yes" if v[key] else "no")

    rows = [
        (v["cluster_id"], v["title"], yes(v, "title_fits"), yes(v, "description_fits"),
         v.get("reason") or v.get("error", ""))
        for v in data["verdicts"]
    ]  # fmt: skip
    emit_table(
        f"Titles of {data['summary_run_id']} judged by {data['judge']}",
        ["cluster", "title", "title fits", "description fits", "reason"],
        rows,
    )
    stdout_console().print(summary_line(data).capitalize(), markup=False, highlight=False)


@handled
@takes(JUDGE, SUMMARY_PASS, DB_PATH, JSON_OR_XML)
def evaluate_titles(
    run_id: RunId,
    sample: Annotated[int, typer.Option(help="Queries shown to the judge per cluster.")] = (
        J.sample
    ),
    *,
    params: Params,
) -> None:
    """Ask a model whether each title and description fits a sample of its cluster's queries
    (Clio's check) and report the accurate share (per cluster with --json)."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.config import load_settings
    from lmsys_tui.core.evaluate.judge import judge_titles

    run, opts = RunArg.from_params(params), J.from_params(params)
    opts.check()
    data = run_on_store(
        load_settings(params.db_path).db,
        f"evaluate titles {run.run_id}",
        lambda store, progress: judge_titles(store, run.run_id, opts, progress=progress),
        create=False,
    )
    emit(data, params, root="titles", table=lambda: _print(data))
