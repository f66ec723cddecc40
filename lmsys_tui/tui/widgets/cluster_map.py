"""The cluster map drawn in the terminal on a braille canvas (2 x 4 dots a cell).

Each query is one dot; each cluster also gets a disc at its centre whose radius grows with the
square root of its size (sizes as dot weight). The clusters of the highlighted node are lit
(`$accent`), the rest muted. A cursor cell (arrows, or the mouse) names the cluster whose centre
is nearest to it (`ClusterMap.Pointed`); `z` zooms to the lit clusters' points and back.
Self-contained, so its colours are theme variables in DEFAULT_CSS. It holds the layout arrays
(a few MB at a million points) and draws from them; nothing is read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    import numpy as np
    from textual import events

# braille bit of the dot at (column dx, row dy) inside a cell
BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
MAX_DISC = 3  # the largest cluster's disc radius, in dots


@dataclass(frozen=True)
class MapData:
    """What the widget draws: points in [0, 1]^2 with their clusters, titles, the lit set."""

    xy: np.ndarray
    cluster_ids: np.ndarray
    centres: Mapping[int, tuple[float, float, int]]  # cluster -> (x, y, points)
    titles: Mapping[int, str]
    lit: frozenset[int] | None = None  # None: every cluster lit


class ClusterMap(Widget, can_focus=True):
    DEFAULT_CSS = """
    ClusterMap { width: 1fr; height: 1fr; }
    ClusterMap > .cluster-map--dot { color: $text-muted; }
    ClusterMap > .cluster-map--lit { color: $accent; text-style: bold; }
    ClusterMap > .cluster-map--cursor { background: $warning; color: $background; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "cluster-map--dot",
        "cluster-map--lit",
        "cluster-map--cursor",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1, 0)", show=False),
        Binding("right", "move(1, 0)", show=False),
        Binding("up", "move(0, -1)", show=False),
        Binding("down", "move(0, 1)", show=False),
        Binding("z", "zoom", "zoom", tooltip="Zoom to the lit clusters, or back to the whole run."),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0))
    zoomed: reactive[bool] = reactive(False)

    @dataclass
    class Pointed(Message):
        """The cursor is nearest to this cluster's centre (None: no data yet)."""

        cluster_id: int | None
        title: str
        size: int

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.data: MapData | None = None
        self._drawn: tuple[Any, np.ndarray, np.ndarray] | None = None  # last canvas, by key

    def show(self, data: MapData) -> None:
        self.data = data
        w, h = self.size.width or 1, self.size.height or 1
        self.cursor = (w // 2, h // 2)
        self._point()
        self.refresh()

    # -- the frame ------------------------------------------------------------------------------

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the map area shown: the unit square, or the lit points' box."""
        data = self.data
        if not self.zoomed or data is None or data.lit is None:
            return (0.0, 0.0, 1.0, 1.0)
        import numpy as np

        mask = np.isin(data.cluster_ids, list(data.lit))
        if not mask.any():
            return (0.0, 0.0, 1.0, 1.0)
        lo, hi = data.xy[mask].min(axis=0), data.xy[mask].max(axis=0)
        pad = float(max((hi - lo).max(), 0.02)) * 0.08
        side = float(max((hi - lo).max(), 0.02)) + 2 * pad
        cx, cy = (lo + hi) / 2
        return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)

    def _to_dots(self, xy: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Dot (column, row) of map points on a 2w x 4h grid, y upwards; may fall outside."""
        import numpy as np

        x0, y0, x1, y1 = self.box()
        cols = np.floor((xy[:, 0] - x0) / (x1 - x0) * (2 * w - 1) + 0.5).astype(np.int64)
        rows = np.floor((y1 - xy[:, 1]) / (y1 - y0) * (4 * h - 1) + 0.5).astype(np.int64)
        return cols, rows

    def grids(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(any dot, lit dot) boolean grids of 4h x 2w dots."""
        import numpy as np

        dots = np.zeros((4 * h, 2 * w), dtype=bool)
        lit = np.zeros_like(dots)
        data = self.data
        if data is None or len(data.xy) == 0:
            return dots, lit
        lit_mask = (
            np.ones(len(data.xy), bool)
            if data.lit is None
            else np.isin(data.cluster_ids, list(data.lit))
        )
        cols, rows = self._to_dots(data.xy, w, h)
        inside = (cols >= 0) & (cols < 2 * w) & (rows >= 0) & (rows < 4 * h)
        dots[rows[inside], cols[inside]] = True
        lit[rows[inside & lit_mask], cols[inside & lit_mask]] = True
        largest = max((n for _, _, n in data.centres.values()), default=1)
        ids = list(data.centres)
        centre_xy = np.array([data.centres[c][:2] for c in ids], dtype=np.float32).reshape(-1, 2)
        ccols, crows = self._to_dots(centre_xy, w, h)
        span = np.arange(-MAX_DISC, MAX_DISC + 1)
        for cid, col, row in zip(ids, ccols, crows, strict=True):
            radius = round((data.centres[cid][2] / largest) ** 0.5 * MAX_DISC)
            if radius < 1:
                continue
            dy, dx = np.meshgrid(span, span, indexing="ij")
            inside = dx * dx + dy * dy <= radius * radius
            rr, cc = row + dy[inside], col + dx[inside]
            ok = (rr >= 0) & (rr < 4 * h) & (cc >= 0) & (cc < 2 * w)
            dots[rr[ok], cc[ok]] = True
            if data.lit is None or cid in data.lit:
                lit[rr[ok], cc[ok]] = True
        return dots, lit

    @staticmethod
    def cells(grid: np.ndarray) -> np.ndarray:
        """Braille code points of a 4h x 2w dot grid, as an h x w array."""
        import numpy as np

        h, w = grid.shape[0] // 4, grid.shape[1] // 2
        parts = grid.reshape(h, 4, w, 2)
        codes = np.zeros((h, w), dtype=np.int64)
        for dy in range(4):
            for dx in range(2):
                codes += parts[:, dy, :, dx] * BITS[dy][dx]
        return codes

    # -- drawing ---------------------------------------------------------------------------------

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        if self.data is None or w < 2 or h < 2:
            return Text("")
        key = (w, h, self.zoomed, id(self.data))
        if self._drawn is None or self._drawn[0] != key:  # the cursor moves without a redraw
            dots, lit = self.grids(w, h)
            self._drawn = (key, self.cells(dots), self.cells(lit) > 0)
        codes, lit_cells = self._drawn[1], self._drawn[2]
        dot = self.get_component_rich_style("cluster-map--dot")
        bright = self.get_component_rich_style("cluster-map--lit")
        here = self.get_component_rich_style("cluster-map--cursor")
        text = Text(no_wrap=True, overflow="crop")
        for row in range(h):
            for col in range(w):
                code = int(codes[row, col])
                char = chr(0x2800 + code) if code else " "
                style = bright if lit_cells[row, col] else dot
                if (col, row) == self.cursor:
                    style = style + here
                text.append(char, style)
            if row < h - 1:
                text.append("\n")
        return text

    # -- the cursor ------------------------------------------------------------------------------

    def nearest(self) -> int | None:
        """The cluster whose centre is nearest to the cursor cell (on screen), if any."""
        data = self.data
        if data is None or not data.centres:
            return None
        import numpy as np

        w, h = max(self.size.width, 1), max(self.size.height, 1)
        ids = [c for c in data.centres if c >= 0] or list(data.centres)
        xy = np.array([data.centres[c][:2] for c in ids], dtype=np.float32)
        cols, rows = self._to_dots(xy, w, h)
        cx, cy = self.cursor[0] * 2 + 0.5, self.cursor[1] * 4 + 1.5
        # a cell is twice as tall as wide: 4 dots down cover what 2 dots across do
        far = (cols - cx) ** 2 + ((rows - cy) / 2) ** 2 * 4
        return int(ids[int(np.argmin(far))])

    def _point(self) -> None:
        cid = self.nearest()
        data = self.data
        if cid is None or data is None:
            self.post_message(self.Pointed(None, "", 0))
            return
        title = data.titles.get(cid, f"cluster {cid}")
        self.post_message(self.Pointed(cid, title, data.centres[cid][2]))

    def action_move(self, dx: int, dy: int) -> None:
        w, h = max(self.size.width, 1), max(self.size.height, 1)
        col, row = self.cursor
        self.cursor = (min(max(col + dx, 0), w - 1), min(max(row + dy, 0), h - 1))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self.cursor = (event.x, event.y)

    def watch_cursor(self) -> None:
        self._point()

    def action_zoom(self) -> None:
        self.zoomed = not self.zoomed

    def watch_zoomed(self) -> None:
        self._point()
        self.refresh()
