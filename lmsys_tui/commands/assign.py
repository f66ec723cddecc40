"""Headless `cluster assign RUN --dataset D`: attach a new dataset's queries to a run."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML, Backend
from lmsys_tui.commands.output import emit_table, handled, report
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.config import load_settings
from lmsys_tui.core.insights.assign import AssignOptions as A
from lmsys_tui.core.options import RunArg


@handled
@takes(DB_PATH, JSON_OR_XML)
def assign(
    run_id: Annotated[str, typer.Argument(help="The run whose clusters take the new queries.")],
    dataset: Annotated[
        str, typer.Option("--dataset", help="The dataset whose queries are assigned.")
    ] = A.dataset,
    neighbours: Annotated[
        int, typer.Option(help="HDBSCAN runs: the nearest members whose clusters vote.")
    ] = A.neighbours,
    embed_backend: Backend = A.embed_backend,
    new_run: Annotated[
        bool,
        typer.Option(
            "--new-run",
            help="Assign into a copy of the run (clusters and memberships) and leave the run "
            "as it was: `compare RUN NEW` then shows what the new data changed.",
        ),
    ] = A.new_run,
    *,
    params: Params,
) -> None:
    """Embed a dataset's queries in the run's space and attach them to its clusters (nearest
    centroid for k-means, a nearest-members vote for HDBSCAN) without refitting; sizes and
    hierarchy counts follow. Queries the run already holds are skipped."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.core.insights.assign import assign_dataset

    run, opts = RunArg.from_params(params), A.from_params(params)
    result = run_on_store(
        load_settings(params.db_path).db,
        f"cluster assign {run_id}",
        lambda store, progress: assign_dataset(store, run.run_id, opts, progress=progress),
        create=False,
    )
    report(
        result,
        params,
        root="assign",
        table=lambda: emit_table(
            f"Assigned to {result.run_id}", ["cluster", "new queries"],
            list(result.by_cluster.items()),
        ),
    )  # fmt: skip
