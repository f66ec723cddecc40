"""`Assign: new dataset to a run` through Pilot: pick the dataset, the job runs on the App and
the pipeline screen shows it. The fixed TUI store gets a new dataset (loaded and embedded for
real beforehand, so the job embeds nothing) and centroids for its run."""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import pytest
import tui_store
from tui_pilot import SIZE, make_app, settle, wait_for

from lmsys_tui.tui.screens.picker import PickerScreen

pytestmark = pytest.mark.anyio


def _new_dataset(fx: tui_store.FixtureStore, store: Any) -> None:
    from lmsys_tui.core.embed import embed_queries, resolve_space
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.base import Conversation, SourceInfo
    from lmsys_tui.core.store.queries import select_query_ids

    convs = [Conversation(f"n{i}", t) for i, t in enumerate(["Sort a list in Python.", "Hi!"])]
    info = SourceInfo("file", "new.jsonl", "new-chats", detect_language=False)
    run_load(store, iter(convs), info, label="new-chats")
    embed_queries(store, resolve_space(), select_query_ids(store, "new-chats"), backend="torch")
    conn = sqlite3.connect(fx.db)
    conn.execute("UPDATE clusters SET centroid = ? WHERE run_id = ?",
                 (np.zeros(384, dtype="<f4").tobytes(), tui_store.RUN_ID))  # fmt: skip
    conn.commit()
    conn.close()


async def test_assign_picks_a_dataset_and_runs_the_job(fx: tui_store.FixtureStore, store) -> None:
    _new_dataset(fx, store)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(tui_store.RUN_ID)
        await settle(app, pilot)
        app.invoke("cluster-assign")
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        assert [label for label, _ in picker.options] == ["support-chats", "new-chats"]
        await pilot.press(*"new", "enter")
        await settle(app, pilot)
        (job,) = app.jobs.values()
        await wait_for(app, pilot, lambda: not job.active)
        assert job.status == "done", job.message
        assert job.command == (
            f"lmsys-tui --headless cluster assign {tui_store.RUN_ID} --dataset new-chats"
            f" --db-path {fx.db}"
        )
    sizes = dict(store_rows(fx.db))
    assert sum(sizes.values()) == fx.total + 2


def store_rows(db: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT cluster_id, size FROM clusters WHERE run_id = ?", (tui_store.RUN_ID,)
        ).fetchall()
    finally:
        conn.close()
