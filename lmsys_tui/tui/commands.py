"""The command palette's provider: every TUI action of the registry, by its "verb: object" title.

Only actions that apply to the screen the palette was opened from are offered (the same test
that hides their keys from the footer).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from lmsys_tui.actions import ACTIONS, Action

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp


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
                    matcher.highlight(action.title),
                    partial(app.invoke, action.id),
                    text=action.title,
                    help=_help(action),
                )
