"""`lmsys-tui demo`: the pipeline screen while the demo store is built, then the tree.

The one TUI test that runs the real chain end to end (load → k-means → offline summarize →
offline merge, all through `core.demo.run_demo`). It starts from the session's embedded
ShareGPT store (tests/cluster_seed.py: the real load stage and the real bundled model, run once
per session), so no text is embedded here and the test takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_seed import seeded_home
from conftest import run_cli
from textual.message import Message
from tui_pilot import SIZE, make_app, settle, wait_for

from lmsys_tui.tui.messages import JobProgress
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.pipeline import PipelineScreen
from lmsys_tui.tui.widgets.cluster_tree import ClusterTree

pytestmark = pytest.mark.anyio
LIMIT = 300


async def test_demo_shows_the_pipeline_then_opens_the_tree(
    home: Path, cli_env: dict[str, str]
) -> None:
    seeded_home(home)
    db = home / "queries.db"
    notes: list[str] = []
    screens: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, JobProgress) and message.note not in notes:
            notes.append(message.note)
            screens.append(type(app.screen).__name__)

    app = make_app(db, demo_limit=LIMIT)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        (job,) = app.jobs.values()
        assert job.kind == "demo"
        assert job.command == f"lmsys-tui --headless demo --limit {LIMIT} --db-path {db}"
        await wait_for(app, pilot, lambda: isinstance(app.screen, PipelineScreen))
        await wait_for(app, pilot, lambda: app.screen.is_mounted)
        watching = app.screen
        assert isinstance(watching, PipelineScreen) and watching.selected_job == job.id
        assert watching.job_in_front  # the running demo is in front, not the Load form
        assert not watching.query_one("#forms").display
        await wait_for(app, pilot, lambda: not job.active, rounds=2400)
        await settle(app, pilot)
        assert job.status == "done", job.log
        result = job.result
        assert result["reused"] == ["load"]  # the seeded store already had the queries
        assert result["queries"] == LIMIT and result["clusters"] == 12  # sqrt(300 / 2)
        split = result["stage_seconds"]  # where the time went, stage by stage
        assert list(split) == ["load", "cluster", "summarize", "merge"]
        assert sum(split.values()) == pytest.approx(result["seconds"], abs=0.05)
        assert screens and set(screens) == {"PipelineScreen"}  # shown while it works
        stages = [n.split(":", 1)[0] for n in notes]
        for stage in ("1/4 load", "2/4 cluster", "3/4 summarize", "4/4 merge"):
            assert stage in stages
        screen = app.screen
        assert isinstance(screen, ExplorerScreen)
        assert screen.view is not None
        assert screen.view.run_id == result["run_id"]
        assert screen.view.hierarchy_run_id == result["hierarchy_run_id"]
        assert screen.view.summary_run_id == result["summary_run_id"]
        tree = screen.query_one("#tree", ClusterTree)
        roots = [c.data.row for c in tree.root.children]
        assert roots and all(r is not None and r.level >= 1 for r in roots)
        assert sum(r.count for r in roots) == LIMIT  # every query is somewhere in the tree

    # the same demo headless: everything is there, so every stage is reused
    res = run_cli(["--headless", "demo", "--limit", str(LIMIT), "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    again = json.loads(res.stdout)
    assert again["reused"] == ["load", "cluster", "summarize", "merge"]
    assert again["run_id"] == result["run_id"]
    assert again["hierarchy_run_id"] == result["hierarchy_run_id"]


def test_demo_entry_point_is_routed(cli_env: dict[str, str]) -> None:
    res = run_cli(["demo", "--help"], cli_env)
    assert res.returncode == 0, res.stderr
    assert "--limit" in res.stdout and "demo" in res.stdout
    bad = run_cli(["demo", "--limit", "0"], cli_env)
    assert bad.returncode == 2 and "--limit must be a positive number" in bad.stderr
