"""Open the source a `SourceSpec` names: validate it up front, then iterate lazily.

Opening fails fast (missing file, gated dataset, bad column map) before the load stage writes
anything, so a failed open never leaves a dataset row behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from lmsys_tui.core.sources.base import Item, SourceInfo
from lmsys_tui.core.sources.spec import SOURCES, SourceSpec
from lmsys_tui.errors import UsageError


def open_source(spec: SourceSpec) -> tuple[SourceInfo, Iterator[Item]]:
    if spec.source not in SOURCES:
        raise UsageError(f"unknown --source {spec.source!r}; choose one of {', '.join(SOURCES)}")
    if spec.source == "sharegpt":
        from lmsys_tui.core.sources import sharegpt

        path = spec.file
        if path is not None and not path.is_file():
            raise UsageError(f"no such file: {path}")
        return sharegpt.info(path), sharegpt.read(path)
    if spec.source == "file":
        from lmsys_tui.core.sources import files

        return files.open_file(spec)
    if spec.source == "lmsys":
        from lmsys_tui.core.sources import lmsys

        return lmsys.open_lmsys(spec)
    from lmsys_tui.core.sources import hf

    return hf.open_hf(spec)
