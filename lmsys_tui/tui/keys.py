"""Key bindings generated from the action registry (`lmsys_tui.actions.ACTIONS`).

Every binding runs `app.invoke(<action id>)`, so a key, a palette entry and a help row all reach
the same handler. The binding id is the action id, which lets a user keymap rebind it.
"""

from __future__ import annotations

from textual.binding import Binding

from lmsys_tui.actions import ACTIONS, Action


def footer_label(action: Action) -> str:
    """The action's own short label, else the object of its "verb: object" title: the footer
    has little room."""
    if action.footer:
        return action.footer
    _, sep, obj = action.title.partition(": ")
    return (obj if sep else action.title).lower()


def is_command_key(key: str) -> bool:
    """Keys that cannot be typed as text get priority, so they also work inside an input."""
    return len(key) > 1 and not key.startswith("shift+")


def action_bindings() -> list[Binding]:
    return [
        Binding(
            action.key,
            f"invoke({action.id!r})",
            footer_label(action),
            show=action.show_in_footer,
            tooltip=action.help,
            id=action.id,
            priority=is_command_key(action.key),
        )
        for action in ACTIONS
        if action.tui and action.key
    ]
