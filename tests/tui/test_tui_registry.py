"""Registry parity: every action has both front doors, and every headless command is an action.

Fails when someone adds an action without a headless command or without a TUI entry (a
`do_<id>` handler on the App or on a screen, reachable by key or palette), when a headless
command exists that the registry does not declare, or when a key is declared twice.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
import typer

import lmsys_tui.commands
from lmsys_tui.actions import ACTIONS, by_id
from lmsys_tui.cli import build_headless_app
from lmsys_tui.tui.app import LmsysApp
from lmsys_tui.tui.screens.explorer import ExplorerScreen
from lmsys_tui.tui.screens.pipeline import PipelineScreen
from lmsys_tui.tui.screens.queries import QueriesScreen
from lmsys_tui.tui.screens.runs import RunsScreen

# Pure TUI actions: they have no headless meaning. Adding to this set needs a reason.
UI_ONLY = {"help", "quit"}
SCREENS = (LmsysApp, RunsScreen, ExplorerScreen, QueriesScreen, PipelineScreen)


def _handler_owners(action_id: str) -> list[str]:
    name = "do_" + action_id.replace("-", "_")
    return [cls.__name__ for cls in SCREENS if callable(getattr(cls, name, None))]


def _cli_commands() -> set[str]:
    group = typer.main.get_command(build_headless_app())
    assert hasattr(group, "commands")
    found: set[str] = set()

    def walk(cmd: Any, prefix: list[str]) -> None:
        if hasattr(cmd, "commands"):  # a group (typer may bring its own click)
            for name, sub in cmd.commands.items():
                walk(sub, [*prefix, name])
        else:
            found.add(" ".join(prefix))

    walk(group, [])
    return found


def test_every_action_has_a_headless_command_unless_pure_ui() -> None:
    missing = {a.id for a in ACTIONS if a.command is None}
    assert missing == UI_ONLY, f"actions without a headless command: {missing - UI_ONLY}"
    for action in ACTIONS:
        if action.command is None:
            continue
        assert action.target, action.id
        module, _, func = action.target.partition(":")
        assert callable(getattr(importlib.import_module(module), func)), action.target


@pytest.mark.parametrize("action", ACTIONS, ids=[a.id for a in ACTIONS])
def test_every_action_has_a_tui_entry(action: Any) -> None:
    assert action.tui, f"{action.id} is not reachable in the TUI"
    assert _handler_owners(action.id), f"no do_{action.id.replace('-', '_')} on the App or a screen"
    assert (action.title and ": " in action.title) or action.id in UI_ONLY, action.title
    assert action.help


def test_every_headless_command_is_in_the_registry() -> None:
    declared = {a.command for a in ACTIONS if a.command}
    assert _cli_commands() == declared
    assert len(declared) == len([a for a in ACTIONS if a.command])  # each command once


def test_every_command_group_has_a_help_line() -> None:
    from lmsys_tui.actions import GROUPS

    used = {a.command.split()[0] for a in ACTIONS if a.command and " " in a.command}
    assert set(GROUPS) == used
    group = typer.main.get_command(build_headless_app())
    for name in used:
        assert group.commands[name].help == GROUPS[name]  # type: ignore[attr-defined]


def test_every_command_function_is_the_target_of_an_action() -> None:
    """A command written in lmsys_tui/commands but never registered would be unreachable."""
    targets = {a.target for a in ACTIONS if a.target}
    helpers = {"options", "output", "progress"}
    for info in pkgutil.iter_modules(lmsys_tui.commands.__path__):
        if info.name in helpers:
            continue
        module = importlib.import_module(f"lmsys_tui.commands.{info.name}")
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if obj.__module__ != module.__name__ or name.startswith("_"):
                continue
            if hasattr(obj, "__wrapped__"):  # @handled: a command
                assert f"{module.__name__}:{name}" in targets, f"{module.__name__}:{name}"


def test_keys_and_titles_are_unique() -> None:
    keys = [a.key for a in ACTIONS if a.key]
    assert len(keys) == len(set(keys))
    titles = [a.title for a in ACTIONS]
    assert len(titles) == len(set(titles))
    ids = [a.id for a in ACTIONS]
    assert len(ids) == len(set(ids))
    # a screen's own key may reuse a registry key only where that action does nothing anyway
    by_key = {a.key: a for a in ACTIONS if a.key}
    for cls in SCREENS[1:]:
        for binding in getattr(cls, "BINDINGS", []):
            for key in getattr(binding, "key", "").split(","):
                action = by_key.get(key)
                if action is None:
                    continue
                name = "do_" + action.id.replace("-", "_")
                assert not hasattr(cls, name) and not hasattr(LmsysApp, name), (cls, key)


@pytest.mark.anyio
async def test_every_action_can_show_and_copy_its_headless_command(home: Any) -> None:
    from lmsys_tui.config import Settings

    app = LmsysApp(Settings(db_path=home / "queries.db"))
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for action in ACTIONS:
            if action.command is None:
                continue
            line = app.action_copy_command(action.id)
            assert line == app.clipboard
            assert line.startswith(f"lmsys-tui --headless {action.command}"), line
            assert f"--db-path {home / 'queries.db'}" in line
        assert by_id("delete").key == "x"
