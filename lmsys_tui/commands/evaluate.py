"""Headless `evaluate run RUN` (labelled figures per level) and `evaluate stability RUN`.

The `evaluate` group: `run` and `stability` here; `evaluate titles` (an LLM judging titles)
lives in its own module. How to read each figure: README "Evaluate".
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML, RunId
from lmsys_tui.commands.output import emit, emit_table, handled, stdout_console
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.evaluate.options import EvaluateOptions as E
from lmsys_tui.core.evaluate.options import StabilityOptions as S
from lmsys_tui.core.options import RunArg

Hierarchy = Annotated[
    str | None,
    typer.Option("--hierarchy", help="Hierarchy id (default: the run's newest finished one)."),
]


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _figure_row(lvl: dict[str, Any]) -> tuple[Any, ...]:
    figures = (lvl["v_measure"], lvl["nmi"], lvl["ari"], lvl["purity"])
    return (lvl["name"], lvl["nodes_total"], *map(_f, figures))


def _print_figures(data: dict[str, Any]) -> None:
    rec = data["reconstruction"]
    emit_table(
        f"Run {data['run_id']} against {data['labels']} labels ({data['labelled']} queries)",
        ["level", "nodes", "V-measure", "NMI", "ARI", "purity"],
        [_figure_row(lvl) for lvl in data["levels"]],
    )
    unseen = f"; unseen at the top: {', '.join(rec['unseen'])}" if rec["unseen"] else ""
    shape = data["shape"]
    if shape.get("method"):
        score = f", top silhouette {shape['score']:.2f}" if shape.get("score") is not None else ""
        stdout_console().print(
            f"Level sizes {shape['sizes']} chosen by {shape['method']}{score}",
            markup=False,
            highlight=False,
        )
    stdout_console().print(
        f"Reconstruction at the top ({data['levels'][-1]['name']}): {rec['accuracy']:.1%} of "
        f"queries sit under a node whose majority label is theirs; label mix off by "
        f"{rec['mix_distance']:.1%}{unseen}",
        markup=False,
        highlight=False,
    )
    emit_table(
        "Label mix: true vs the top level",
        ["label", "true", "top"],
        [(m["label"], f"{m['true_share']:.1%}", f"{m['top_share']:.1%}") for m in rec["mix"]],
    )


@handled
@takes(DB_PATH, JSON_OR_XML)
def evaluate_run(run_id: RunId, hierarchy: Hierarchy = E.hierarchy, *, params: Params) -> None:
    """Score a run's leaves and hierarchy levels against the labels loaded with the data."""
    from lmsys_tui.commands.progress import existing_store
    from lmsys_tui.core.evaluate.metrics import evaluate_run as figures

    run, opts = RunArg.from_params(params), E.from_params(params)
    data = figures(existing_store(params.db_path).db, run.run_id, opts.hierarchy)
    emit(data, params, root="evaluation", table=lambda: _print_figures(data))


def _stability_row(lvl: dict[str, Any]) -> tuple[Any, ...]:
    aris = (lvl["ari_mean"], lvl["ari_min"], lvl["ari_max"])
    vs = " ".join(_f(v) for v in lvl.get("v_measure", [])) or "-"
    return (lvl["name"], " ".join(map(str, lvl["nodes"])), *map(_f, aris), vs)


def _print_stability(data: dict[str, Any]) -> None:
    emit_table(
        f"Run {data['run_id']} refitted with seeds {', '.join(map(str, data['seeds']))}",
        ["level", "nodes per fit", "ARI mean", "min", "max", "V-measure per fit"],
        [_stability_row(lvl) for lvl in data["levels"]],
    )


@handled
@takes(DB_PATH, JSON_OR_XML)
def evaluate_stability(
    run_id: RunId,
    seeds: Annotated[
        int, typer.Option(help="Fits compared (the run's own seed, then the next ones).")
    ] = S.seeds,
    hierarchy: Hierarchy = S.hierarchy,
    *,
    params: Params,
) -> None:
    """Refit a run with other seeds and report the ARI between the fits at every level."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.config import load_settings
    from lmsys_tui.core.evaluate.stability import stability

    run, opts = RunArg.from_params(params), S.from_params(params)
    data = run_on_store(
        load_settings(params.db_path).db,
        f"evaluate stability {run.run_id}",
        lambda store, progress: stability(
            store, run.run_id, opts.seeds, opts.hierarchy, progress=progress
        ),
        create=False,
    )
    emit(data, params, root="stability", table=lambda: _print_stability(data))
