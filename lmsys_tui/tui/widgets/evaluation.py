"""The evaluation panel: `evaluate run` and `evaluate stability` figures for the open run.

The same core calls and the same figures as the headless commands (README "Evaluate"). The
panel owns its reads: a thread worker computes, posts `Computed` (or `Failed`) to the panel,
and the handler on the UI thread redraws; the worker never touches a widget. Stability refits
the run, so it opens the store in its worker and can be cancelled by closing the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from lmsys_tui.core.evaluate.options import StabilityOptions
from lmsys_tui.errors import LmsysError
from lmsys_tui.tui.text import plain


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(title: str, columns: tuple[str, ...]) -> Table:
    """A narrow table: the panel shares the width with the tree."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
                  title_justify="left", show_edge=False)  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "level" else "right", no_wrap=True)
    return table


def _level(lvl: dict[str, Any]) -> str:
    return "leaves" if lvl["level"] == 0 else f"L{lvl['level']}"


def figures_view(data: dict[str, Any]) -> Group:
    """`evaluate run`'s figures: one row per level, then the reconstruction at the top."""
    title = f"Against {data['labels']} labels ({data['labelled']} queries)"
    # NMI (arithmetic) equals V-measure: the panel leaves it to `evaluate run` for the width
    table = _table(title, ("level", "nodes", "V-measure", "ARI", "purity"))
    for lvl in data["levels"]:
        figures = (lvl["v_measure"], lvl["ari"], lvl["purity"])
        table.add_row(_level(lvl), str(lvl["nodes_total"]), *map(_f, figures))
    rec = data["reconstruction"]
    mix = ", ".join(
        f"{plain(m['label'], 20)} {m['true_share']:.0%}→{m['top_share']:.0%}" for m in rec["mix"]
    )
    said = (
        f"Reconstruction at the top: {rec['accuracy']:.1%} of queries under a node whose "
        f"majority label is theirs; mix off by {rec['mix_distance']:.1%}."
    )
    lines = [Text(said), Text(f"Label mix, true→top: {mix}", style="dim")]
    lines += _shape_lines(data.get("shape") or {})
    if data["noise"] or data["unlabelled"]:
        lines.append(Text(f"Not scored: {data['noise']} noise, {data['unlabelled']} unlabelled.",
                          style="dim"))  # fmt: skip
    return Group(table, *lines)


def _shape_lines(shape: dict[str, Any]) -> list[Text]:
    """How merge-clusters chose the hierarchy's level sizes (nothing for older hierarchies)."""
    if not shape.get("method"):
        return []
    score = f", top silhouette {shape['score']:.2f}" if shape.get("score") is not None else ""
    sizes = "→".join(map(str, shape["sizes"]))
    return [Text(f"Level sizes {sizes} chosen by {shape['method']}{score}.", style="dim")]


def stability_view(data: dict[str, Any]) -> Group:
    """`evaluate stability`'s figures: ARI between the fits at every level."""
    seeds = ", ".join(map(str, data["seeds"]))
    table = _table(f"Refitted with seeds {seeds}", ("level", "nodes", "ARI mean", "min", "max"))
    for lvl in data["levels"]:
        nodes = "/".join(map(str, sorted(set(lvl["nodes"]))))
        aris = (lvl["ari_mean"], lvl["ari_min"], lvl["ari_max"])
        table.add_row(_level(lvl), nodes, *map(_f, aris))
    return Group(table)


class EvaluationPanel(Static):
    """Figures of the open run; `evaluate(...)` or `stability(...)` fills it."""

    @dataclass
    class Computed(Message):
        kind: str  # run | stability
        data: dict[str, Any]

    @dataclass
    class Failed(Message):
        message: str
        shape: dict[str, Any]  # the hierarchy's shape is shown even without labels

    def evaluate(self, db: Path, run_id: str, hierarchy: str | None) -> None:
        self.update(Text(f"Scoring run {plain(run_id, 60)} against its labels…"))
        self._compute("run", db, run_id, hierarchy)

    def stability(self, db: Path, run_id: str, hierarchy: str | None) -> None:
        seeds = StabilityOptions.seeds
        self.update(Text(f"Refitting run {plain(run_id, 60)} with {seeds} seeds…"))
        self._compute("stability", db, run_id, hierarchy)

    @work(thread=True, exclusive=True, group="evaluation", exit_on_error=False)
    def _compute(self, kind: str, db: Path, run_id: str, hierarchy: str | None) -> None:
        worker = get_current_worker()
        try:
            data = _run(kind, db, run_id, hierarchy, lambda: worker.is_cancelled)
        except LmsysError as exc:
            if not worker.is_cancelled:
                self.post_message(self.Failed(exc.message, _shape(db, run_id, hierarchy)))
            return
        if not worker.is_cancelled:
            self.post_message(self.Computed(kind, data))

    def on_evaluation_panel_computed(self, message: Computed) -> None:
        message.stop()
        view = figures_view if message.kind == "run" else stability_view
        self.update(view(message.data))

    def on_evaluation_panel_failed(self, message: Failed) -> None:
        message.stop()
        self.update(Group(Text(message.message, style="bold"), *_shape_lines(message.shape)))


def _shape(db: Path, run_id: str, hierarchy: str | None) -> dict[str, Any]:
    from lmsys_tui.core.evaluate.labels import hierarchy_shape

    try:
        return hierarchy_shape(db, run_id, hierarchy)
    except LmsysError:
        return {}


def _run(kind: str, db: Path, run_id: str, hierarchy: str | None, cancelled: Any) -> Any:
    """The core call of `evaluate run` / `evaluate stability` (in the worker thread)."""
    if kind == "run":
        from lmsys_tui.core.evaluate.metrics import evaluate_run

        return evaluate_run(db, run_id, hierarchy)
    from lmsys_tui.core.evaluate.stability import stability
    from lmsys_tui.core.store.db import open_store

    store = open_store(db, create=False)
    try:
        return stability(store, run_id, StabilityOptions.seeds, hierarchy, cancelled=cancelled)
    finally:
        store.close()
