"""The runs screen says what the highlighted run spent on LLM calls, per stage, from the ledger
(rows written as the LLM session writes them)."""

from __future__ import annotations

import sqlite3

import pytest
import tui_store
from textual.widgets import Label
from tui_pilot import SIZE, make_app, settle, static_text

pytestmark = pytest.mark.anyio


async def test_runs_screen_shows_the_runs_spend_per_stage(fx: tui_store.FixtureStore) -> None:
    conn = sqlite3.connect(fx.db)
    conn.executemany(
        "INSERT INTO llm_calls (stage, run_id, provider, model, prompt_hash, tokens_in,"
        " tokens_out, cost_usd, status, created_at) VALUES (?, ?, 'openai', 'openai/gpt-4o-mini',"
        " ?, 1000, 200, ?, 'ok', '2024-05-02 09:00:00.000000')",
        [("summarize", tui_store.RUN_ID, f"h{i}", 0.00027) for i in range(4)]
        + [("merge", tui_store.RUN_ID, "m1", 0.0011)],
    )
    conn.commit()
    conn.close()
    app = make_app(fx.db, run_id=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#runs").move_cursor(row=0)
        await settle(app, pilot)
        heading = static_text(screen.query_one("#children-heading", Label))
        assert tui_store.RUN_ID in heading
        assert "LLM spend: merge $0.0011 (1 calls), summarize $0.0011 (4 calls)" in heading
