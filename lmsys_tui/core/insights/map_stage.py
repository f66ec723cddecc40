"""`map RUN`: the run's layout (stored or computed), its cluster titles, and the image.

Titles and node membership come from the read layer's view of the run (newest hierarchy, the
pass it was named from), so the map names clusters exactly as the tree does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmsys_tui.core.insights.layout import Layout, run_layout
from lmsys_tui.core.insights.map_options import MapOptions
from lmsys_tui.core.read.runs import View, open_run
from lmsys_tui.core.read.tree import leaf_clusters, node_index
from lmsys_tui.errors import NotFoundError, UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress


def cluster_titles(view: View) -> dict[int, str]:
    """Cluster id -> the title the tree shows for it."""
    return {n.node_id: n.title for n in node_index(view).values() if n.level == 0}


def node_clusters(view: View, node_id: int) -> set[int]:
    """The clusters under a node of the view (NotFoundError when the view lacks it)."""
    found = node_index(view).get(node_id)
    if found is None:
        raise NotFoundError(f"run {view.run_id!r} has no node {node_id} (see show-hierarchy)")
    return set(leaf_clusters(view, node_id, found.level))


def draw_map(
    db: Path,
    run_id: str,
    opts: MapOptions,
    *,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> dict[str, Any]:
    """Compute or read the layout, write the image if asked; the `--json` summary."""
    from lmsys_tui.core.insights.map_image import image_format, write_image

    if opts.output is not None:
        image_format(opts.output)  # a bad suffix is refused before any work
        if not opts.output.parent.is_dir():
            raise UsageError(f"--output folder {opts.output.parent} does not exist")
    view = open_run(db, run_id).view
    lit = node_clusters(view, opts.node) if opts.node is not None else None
    layout: Layout = run_layout(
        db, run_id, opts.method, recompute=opts.recompute, progress=progress, cancelled=cancelled
    )
    out = layout.summary()
    titles = cluster_titles(view)
    for c in out["clusters"]:
        c["title"] = titles.get(c["cluster_id"])
    out["node"] = opts.node
    out["highlighted"] = sorted(lit) if lit is not None else None
    if opts.output is not None:
        out["format"] = write_image(layout, titles, opts.output, highlight=lit)
        out["output"] = str(opts.output)
    return out
