"""The command palette's providers.

`ActionsProvider`: every TUI action of the registry, by its "verb: object" title, offered only
where it applies (the same test that hides its key from the footer); searching also offers
"Copy command: …" for each action with a headless twin. `NavigationProvider`: "Open: run…" and
"Jump: to cluster…", and while typing, the runs and the open run's clusters themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape

from lmsys_tui.actions import ACTIONS, Action
from lmsys_tui.tui.screens.picker import JUMP, OPEN_RUN, cluster_options, jump, run_options

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp

COPY_PREFIX = "Copy command: "


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


def _hits(
    matcher: Matcher,
    choices: Iterable[tuple[str, Callable[[], Any], str | None]],
    weight: float = 1.0,
) -> Iterator[Hit]:
    """A hit for each (title, callback, help) the query matches, its score times `weight`."""
    for title, callback, help_text in choices:
        score = matcher.match(title)
        if score > 0:
            yield Hit(
                score * weight, highlight(matcher, title), callback, text=title, help=help_text
            )


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
        for hit in _hits(
            matcher,
            ((a.title, partial(app.invoke, a.id), _help(a)) for a in self._available()),
        ):
            yield hit
        if not query.strip():
            return
        copies = (
            (
                COPY_PREFIX + a.title,
                partial(app.action_copy_command, a.id),
                escape(f"Copy the lmsys-tui --headless {a.command} … line"),
            )
            for a in ACTIONS
            if a.command is not None
        )
        for hit in _hits(matcher, copies, 0.5):  # below the action itself
            yield hit


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
        app = cast("LmsysApp", self.app)
        matcher = self.matcher(query)
        explorer = app.explorer()
        entries = [(OPEN_RUN, partial(app.invoke, "list-clusters"), None)]
        if explorer is not None:
            entries.append((JUMP, partial(app.invoke, "inspect"), None))
        for hit in _hits(matcher, entries):
            yield hit
        if len(query.strip()) < 2:
            return
        runs = (
            (f"Open run: {label}", partial(app.open_run, run_id), None)
            for label, run_id in run_options(app)
        )
        for hit in _hits(matcher, runs, 0.8):
            yield hit
        if explorer is None:
            return
        nodes = (
            (f"Jump to: {label}", partial(jump, app, explorer, node_id), None)
            for label, node_id in cluster_options(explorer)
        )
        for hit in _hits(matcher, nodes, 0.8):
            yield hit
