"""What the runs screen shows, read in one go through the stdlib-sqlite3 reader.

Reading through `core.read.catalog` keeps SQLAlchemy (and everything heavier) out of TUI start.
The result is a plain frozen value so a worker thread can hand it to the UI thread safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmsys_tui.core.read import catalog
from lmsys_tui.core.store import schema


@dataclass(frozen=True)
class StoreOverview:
    db_path: Path
    exists: bool
    schema_version: int | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    query_count: int = 0

    def dataset_label(self, dataset_id: int | None) -> str | None:
        for d in self.datasets:
            if d["id"] == dataset_id:
                return d["label"]
        return None


def read_overview(db_path: Path) -> StoreOverview:
    """Datasets and runs of the store at `db_path`; raises UsageError for a foreign store."""
    version = schema.ensure_current(db_path)
    if version is None:
        return StoreOverview(db_path=db_path, exists=db_path.exists())
    datasets = catalog.list_datasets(db_path)
    return StoreOverview(
        db_path=db_path,
        exists=True,
        schema_version=schema.read_version(db_path),
        datasets=datasets,
        runs=catalog.list_runs(db_path),
        query_count=sum(d["query_count"] or 0 for d in datasets),
    )
