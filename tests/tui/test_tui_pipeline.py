"""Pipeline jobs in the TUI: real stages on real stores, progress, ETA, log, cancel, failures.

The load stage runs for real on the packaged ShareGPT data (a real cancel, then the store is
checked for consistency). Where a real stage would be too slow to hold still for an exact
assertion, a fake stage reports fixed progress and blocks until the test releases it or the job
is cancelled; it says so where it is used. Jobs run on the App, so they outlive their screen.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import tui_store
from conftest import db_rows
from textual.message import Message
from textual.widgets import DataTable, Input, ProgressBar, Select, Static
from tui_pilot import SIZE, FixedClock, cells, make_app, settle, static_text, wait_for

from lmsys_tui.errors import Cancelled
from lmsys_tui.tui import jobspecs
from lmsys_tui.tui.jobs import Job, fmt_seconds
from lmsys_tui.tui.messages import JobEnded, JobProgress
from lmsys_tui.tui.screens.pipeline import PipelineScreen
from lmsys_tui.tui.screens.runs import RunsScreen

pytestmark = pytest.mark.anyio


def _hooked() -> tuple[list[Message], Any]:
    seen: list[Message] = []

    def hook(message: Message) -> None:
        if not any(m is message for m in seen):
            seen.append(message)

    return seen, hook


def _text(log_line: str) -> str:
    """A job log line without its elapsed-time column."""
    return log_line.strip().split("  ", 1)[1]


async def _done(app: Any, pilot: Any, job: Job) -> None:
    await wait_for(app, pilot, lambda: not job.active, rounds=1200)
    await settle(app, pilot)


# -- a real stage ---------------------------------------------------------------------------------


async def test_load_form_runs_the_real_stage_and_refreshes_the_runs_screen(home: Path) -> None:
    db = home / "queries.db"
    seen, hook = _hooked()
    app = make_app(db)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await settle(app, pilot)
        assert "No store yet" in static_text(app.screen.query_one("#store-line", Static))
        await pilot.press("l")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen) and screen.active_form == "load"
        screen.query_one("#load-limit", Input).value = "300"
        await settle(app, pilot)
        preview = static_text(screen.query_one("#command-preview", Static))
        assert (
            preview == f"$ lmsys-tui --headless load --source sharegpt --limit 300 --db-path {db}"
        )
        await pilot.press("ctrl+s")
        (job,) = app.jobs.values()
        assert job.command == preview[2:]
        await _done(app, pilot, job)
        assert job.status == "done", job.log
        assert job.message.startswith("300 loaded into 'sharegpt'")
        progress = [m for m in seen if isinstance(m, JobProgress) and m.job_id == job.id]
        assert progress and progress[-1].done >= 300
        assert [m.status for m in seen if isinstance(m, JobEnded)] == ["done"]
        assert job.log[0].endswith(f"started: {job.command}")
        assert _text(job.log[-1]).startswith("done: 300 loaded")
        table = screen.query_one("#jobs", DataTable)
        assert cells(table, 1) == ["Load sharegpt"] and cells(table, 2) == ["done"]
        assert cells(table, 3) == ["100%"]
        assert screen.query_one("#job-bar", ProgressBar).percentage == 1.0
        assert db_rows(db, "SELECT COUNT(*) FROM queries")[0][0] == 300
        # the finished job made the runs screen re-read the store
        await pilot.press("escape")
        await settle(app, pilot)
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        assert cells(runs.query_one("#datasets", DataTable), 0) == ["sharegpt"]
        assert cells(runs.query_one("#datasets", DataTable), 2) == ["300"]


def _real_load(db: Path) -> jobspecs.JobSpec:
    """The real load stage over all ~9,600 packaged ShareGPT conversations, committed in
    batches of 100 (the form's default of 5,000 would finish before a cancel lands)."""

    def fn(progress: Any, cancelled: Any) -> Any:
        from lmsys_tui.core.load import run_load
        from lmsys_tui.core.sources import sharegpt
        from lmsys_tui.core.store.db import open_store

        store = open_store(db)
        try:
            return run_load(
                store,
                sharegpt.read(),
                sharegpt.info(),
                batch_size=100,
                progress=progress,
                cancelled=cancelled,
            )
        finally:
            store.close()

    return jobspecs.JobSpec("load", "Load sharegpt", "lmsys-tui --headless load", fn)


async def test_cancelling_a_real_load_keeps_the_store_consistent(home: Path) -> None:
    db = home / "queries.db"
    seen, hook = _hooked()
    app = make_app(db)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await settle(app, pilot)
        job = app.start_job(_real_load(app.settings.db))
        app.action_pipeline(job.id)
        await wait_for(app, pilot, lambda: job.done > 0, rounds=1200)
        await pilot.press("x")  # cancel the selected job
        assert job.cancelled()
        await _done(app, pilot, job)
        assert job.status == "cancelled"
        assert "committed batches are kept" in job.message
        assert any("cancel requested" in line for line in job.log)
        status = static_text(app.screen.query_one("#job-status", Static))
        assert status.startswith("cancelled")
        assert app.is_running
    ((status, counted),) = db_rows(db, "SELECT status, query_count FROM datasets")
    stored = db_rows(db, "SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM queries")[0]
    assert status == "cancelled"
    assert stored[0] == stored[1] == counted > 0  # whole batches, no duplicates, count agrees
    fts = db_rows(db, "SELECT COUNT(*) FROM queries_fts")[0][0]
    assert fts == stored[0]  # the keyword index followed the committed rows exactly
    assert 0 < stored[0] < 9000  # it stopped early
    progress = [m for m in seen if isinstance(m, JobProgress)]
    assert progress and progress[-1].done <= stored[0] + 1000


# -- a fake stage (deterministic progress, ETA and cancel) ----------------------------------------


def _blocking_stage(gate: threading.Event) -> jobspecs.JobSpec:
    """Fake stage (a real one cannot hold still at 10% and 40%): reports 10/100, waits for the
    test, reports 40/100, then blocks until the job is cancelled, as real stages stop: by
    checking `cancelled()` between batches and raising `Cancelled`."""

    def fn(progress: Any, cancelled: Any) -> str:
        progress(10, 100, "work: first batch")
        gate.wait(10)
        progress(40, 100, "work: second batch")
        while not cancelled():
            threading.Event().wait(0.01)
        raise Cancelled("stopped after 40 of 100; the 40 are kept")

    return jobspecs.JobSpec("fake", "Fake stage", "lmsys-tui --headless status", fn)


async def test_progress_eta_log_and_cancel_with_a_fixed_clock(home: Path) -> None:
    clock = FixedClock(1000.0)
    gate = threading.Event()
    app = make_app(home / "queries.db", clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        job = app.start_job(_blocking_stage(gate))
        await wait_for(app, pilot, lambda: job.done == 10)
        clock.now = 1010.0
        gate.set()
        await wait_for(app, pilot, lambda: job.done == 40)
        assert job.eta(clock()) == pytest.approx(20.0)  # 30 done in 10 s, 60 to go
        screen._show_jobs(0)
        await pilot.pause()
        table = screen.query_one("#jobs", DataTable)
        assert cells(table, 3) == ["40%"] and cells(table, 4) == ["0:20"]
        status = static_text(screen.query_one("#job-status", Static))
        assert status.splitlines()[0] == "running · 40/100 · elapsed 0:10 · ETA 0:20"
        assert status.splitlines()[1] == "work: second batch"
        assert screen.query_one("#job-bar", ProgressBar).percentage == pytest.approx(0.4)
        clock.now = 1012.0
        await pilot.press("x")
        await wait_for(app, pilot, lambda: not job.active)
        await settle(app, pilot)
        assert job.status == "cancelled" and job.done == 40
        assert [_text(line) for line in job.log] == [
            "started: lmsys-tui --headless status",
            "work: first batch",
            "cancel requested",
            "cancelled: stopped after 40 of 100; the 40 are kept",
        ]
        assert job.log[-1].startswith("   0:12")
        notes = [n for n in app._notifications if n.title == "Fake stage: cancelled"]
        assert notes and notes[0].severity == "warning"
        assert cells(table, 2) == ["cancelled"] and cells(table, 4) == [""]


async def test_opened_on_a_running_job_the_job_fills_the_screen_until_f(home: Path) -> None:
    """The demo opens the pipeline screen on its job: the job, not an empty Load form, is in
    front; `f` (or any form key) brings the forms back beside it."""
    gate = threading.Event()
    app = make_app(home / "queries.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        job = app.start_job(_blocking_stage(gate))
        app.action_pipeline(job.id)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen) and screen.job_in_front
        assert not screen.query_one("#forms").display
        assert not screen.query("#load-source")  # no form is built behind the job
        assert app.focused is screen.query_one("#jobs", DataTable)
        assert screen.query_one("#job-log").display and screen.selected_job == job.id
        keys = {k for k, b in screen.active_bindings.items() if b.enabled}
        assert "f" in keys and "ctrl+s" not in keys
        await pilot.press("f")
        await settle(app, pilot)
        assert not screen.job_in_front and screen.query_one("#forms").display
        assert screen.active_form == "load" and screen.query("#load-source")
        keys = {k for k, b in screen.active_bindings.items() if b.enabled}
        assert "f" not in keys and "ctrl+s" in keys
        await pilot.press("x")
        gate.set()
        await wait_for(app, pilot, lambda: not job.active)
        # opened on a finished job, or from a form key, the forms are in front as before
        app.pop_screen()
        app.action_pipeline(job.id)
        await settle(app, pilot)
        assert not app.screen.job_in_front and app.screen.query_one("#forms").display


async def test_progress_messages_coalesce() -> None:
    a, b, c = (
        JobProgress(1, 1, 10, "embed: 1"),
        JobProgress(1, 2, 10, "embed: 2"),
        JobProgress(2, 1, 10, ""),
    )
    assert a.can_replace(b)  # a newer report of the same job supersedes a queued one
    assert not a.can_replace(c)  # never another job's
    assert not a.can_replace(JobProgress(1, 0, 5, "fit: 0"))  # nor the last of a phase
    assert not a.can_replace(JobEnded(1, "done", "ok"))  # and never the end of the job


async def test_failing_jobs_show_an_error_and_the_app_stays_up(store: Any) -> None:
    fx = tui_store.build(store)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        missing = app.start_job(jobspecs.summarize(app.settings, run_id="no-such-run"))

        def boom(progress: Any, cancelled: Any) -> None:
            raise RuntimeError("disk on fire")

        crash = app.start_job(
            jobspecs.JobSpec("fake", "Crashing stage", "lmsys-tui --headless x", boom)
        )
        await wait_for(app, pilot, lambda: not missing.active and not crash.active)
        await settle(app, pilot)
        assert missing.status == "failed" and "no-such-run" in missing.message
        assert crash.status == "failed" and crash.message == "RuntimeError: disk on fire"
        assert crash.log[-1].endswith("failed: RuntimeError: disk on fire")
        errors = [n for n in app._notifications if n.severity == "error"]
        assert {n.title for n in errors} == {
            "Summarize no-such-run: failed",
            "Crashing stage: failed",
        }
        assert app.is_running
        app.action_pipeline(crash.id)
        await settle(app, pilot)
        assert app.screen.query_one("#jobs-side").has_class("-failed")
        # the App still runs jobs after failures
        ok = app.start_job(
            jobspecs.JobSpec("fake", "Fine", "lmsys-tui --headless runs", lambda p, c: "fine")
        )
        await wait_for(app, pilot, lambda: not ok.active)
        assert ok.status == "done" and ok.message == "fine"


async def test_forms_validate_and_show_their_headless_command(store: Any) -> None:
    fx = tui_store.build(store)
    app = make_app(fx.db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("k")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen) and screen.active_form == "cluster"
        screen.query_one("#cluster-algorithm", Select).value = "hdbscan"
        screen.query_one("#cluster-size", Input).value = "ten"
        await settle(app, pilot)
        preview = screen.query_one("#command-preview", Static)
        assert static_text(preview) == "! --min-cluster-size must be a whole number, not 'ten'"
        assert preview.has_class("-invalid")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not app.jobs
        assert any(n.title == "Cannot start" for n in app._notifications)
        screen.query_one("#cluster-size", Input).value = "10"
        screen.query_one("#cluster-dataset", Select).value = "support-chats"
        await settle(app, pilot)
        assert static_text(preview) == (
            "$ lmsys-tui --headless cluster hdbscan --min-cluster-size 10"
            f" --dataset support-chats --db-path {fx.db}"
        )
        # the summarize form is prefilled with the run the user was looking at
        app.pop_screen()
        app.open_run(tui_store.RUN_ID)
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        screen = app.screen
        assert screen.active_form == "summarize"
        assert screen.query_one("#summarize-run_id", Select).value == tui_store.RUN_ID
        command, estimate = static_text(screen.query_one("#command-preview", Static)).split("\n")
        assert command == f"$ lmsys-tui --headless summarize {tui_store.RUN_ID} --db-path {fx.db}"
        # an LLM job says what it would cost before it starts (no key here: offline, free)
        assert estimate.startswith("≈ 0 calls to offline") and "$0.0000" in estimate


def test_fmt_seconds_is_fixed_format() -> None:
    assert [fmt_seconds(s) for s in (None, 0, 7.4, 125, 3725)] == [
        "–",
        "0:00",
        "0:07",
        "2:05",
        "1:02:05",
    ]
