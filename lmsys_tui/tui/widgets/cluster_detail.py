"""The detail panel beside the tree: everything known about the highlighted node.

Title, description, coherence, size and share, top keywords, language and model breakdowns as
small bar charts that fit the panel's width (a breakdown with a single value is left out), the
most central queries (clipped: this is a list), and where the title came from (summary pass or
hierarchy, model, when). Every value from the store goes through `inert()`; the description is
shown whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from lmsys_tui.core.read.tree import NodeRow
from lmsys_tui.tui.text import inert, plain
from lmsys_tui.tui.widgets.bars import chart, percent

EXAMPLE_LIMIT = 160
REST = 0.08  # seconds the cursor rests on a node before its detail is asked for


def stamp(value: Any) -> str:
    """A stored timestamp to the minute (UTC), as stored: no clock involved."""
    return "" if value is None else str(value).replace("T", " ")[:16]


class ClusterDetail(VerticalScroll, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "cluster-detail--title",
        "cluster-detail--heading",
        "cluster-detail--muted",
        "cluster-detail--bar",
        "cluster-detail--error",
    }

    @dataclass
    class Wanted(Message):
        """The cursor rested on `row`: read its detail, then `show` it."""

        panel: ClusterDetail
        row: NodeRow

        @property
        def control(self) -> ClusterDetail:
            return self.panel

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.wanted_id: int | None = None  # the node whose detail is wanted (or shown)
        self._rest: Timer | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="detail-body")

    def want(self, row: NodeRow) -> None:
        """The cursor is on `row`: ask for its detail after a short restartable rest, so that
        holding an arrow key asks once, not once per row, and the tree paints first."""
        if row.node_id == self.wanted_id:
            return
        self.wanted_id = row.node_id
        self.add_class("-loading")
        if self._rest is not None:
            self._rest.stop()
        self._rest = self.set_timer(REST, partial(self._rested, row))

    def _rested(self, row: NodeRow) -> None:
        self._rest = None
        if row.node_id == self.wanted_id:
            self.post_message(self.Wanted(self, row))

    @property
    def pending(self) -> bool:
        """A detail is about to be asked for (the cursor is resting)."""
        return self._rest is not None

    def _style(self, name: str) -> Any:
        try:
            return self.get_component_rich_style(f"cluster-detail--{name}", partial=True)
        except KeyError:  # not mounted yet
            return ""

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "-error")
        body = inert(text, one_line=False)
        if error:
            body.stylize(self._style("error"))
        self.query_one("#detail-body", Static).update(body)

    def show(self, detail: dict[str, Any]) -> None:
        self.remove_class("-loading")
        self.set_class(False, "-error")
        self.query_one("#detail-body", Static).update(self.render_detail(detail))
        self.scroll_home(animate=False)

    def _heading(self, text: str) -> Text:
        return Text("\n" + text, style=self._style("heading"))

    def render_detail(self, d: dict[str, Any]) -> RenderableType:
        muted = self._style("muted")
        parts: list[RenderableType] = []
        title = inert(d.get("title") or "(untitled)", one_line=False)
        title.stylize(self._style("title"))
        parts.append(title)
        kind = "cluster" if d["level"] == 0 else f"level {d['level']} node"
        facts = [
            f"{kind} {d['node_id']}",
            f"{d['size']:,} queries",
            f"{percent(d['share'])} of run",
        ]
        if d["level"] > 0:
            kids, clusters = d.get("children", 0), d["clusters"]
            facts.append(
                f"{kids} {'child' if kids == 1 else 'children'},"
                f" {clusters} {'cluster' if clusters == 1 else 'clusters'}"
            )
        if d.get("coherence") is not None:
            facts.append(f"coherence {d['coherence']}/5")
        line = inert(" · ".join(facts))
        line.no_wrap = False
        line.stylize(muted)
        parts.append(line)
        if d.get("description"):
            parts.append(Text(""))
            parts.append(inert(d["description"], one_line=False))
        if d.get("keywords"):
            parts.append(self._heading("Keywords"))
            parts.append(inert(", ".join(str(k) for k in d["keywords"]), one_line=False))
        sample = d.get("breakdown_sample")
        note = f" (a sample of {sample:,} of {d['size']:,})" if sample else ""
        shown = {k: d.get(k) or [] for k in ("languages", "models")}
        shown = {k: v for k, v in shown.items() if len(v) > 1}  # one value tells nothing
        labels = max((len(plain(label)) for v in shown.values() for label, _ in v), default=0)
        for key, items in shown.items():
            parts.append(self._heading(key.capitalize() + note))
            parts.append(Breakdown(items, labels, self._style("bar"), muted))
        if d.get("examples"):
            parts.append(self._heading("Most central queries"))
            for ex in d["examples"]:
                line = Text("• ")
                line.append_text(inert(ex["text"], EXAMPLE_LIMIT))
                parts.append(line)
        curation = d.get("curation")
        if curation:  # tags and flags from the edit group (a, f in the tree)
            parts.append(self._heading("Curation"))
            parts.append(inert(curation_line(curation), one_line=False))
            if curation.get("notes"):
                parts.append(inert(f"notes: {curation['notes']}", one_line=False))
        prov = d.get("provenance")
        parts.append(self._heading("Provenance"))
        parts.append(Text(provenance_line(prov), style=muted))
        for part in parts:
            if isinstance(part, Text):
                part.end = "\n"
        return Group(*parts)


def curation_line(c: dict[str, Any]) -> str:
    """quality, tagged coherence, flags and edit count, as one line."""
    edits = c.get("edits") or 0
    bits = [f"quality {c['quality']}" if c.get("quality") else "",
            f"tagged coherence {c['coherence_score']}/5" if c.get("coherence_score") else "",
            f"flags: {', '.join(c['flags'])}" if c.get("flags") else "",
            f"{edits} edit{'s' if edits != 1 else ''}" if edits else ""]  # fmt: skip
    return " · ".join(b for b in bits if b)


class Breakdown:
    """A breakdown chart laid out for the width it is drawn at, one line per value that
    never wraps: label (clipped to a quarter of the width, LABEL_MAX at most), bar, count and
    share. Sized when drawn, not when the detail was read, so a scrollbar appearing or the
    panel zooming changes the bar's length, never the line count."""

    LABEL_MAX = 16
    NUMBERS = 15  # " {count:>7,} {share:>6}"

    def __init__(
        self, items: list[tuple[str, int]], labels: int, bar_style: Any, muted: Any
    ) -> None:
        self.items = items
        self.labels = labels  # the longest label of the charts drawn together (they align)
        self.bar_style = bar_style
        self.muted = muted

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        label_width = max(2, min(self.labels, self.LABEL_MAX, max(6, width // 4)))
        bar_width = max(1, width - label_width - 1 - self.NUMBERS)
        text = chart(self.items, label_width=label_width, bar_width=bar_width,
                     bar_style=self.bar_style, muted=self.muted)  # fmt: skip
        text.no_wrap, text.overflow, text.end = True, "crop", "\n"
        yield text


def provenance_line(prov: dict[str, Any] | None) -> str:
    if not prov:
        return "no summary: title from c-TF-IDF keywords of the clustering run"
    if prov["kind"] == "hierarchy":
        return plain(
            f"hierarchy {prov['hierarchy_run_id']} · model {prov.get('model') or '?'}"
            f" · from pass {prov.get('summary_run_id') or '?'} · {stamp(prov.get('when'))}"
        )
    alias = f" ({prov['alias']})" if prov.get("alias") else ""
    status = "" if prov.get("status") in (None, "done") else f" · {prov['status']}"
    return plain(
        f"summary pass {prov['summary_run_id']}{alias} · model {prov.get('model') or '?'}"
        f" · {stamp(prov.get('when'))}{status}"
    )
