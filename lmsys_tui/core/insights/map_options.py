"""Options of `map` and `report`, in a module of their own: the headless CLI reads their
defaults when it starts, and must not import numpy or the layout code to do so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmsys_tui.core.options import Options, option

LAYOUT_METHODS = ("pca", "umap")
REPORT_FORMATS = ("md", "html")


@dataclass(frozen=True)
class MapOptions(Options):
    """`map RUN`: which layout, and where to draw it (no output: the layout summary only)."""

    method: str = option("pca", choices=LAYOUT_METHODS, lower=True)
    output: Path | None = option()
    node: int | None = option()  # light the clusters under this node of the newest hierarchy
    recompute: bool = option(False)


@dataclass(frozen=True)
class ReportOptions(Options):
    """`report RUN`: the hierarchy, map, provenance and notes as one Markdown or HTML file."""

    output: Path = option(Path("report.html"))
    format: str | None = option(choices=REPORT_FORMATS, lower=True)  # None: by the suffix
    min_cluster_size: int = option(10, minimum=1)
    examples: int = option(3, minimum=0)
    method: str = option("pca", choices=LAYOUT_METHODS, lower=True)
    summary_run_id: str | None = option()
    hierarchy_run_id: str | None = option()

    def kind(self) -> str:
        """md or html: --format, else the output's suffix (.md / .markdown, else html)."""
        if self.format:
            return self.format
        return "md" if self.output.suffix.lower() in (".md", ".markdown") else "html"
