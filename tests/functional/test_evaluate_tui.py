"""The evaluation panel in the explorer, through Pilot, on the fixed TUI store (tests/tui_store.py).

Labels are written into the fixture's queries (a known class per query); the panel must show
the figures `evaluate run` computes for the same store, and a run without labels says how to
get them instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import tui_store
from tui_pilot import SIZE, make_app, screen_text, settle, static_text
from tui_store import RUN_ID

from lmsys_tui.core.evaluate.metrics import evaluate_run
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.widgets.evaluation import EvaluationPanel

pytestmark = pytest.mark.anyio


def _panel_text(app: Any) -> str:
    return static_text(app.screen.query_one("#evaluation", EvaluationPanel))


def _label_by_parent(db: Any) -> None:
    """Each query's label: the level-1 node its cluster sits under in the fixture's hierarchy."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE queries SET label = 'topic-' || (SELECT CAST(h.parent_cluster_id AS TEXT)"
            " FROM query_clusters qc JOIN cluster_hierarchies h ON h.cluster_id = qc.cluster_id"
            " AND h.run_id = qc.run_id WHERE qc.query_id = queries.id AND qc.run_id = ?)",
            (RUN_ID,),
        )


async def test_panel_shows_the_figures_of_evaluate_run(fx: tui_store.FixtureStore) -> None:
    _label_by_parent(fx.db)
    expected = evaluate_run(fx.db, RUN_ID)
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ExplorerScreen)
        app.invoke("evaluate-run")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        text = _panel_text(app)
        shown = screen_text(app)
    assert "Reconstruction at the top" in shown  # on the screen, beside the tree
    assert f"Against {expected['labels']} labels ({expected['labelled']} queries)" in text
    for lvl in expected["levels"]:
        name = "leaves" if lvl["level"] == 0 else f"L{lvl['level']}"
        assert f"{lvl['v_measure']:.3f}" in text and name in text
    # the labels are the level-1 nodes: that level gives them back exactly
    assert expected["levels"][1]["purity"] == expected["levels"][1]["v_measure"] == 1.0
    accuracy = expected["reconstruction"]["accuracy"]
    assert f"Reconstruction at the top: {accuracy:.1%}" in text


async def test_panel_on_a_run_without_labels_says_how_to_get_them(
    fx: tui_store.FixtureStore,
) -> None:
    """No labels: the panel says how to load them, and still shows how the shape was chosen."""
    shape = {"sizes": [6, 3, 2], "method": "silhouette", "score": 0.4242}
    with sqlite3.connect(fx.db) as conn:
        conn.execute(
            "UPDATE hierarchy_runs SET parameters = json_set(parameters, '$.shape', json(?))",
            (json.dumps(shape),),
        )
    app = make_app(fx.db, run_id=RUN_ID)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.invoke("evaluate-run")
        await settle(app, pilot)
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        text = _panel_text(app)
        assert "load the data with --label-column" in text
        assert "Level sizes 6→3→2 chosen by silhouette, top silhouette 0.42." in text
        assert app.is_running
