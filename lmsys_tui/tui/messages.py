"""Messages that workers post to the App: results and failures travel up, never widget calls.

Workers run in threads and must not touch widgets; they post one of these and the App's
handler turns it into state (reactive attributes) that screens watch.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from lmsys_tui.tui.overview import StoreOverview


@dataclass
class StoreRead(Message):
    """The store was read: datasets, runs and counts as of now."""

    overview: StoreOverview
