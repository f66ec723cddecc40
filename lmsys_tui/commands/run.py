"""`run pipeline.toml`: load → embed → cluster → summarize → merge from a file, resumable
(`core/runfile.py` says how each stage is skipped or resumed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsys_tui.commands.options import JSON_ONLY, STORE_PATHS
from lmsys_tui.commands.output import emit_table, handled, report
from lmsys_tui.commands.params import Params, takes


@handled
@takes(STORE_PATHS, JSON_ONLY)
def run(
    path: Annotated[Path, typer.Argument(help="Pipeline file (TOML): [load] [embed] ... [merge].")],
    *,
    params: Params,
) -> None:
    """Run a pipeline file; each stage whose output exists is skipped, a killed one resumed.
    --db-path / --chroma-path, when given, win over the file's db_path / chroma_path."""
    from lmsys_tui.commands.progress import run_on_store
    from lmsys_tui.config import load_settings
    from lmsys_tui.core.runfile import RunFileOptions, read_pipeline, run_pipeline

    opts = RunFileOptions.from_params(params)
    assert opts.path is not None  # a required argument; `missing` says so from the form
    pipe = read_pipeline(opts.path)
    settings = load_settings(params.db_path or pipe.db_path, params.chroma_path or pipe.chroma_path)
    result = run_on_store(
        settings.db,
        f"run {opts.path.name}",
        lambda store, progress: run_pipeline(
            store, pipe, chroma_path=settings.chroma, progress=progress
        ),
    )
    report(
        result,
        params,
        root="pipeline",
        table=lambda: emit_table(
            f"Pipeline {opts.path.name}",
            ["stage", "status", "output"],
            [(s.stage, s.status, s.output) for s in result.stages],
        ),
    )
