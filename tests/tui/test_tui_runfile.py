"""The TUI's Run form starts `run FILE.toml` as a job on the session's store: the real stages
on the embedded ShareGPT sample (offline summaries), and a second start skips every stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import db_rows
from textual.widgets import Input, Static
from tui_pilot import SIZE, make_app, settle, static_text, wait_for

from lmsys_tui.tui.screens.pipeline import PipelineScreen

pytestmark = pytest.mark.anyio

PIPELINE = """
[load]
limit = 200
[cluster]
n_clusters = 5
[summarize]
model = "offline"
[merge]
target_levels = 2
"""


async def _start(app: Any, pilot: Any, path: Path) -> Any:
    app.do_run_pipeline()
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, PipelineScreen) and screen.active_form == "run"
    screen.query_one("#run-path", Input).value = str(path)
    await settle(app, pilot)
    preview = static_text(screen.query_one("#command-preview", Static))
    assert preview.startswith(f"$ lmsys-tui --headless run {path}")
    before = set(app.jobs)
    await pilot.press("ctrl+s")
    (job,) = [j for k, j in app.jobs.items() if k not in before]
    await wait_for(app, pilot, lambda: not job.active, rounds=6000)
    await settle(app, pilot)
    assert job.status == "done", job.log
    return job


async def test_the_run_form_runs_the_file_then_skips_it(sample: Any, home: Path, tmp_path) -> None:
    db = sample.copy_to(home)
    path = tmp_path / "pipeline.toml"
    path.write_text(PIPELINE)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        first = await _start(app, pilot, path)
        assert "cluster ran" in first.message and "merge ran" in first.message
        assert db_rows(db, "SELECT COUNT(*) FROM hierarchy_runs WHERE status = 'done'") == [(1,)]
        second = await _start(app, pilot, path)
        assert second.message.count("skipped") == 5, second.message
