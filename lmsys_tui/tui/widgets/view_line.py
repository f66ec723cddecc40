"""The line above the explorer's tree: which run, hierarchy, summary pass and sort it shows."""

from __future__ import annotations

from textual.widgets import Static

from lmsys_tui.core.read.runs import RunOverview, View
from lmsys_tui.tui.text import inert

SORT_LABEL = {"size": "largest first", "title": "by title"}


class ViewLine(Static):
    def show(self, overview: RunOverview, view: View, sort: str) -> None:
        run = overview.run
        parts = [f"run {run['run_id']}", f"{run['algorithm']}", f"{view.total:,} queries"]
        if view.hierarchy_run_id:
            hier = overview.hierarchy_named(view.hierarchy_run_id) or {}
            levels = f" ({hier['levels']} levels)" if hier.get("levels") else ""
            parts.append(f"hierarchy {view.hierarchy_run_id}{levels}")
        else:
            parts.append("flat clusters")
        if view.summary_run_id:
            alias = (overview.pass_named(view.summary_run_id) or {}).get("alias")
            parts.append(f"titles: pass {view.summary_run_id}{f' ({alias})' if alias else ''}")
        else:
            parts.append("titles: keywords")
        parts.append(SORT_LABEL[sort])
        self.update(inert(" · ".join(parts)))
