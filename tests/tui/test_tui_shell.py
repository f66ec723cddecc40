"""The TUI shell: runs screen over a real store, registry-driven keys, help and palette, errors.

Every test builds its own store with the real load stage from fixed conversations (fixed dates,
no clock) and drives the real App with Pilot. State and messages are asserted first; the one
snapshot test comes last. Nothing is mocked.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.command import CommandPalette
from textual.widgets import DataTable, Static
from textual.worker import WorkerCancelled, WorkerFailed

from lmsys_tui.actions import ACTIONS, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store.models import ClusteringRun
from lmsys_tui.tui.app import LmsysApp
from lmsys_tui.tui.commands import ActionsProvider
from lmsys_tui.tui.screens.help import HelpScreen
from lmsys_tui.tui.screens.runs import RunsScreen

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent.parent
SIZE = (120, 40)
FIXED_UPDATED = "2024-05-01 12:00:00.000000"
FIXED_CREATED = "2024-04-30 09:15:00.000000"
RUN_ID = "kmeans-20240502-083000"
EVIL_LABEL = "[bold red]evil[/] \x1b[31mred"

SUPPORT = [
    "How do I reset my router password?",
    "Write a polite email asking for a refund.",
    "What does error 0x80070005 mean on Windows?",
    "Summarise this contract clause for me.",
    "Translate 'good morning' into Japanese.",
]
CODING = [
    "Why does my Python list comprehension raise NameError?",
    "Explain Rust lifetimes with an example.",
    "Write a SQL query for the top 5 customers by revenue.",
]


def _load(store: Any, label: str, texts: list[str], source: str = "file") -> None:
    convs = [
        Conversation(f"{label}-{i}", text, model="vicuna-13b", language="en", turn_count=1)
        for i, text in enumerate(texts)
    ]
    info = SourceInfo(source, "fixture.jsonl", label, detect_language=False)
    run_load(store, iter(convs), info, label=label)


def _fix_dates(db: Path) -> None:
    """The load stage stamps the wall clock; the screen shows stored dates, so pin them."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE datasets SET created_at = ?, updated_at = ?", (FIXED_CREATED, FIXED_UPDATED)
        )


def _add_run(store: Any, dataset_id: int = 1) -> None:
    with store.session() as session:
        session.add(
            ClusteringRun(
                run_id=RUN_ID,
                algorithm="kmeans",
                num_clusters=40,
                dataset_id=dataset_id,
                embedding_provider="sentence-transformers",
                embedding_model="all-MiniLM-L6-v2",
                embedding_dim=384,
                status="done",
                created_at=datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
                finished_at=datetime(2024, 5, 2, 8, 31, tzinfo=UTC),
            )
        )
        session.commit()


@pytest.fixture
def filled(store: Any) -> Path:
    """Two datasets (5 and 3 queries) and one finished clustering run, fixed dates."""
    _load(store, "support-chats", SUPPORT)
    _load(store, "coding-help", CODING, source="sharegpt")
    _add_run(store)
    _fix_dates(store.path)
    return store.path


def _app(db: Path, run_id: str | None = None) -> LmsysApp:
    app = LmsysApp(Settings(db_path=db), run_id=run_id)
    app.animation_level = "none"
    return app


async def _settle(app: LmsysApp, pilot: Any) -> None:
    """Wait for the store read, then for its messages to be handled.

    `wait_for_complete` re-raises a worker's error (or cancellation) if it catches the worker
    before the manager has dropped it; the tests that expect a failure assert on what the App
    made of it instead.
    """
    with contextlib.suppress(WorkerFailed, WorkerCancelled):
        await app.workers.wait_for_complete()
    await pilot.pause()


def _cells(table: DataTable[Any], column: int) -> list[str]:
    out = []
    for i in range(table.row_count):
        cell = table.get_row_at(i)[column]
        out.append(cell.plain if isinstance(cell, Text) else str(cell))
    return out


def _static_text(widget: Static) -> str:
    from tui_pilot import static_text

    return static_text(widget)


# -- the runs screen ---------------------------------------------------------------------------


async def test_runs_screen_lists_datasets_and_runs_from_the_store(filled: Path) -> None:
    app = _app(filled)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        datasets = screen.query_one("#datasets", DataTable)
        assert _cells(datasets, 0) == ["support-chats", "coding-help"]
        assert _cells(datasets, 1) == ["file", "sharegpt"]
        assert _cells(datasets, 2) == ["5", "3"]
        assert _cells(datasets, 3) == ["done", "done"]
        assert _cells(datasets, 4) == ["2024-05-01 12:00"] * 2
        runs = screen.query_one("#runs", DataTable)
        assert _cells(runs, 0) == [RUN_ID]
        assert _cells(runs, 3) == ["support-chats"]
        assert _cells(runs, 4) == ["all-MiniLM-L6-v2"]
        assert _cells(runs, 5) == ["384"]
        assert _cells(runs, 7) == ["2024-05-02 08:30"]
        line = _static_text(screen.query_one("#store-line", Static))
        assert "8 queries in 2 datasets · 1 run" in line
        assert datasets.display and runs.display
        assert not screen.query_one("#datasets-empty").display
        assert not screen.query_one("#runs-empty").display


async def test_empty_home_offers_the_demo_and_the_pipeline_from_a_key() -> None:
    from lmsys_tui.tui.screens.pipeline import PipelineScreen

    app = _app(Settings().db)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        assert not screen.query_one("#datasets").display
        hint = _static_text(screen.query_one("#datasets-empty", Static))
        assert screen.query_one("#datasets-empty").display
        assert "Press b to build the demo store" in hint and "or p for the pipeline" in hint
        assert "--headless" not in hint  # no shell needed
        assert screen.query_one("#runs-empty").display
        assert "No store yet" in _static_text(screen.query_one("#store-line", Static))
        shown = {key for key, b in screen.active_bindings.items() if b.binding.show}
        assert "p" in shown  # the footer shows the pipeline key
        await pilot.press("b")
        await _settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen) and app.screen.active_form == "demo"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("p")
        await _settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen)


async def test_refresh_key_rereads_the_store(store: Any) -> None:
    _load(store, "support-chats", SUPPORT)
    app = _app(store.path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        assert app.screen.query_one("#runs-empty").display
        _add_run(store)
        await pilot.press("r")
        await _settle(app, pilot)
        runs = app.screen.query_one("#runs", DataTable)
        assert _cells(runs, 0) == [RUN_ID]
        assert runs.has_focus
        assert not app.screen.query_one("#runs-empty").display


async def test_run_id_option_selects_that_run(filled: Path, store: Any) -> None:
    with store.session() as session:
        session.add(
            ClusteringRun(
                run_id="hdbscan-older",
                algorithm="hdbscan",
                status="failed",
                created_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )
        session.commit()
    app = _app(filled, run_id="hdbscan-older")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        # --run-id opens the run's tree; a failed run has none, which is said, not crashed on
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("run 'hdbscan-older' is failed" in m for m in errors)
        await pilot.press("escape")
        await _settle(app, pilot)
        runs = app.screen.query_one("#runs", DataTable)
        assert _cells(runs, 0) == [RUN_ID, "hdbscan-older"]
        assert runs.has_focus and runs.cursor_row == 1


async def test_unknown_run_id_warns_and_stays_up(filled: Path) -> None:
    app = _app(filled, run_id="no-such-run")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        notes = [n.message for n in app._notifications]
        assert any("no clustering run 'no-such-run'" in m for m in notes)
        assert app.is_running
        await pilot.press("escape")
        await _settle(app, pilot)
        # the runs screen under the tree is built when first shown, and says it too
        assert isinstance(app.screen, RunsScreen)
        notes = [n.message for n in app._notifications]
        assert any("no run no-such-run" in m for m in notes)


# -- failures become visible state, never a crash ----------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a database at all" * 100, "not an lmsys-tui store"),
        ("newer", "newer than this lmsys-tui"),
    ],
    ids=["garbage-file", "newer-schema"],
)
async def test_unreadable_store_shows_one_line_error(
    store: Any, content: bytes | str, expected: str
) -> None:
    _load(store, "support-chats", SUPPORT)
    db = store.path
    store.close()
    if content == "newer":
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.write_bytes(content)  # type: ignore[arg-type]
    before = db.read_bytes()
    app = _app(db)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        assert app.store_error is not None and expected in app.store_error
        assert "\n" not in app.store_error
        screen = app.screen
        assert isinstance(screen, RunsScreen) and screen.has_class("-error")
        assert expected in _static_text(screen.query_one("#store-line", Static))
        assert not screen.query_one("#datasets").display
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and expected in errors[0].message
        await pilot.press("r")  # refreshing again fails the same way, still no crash
        await _settle(app, pilot)
        assert app.is_running
    assert db.read_bytes() == before


async def test_error_clears_when_the_store_is_readable_again(store: Any) -> None:
    _load(store, "support-chats", SUPPORT)

    def set_version(value: str) -> None:
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", (value,))

    app = _app(store.path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        set_version("99")
        await pilot.press("r")
        await _settle(app, pilot)
        assert app.screen.has_class("-error")
        set_version("1")
        await pilot.press("r")
        await _settle(app, pilot)
        assert app.store_error is None and not app.screen.has_class("-error")
        line = _static_text(app.screen.query_one("#store-line", Static))
        assert "5 queries in 1 dataset" in line
        assert app.screen.query_one("#datasets").display


# -- keys, help and palette come from the registry ---------------------------------------------


async def test_bindings_are_generated_from_the_registry(filled: Path) -> None:
    app = _app(filled)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        by_key = {b.key: b for _, b in app._bindings}
        for action in ACTIONS:
            if not (action.tui and action.key):
                continue
            binding = by_key[action.key]
            assert binding.id == action.id
            assert binding.tooltip == action.help
            assert binding.action == f"invoke({action.id!r})"
            assert binding.show == action.show_in_footer
        active = app.screen.active_bindings
        for action in ACTIONS:
            if action.tui and action.key:
                # shown where the action does something here, hidden where it does not
                applies = app.handler_for(action.id) is not None
                assert (action.key in active) == applies, action.id
        assert "v" not in active and "slash" not in active  # explorer keys
        assert "escape" not in active  # nothing to go back to from the home screen


async def test_help_lists_every_action_and_escape_returns_then_ctrl_q_quits(
    filled: Path,
) -> None:
    app = _app(filled)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        table = help_screen.query_one("#help-table", DataTable)
        row_keys = [k.value for k in table.rows]
        assert row_keys[: len(ACTIONS)] == [a.id for a in ACTIONS]
        titles = _cells(table, 1)
        about = _cells(table, 2)
        for i, action in enumerate(ACTIONS):
            assert titles[i] == action.title
            assert action.help in about[i]
            command = headless_command(action)
            if command:
                assert command in about[i]
            expected_key = (action.key or "palette") if action.tui else "headless"
            assert _cells(table, 0)[i] == expected_key
        # Data keys do nothing under the help panel: hidden, and pressing them changes nothing.
        assert "d" not in help_screen.active_bindings
        await pilot.press("d")
        assert app.screen is help_screen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("f1", "f1")  # f1 toggles
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_palette_offers_registry_actions_by_verb_object_title(filled: Path) -> None:
    app = _app(filled)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        provider = ActionsProvider(app.screen)
        discovered = [hit.text async for hit in provider.discover()]
        assert discovered == [
            a.title for a in ACTIONS if a.tui and app.handler_for(a.id) is not None
        ]
        assert "Show: clustering runs" in discovered and "Search: queries" not in discovered
        hits = [hit async for hit in provider.search("show clustering")]
        assert hits[0].text == "Show: clustering runs"
        hits[0].command()
        await _settle(app, pilot)
        assert app.screen.query_one("#runs", DataTable).has_focus
        # and the real palette opens on ctrl+p and closes on escape
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


async def test_load_opens_its_form_and_status_notifies(filled: Path) -> None:
    from lmsys_tui.tui.screens.pipeline import PipelineScreen

    app = _app(filled)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        await pilot.press("l")
        await _settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen) and app.screen.active_form == "load"
        preview = _static_text(app.screen.query_one("#command-preview", Static))
        assert preview.startswith("$ lmsys-tui --headless load --source sharegpt")
        await pilot.press("s")
        await pilot.pause()
        assert any("8 queries in 2 datasets" in n.message for n in app._notifications)


# -- untrusted text ----------------------------------------------------------------------------


async def test_markup_and_escape_codes_in_data_render_inert(store: Any) -> None:
    _load(store, EVIL_LABEL, ["[bold red]not bold[/] \x1b[2J\x1b[31mstill plain"], source="f[/]")
    _fix_dates(store.path)
    app = _app(store.path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        table = app.screen.query_one("#datasets", DataTable)
        table.blur()
        await pilot.pause()
        line = table.render_line(1)  # row 0 is the header
        text = "".join(seg.text for seg in line)
        assert "[bold red]evil[/] \\x1b[31mred" in text
        assert "f[/]" in text
        assert "\x1b" not in text

        def styles(part: str) -> set[Any]:
            return {seg.style.clear_meta_and_links() for seg in line if part in seg.text}

        label_styles, source_styles = styles("evil"), styles("f[/]")
        assert label_styles == source_styles  # one plain style: nothing was parsed as markup
        assert all(not (s and s.bold) for s in label_styles)
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        assert "[bold&#160;red]evil[/]" in svg


# -- styles ship with the package --------------------------------------------------------------


def test_styles_resolve_from_an_installed_wheel(tmp_path: Path) -> None:
    """Build the wheel, unpack it, and resolve the stylesheets from there (not the checkout)."""
    pytest.importorskip("hatchling")
    build = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = "from lmsys_tui.tui.styles import stylesheets\nfor p in stylesheets(): print(p)\n"
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    paths = [Path(p) for p in res.stdout.split()]
    assert paths[0].name == "app.tcss"
    assert {p.name for p in paths} == {p.name for p in (ROOT / "styles").glob("*.tcss")}
    assert all(p.is_relative_to(site / "lmsys_tui" / "styles") for p in paths)


def test_css_uses_theme_variables_only() -> None:
    """Colours come from the theme: no hex, rgb() or named colours in a declaration."""
    named = re.compile(r"\b(red|green|blue|black|white|yellow|magenta|cyan|gr[ae]y)\b")
    for sheet in (ROOT / "styles").glob("*.tcss"):
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)
        for decl in re.findall(r"[\w-]+\s*:\s*([^;{}]+);", text):
            assert not re.search(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", decl), (sheet, decl)
            assert not named.search(decl), (sheet, decl)


# -- the snapshot ------------------------------------------------------------------------------


def test_runs_screen_snapshot(
    filled: Path, home: Path, monkeypatch: pytest.MonkeyPatch, snap_compare: Any
) -> None:
    """Runs screen at 120x40: two datasets, one run, fixed dates, relative store path."""
    monkeypatch.chdir(home)
    app = _app(Path(filled.name))
    app.theme = "textual-dark"

    async def settle(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_empty_home_snapshot(
    home: Path, monkeypatch: pytest.MonkeyPatch, snap_compare: Any
) -> None:
    """What a new user sees first: no store yet, the demo and pipeline keys, the footer."""
    monkeypatch.chdir(home.parent)
    app = _app(Path(home.name) / "queries.db")
    app.theme = "textual-dark"

    async def settle(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
