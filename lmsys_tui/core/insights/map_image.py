"""The cluster map as an image for reports: SVG (with cluster labels) or PNG (dots only).

No plotting library: matplotlib is compiled code the project does not otherwise need, and a
scatter of coloured dots is a few lines. The SVG is text (labels escaped, so no title can add
markup); it draws at most `MAX_SVG_POINTS` points (every k-th member, always the same ones),
so a million-query run still gives a file a browser opens. The PNG rasterises every point
with numpy and is encoded with zlib (stdlib). Both use the layout's [0, 1] frame, y upwards.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from lmsys_tui.core.insights.layout import Layout, centres
from lmsys_tui.core.text import safe_text
from lmsys_tui.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

FORMATS = ("svg", "png")
MAX_SVG_POINTS = 20_000
LABELLED = 8  # the largest clusters get a label on the SVG
LABEL_CHARS = 40
# Okabe-Ito and Tableau hues: distinct for most colour-blind readers; noise is grey
PALETTE = (
    (0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
    (213, 94, 0), (240, 228, 66), (78, 121, 167), (176, 122, 161), (156, 117, 95),
    (89, 161, 79), (225, 87, 89),
)  # fmt: skip
NOISE_RGB = (170, 170, 170)
DIM_RGB = (215, 215, 215)


def colour(cluster_id: int) -> tuple[int, int, int]:
    return NOISE_RGB if cluster_id < 0 else PALETTE[cluster_id % len(PALETTE)]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def image_format(path: Path, given: str | None = None) -> str:
    """svg or png: `given`, else the file's suffix."""
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise UsageError(f"map images are {' or '.join(FORMATS)} (.svg/.png), not {fmt!r}")
    return fmt


def _clip(text: str) -> str:
    text = " ".join(safe_text(text, one_line=True).split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def render_svg(
    layout: Layout,
    titles: Mapping[int, str],
    *,
    highlight: set[int] | None = None,
    size: int = 720,
) -> str:
    """An SVG document of the map; clusters in `highlight` in colour, the rest grey; the
    largest clusters that have a title in `titles` labelled."""
    n = len(layout.query_ids)
    step = max(1, -(-n // MAX_SVG_POINTS))
    pad = 10
    scale = size - 2 * pad
    radius = 2.2 if n < 5_000 else 1.4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"'
        f' width="{size}" height="{size}" role="img" aria-label="cluster map">',
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>',
    ]
    for i in range(0, n, step):
        cid = int(layout.cluster_ids[i])
        lit = highlight is None or cid in highlight
        x, y = layout.xy[i]
        parts.append(
            f'<circle cx="{pad + x * scale:.1f}" cy="{pad + (1 - y) * scale:.1f}" r="{radius}"'
            f' fill="{_hex(colour(cid) if lit else DIM_RGB)}" fill-opacity="0.7"/>'
        )
    biggest = sorted(centres(layout).items(), key=lambda kv: -kv[1][2])
    for cid, (x, y, _count) in [kv for kv in biggest if kv[0] >= 0][:LABELLED]:
        if cid not in titles or (highlight is not None and cid not in highlight):
            continue  # a cluster the caller withholds (the report's privacy threshold)
        label = escape(_clip(titles[cid]), quote=True)
        parts.append(
            f'<text x="{pad + x * scale:.1f}" y="{pad + (1 - y) * scale:.1f}"'
            ' font-family="sans-serif" font-size="12" text-anchor="middle" fill="#222"'
            ' stroke="#fff" stroke-width="3" paint-order="stroke">'
            f"{label}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _png(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) uint8 array (filter 0 on every row)."""
    import numpy as np

    h, w, _ = pixels.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def render_png(layout: Layout, *, highlight: set[int] | None = None, size: int = 720) -> bytes:
    """A PNG of the map: every point a 5x5 dot (3x3 from 5,000 points) in its cluster's
    colour (others grey when `highlight` is given), highlighted ones drawn last, on top."""
    import numpy as np

    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    pad = 6
    cols = np.clip(pad + layout.xy[:, 0] * (size - 2 * pad), 2, size - 3).astype(int)
    rows = np.clip(pad + (1 - layout.xy[:, 1]) * (size - 2 * pad), 2, size - 3).astype(int)
    lit = (
        np.ones(len(cols), bool)
        if highlight is None
        else np.isin(layout.cluster_ids, list(highlight))
    )
    table = np.array([colour(c) for c in range(len(PALETTE))], dtype=np.uint8)
    rgb = table[layout.cluster_ids % len(PALETTE)]
    rgb[layout.cluster_ids < 0] = NOISE_RGB
    rgb[~lit] = DIM_RGB
    reach = (-2, -1, 0, 1, 2) if len(cols) < 5_000 else (-1, 0, 1)  # 5x5 dots, 3x3 when dense
    for part in (~lit, lit):
        r, c, colours = rows[part], cols[part], rgb[part]
        for dr in reach:
            for dc in reach:
                canvas[r + dr, c + dc] = colours
    return _png(canvas)


def write_image(
    layout: Layout,
    titles: Mapping[int, str],
    path: Path,
    fmt: str | None = None,
    *,
    highlight: set[int] | None = None,
) -> str:
    """Write the map to `path` as SVG or PNG (by `fmt`, else the suffix); returns the format."""
    kind = image_format(path, fmt)
    try:
        if kind == "svg":
            path.write_text(render_svg(layout, titles, highlight=highlight), encoding="utf-8")
        else:
            path.write_bytes(render_png(layout, highlight=highlight))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return kind
