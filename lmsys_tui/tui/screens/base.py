"""What every lmsys-tui screen shares: the App's failure handler and its headless command.

Worker state messages do not bubble from a screen to the App, so each screen forwards its own
workers' state changes to the App's one handler (a failure becomes a notification, never a
crash). `headless()` tells which `lmsys-tui --headless …` line does what the screen shows now;
the "copy command" key and the help screen use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import ModalScreen, Screen
from textual.worker import Worker

if TYPE_CHECKING:
    from lmsys_tui.tui.app import LmsysApp


class LmsysMixin:
    app: Any

    @property
    def lmsys(self) -> LmsysApp:
        return cast("LmsysApp", self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.lmsys.worker_changed(event)

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        """(action id, arguments) of the headless command equivalent to this screen's view,
        or to `action_id` in this screen's context; None when there is none."""
        return None


class LmsysScreen(LmsysMixin, Screen[None]):
    pass


class LmsysModal(LmsysMixin, ModalScreen[Any]):
    pass
