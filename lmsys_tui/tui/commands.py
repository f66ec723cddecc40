"""The command palette's providers.

`ActionsProvider`: every TUI action of the registry, by its "verb: object" title, offered only
where it applies (the same test that hides its key from the footer); searching also offers
"Copy command: …" for each action with a headless twin. `NavigationProvider`: "Open: run…" and
"Jump: to cluster…", and while typing, the runs and the open run's clusters themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

from lmsys_tui.actions import ACTIONS, Action

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp

COPY_PREFIX = "Copy command: "
OPEN_RUN = "Open: run…"
JUMP = "Jump: to cluster…"


def highlight(matcher: Matcher, candidate: str) -> Content:
    """Like `Matcher.highlight`, but the candidate is never parsed as markup (titles of
    clusters come from the store and may contain `[bold]` or `[/]`)."""
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if score:
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def _help(action: Action) -> str:
    """Palette help is parsed as markup; registry text is escaped like any other text."""
    return escape(f"{action.help} ({action.key})" if action.key else action.help)


class ActionsProvider(Provider):
    def _available(self) -> Iterator[Action]:
        app = cast("LmsysApp", self.app)
        for action in ACTIONS:
            if action.tui and app.handler_for(action.id, self.screen) is not None:
                yield action

    async def discover(self) -> Hits:
        app = cast("LmsysApp", self.app)
        for action in self._available():
            yield DiscoveryHit(
                Content(action.title),
                partial(app.invoke, action.id),
                text=action.title,
                help=_help(action),
            )

    async def search(self, query: str) -> Hits:
        app = cast("LmsysApp", self.app)
        matcher = self.matcher(query)
        for action in self._available():
            score = matcher.match(action.title)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, action.title),
                    partial(app.invoke, action.id),
                    text=action.title,
                    help=_help(action),
                )
        if not query.strip():
            return
        for action in ACTIONS:
            if action.command is None:
                continue
            title = COPY_PREFIX + action.title
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score * 0.5,  # below the action itself
                    highlight(matcher, title),
                    partial(app.action_copy_command, action.id),
                    text=title,
                    help=escape(f"Copy the lmsys-tui --headless {action.command} … line"),
                )


class NavigationProvider(Provider):
    async def discover(self) -> Hits:
        app = cast("LmsysApp", self.app)
        yield DiscoveryHit(
            Content(OPEN_RUN),
            partial(app.invoke, "list-clusters"),
            text=OPEN_RUN,
            help="Pick a clustering run and open its tree.",
        )
        if app.explorer() is not None:
            yield DiscoveryHit(
                Content(JUMP),
                partial(app.invoke, "inspect"),
                text=JUMP,
                help="Pick a cluster or node of the open run and go to it.",
            )

    async def search(self, query: str) -> Hits:
        from lmsys_tui.tui.screens.picker import cluster_options, run_options

        app = cast("LmsysApp", self.app)
        matcher = self.matcher(query)
        for title, action_id in ((OPEN_RUN, "list-clusters"), (JUMP, "inspect")):
            if action_id == "inspect" and app.explorer() is None:
                continue
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, highlight(matcher, title), partial(app.invoke, action_id), text=title
                )
        if len(query.strip()) < 2:
            return
        for label, run_id in run_options(app):
            title = f"Open run: {label}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score * 0.8,
                    highlight(matcher, title),
                    partial(app.open_run, run_id),
                    text=title,
                )
        explorer = app.explorer()
        if explorer is None:
            return
        for label, node_id in cluster_options(explorer):
            title = f"Jump to: {label}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score * 0.8,
                    highlight(matcher, title),
                    partial(_jump, app, explorer, node_id),
                    text=title,
                )


def _jump(app: LmsysApp, explorer: object, node_id: int) -> None:
    while app.screen is not explorer and len(app.screen_stack) > 1:
        app.pop_screen()
    explorer.jump_to(node_id)  # type: ignore[attr-defined]
