"""A pipeline from a TOML file: load → embed → cluster → summarize → merge, resumable.

`lmsys-tui --headless run pipeline.toml` (the reference's runner, made re-runnable). Each stage
is the real one (the functions the single-stage commands call) and is skipped when its output
is already in the store, so running the file again does nothing, and a run killed half-way
continues where it stopped:

- load: skipped when the dataset is loaded (status done, at least `limit` queries);
- embed: embeds only what is missing (skipped when nothing is), then Chroma with use_chroma;
- cluster: skipped when a finished run made by this file's [load]/[embed]/[cluster] settings
  exists (it is tagged in its description: `pipeline <key>`);
- summarize: skipped when that run has a finished pass with this file's [summarize] settings
  (its id is derived from them); an unfinished one is resumed;
- merge: skipped when a finished hierarchy over that pass exists; an unfinished one is resumed.

Tables hold the options under their field names (the flags without `--`, `_` for `-`):

    db_path = "queries.db"          # optional; relative paths are to the file's folder
    [load]     source = "sharegpt", limit = 2000
    [embed]    embedding_model = "all-MiniLM-L6-v2", use_chroma = true
    [cluster]  algorithm = "kmeans", n_clusters = 40
    [summarize] model = "offline", alias = "v1"
    [merge]    target_levels = 3

An unknown table or key is a UsageError naming it (a typo never silently means a default).
"""

from __future__ import annotations

import hashlib
import json
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.cluster.density import HdbscanParams
from lmsys_tui.core.cluster.kmeans import KMeansParams
from lmsys_tui.core.cluster.options import EmbedOptions, Selection
from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.core.options import Options, option
from lmsys_tui.core.sources.spec import ColumnMap, LoadOptions, SourceSpec
from lmsys_tui.core.summarize.options import SummarizeOptions
from lmsys_tui.errors import UsageError
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

STAGES = ("load", "embed", "cluster", "summarize", "merge")
_TOP = {"db_path", "chroma_path", *STAGES}
_CLUSTER = {"kmeans": KMeansParams, "hdbscan": HdbscanParams}


@dataclass(frozen=True)
class RunFileOptions(Options):
    """`run`'s argument: the pipeline file (both doors: the command and the TUI's form)."""

    path: Path | None = option(positional=True, missing="give a pipeline file (TOML)")


def _names(*classes: type) -> set[str]:
    return {f.name for cls in classes for f in fields(cls)}


@dataclass(frozen=True)
class Pipeline:
    """A parsed, checked pipeline file: every stage's options object."""

    path: Path
    db_path: Path | None
    chroma_path: Path | None
    source: SourceSpec
    load: LoadOptions
    embed: EmbedOptions
    selection: Selection
    cluster: KMeansParams | HdbscanParams
    summarize: SummarizeOptions
    merge: MergeOptions
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def key(self, *stages: str) -> str:
        """A short hash of the settings of `stages`: what decides their output."""
        part = {s: self.raw.get(s, {}) for s in stages}
        return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:10]


def _build(cls: type[Options], table: dict[str, Any], where: str, **extra: Any) -> Any:
    try:
        return cls(**table, **extra)
    except TypeError as exc:  # a value of the wrong kind the dataclass could not take
        raise UsageError(f"{where}: {exc}") from None


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def read_pipeline(path: Path) -> Pipeline:
    """Parse and check the TOML file (UsageError for anything wrong in it, naming where)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no pipeline file at {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    _check_keys(raw, _TOP, path.name)
    tables = {s: raw.get(s, {}) for s in STAGES}
    for stage, table in tables.items():
        if not isinstance(table, dict):
            raise UsageError(f"{path.name}: [{stage}] must be a table")
    load = dict(tables["load"])
    columns = {k: load.pop(k) for k in list(load) if k in _names(ColumnMap)}
    load_keys = {k: load.pop(k) for k in list(load) if k in _names(LoadOptions)}
    _check_keys(load, _names(SourceSpec) - {"columns"}, f"{path.name} [load]")
    if "file" in load:
        load["file"] = path.parent / load["file"]
    cluster = dict(tables["cluster"])
    algorithm = cluster.pop("algorithm", "kmeans")
    if algorithm not in _CLUSTER:
        raise UsageError(f"{path.name} [cluster]: algorithm must be kmeans or hdbscan")
    selection = {k: cluster.pop(k) for k in list(cluster) if k in _names(Selection)}
    params_cls = _CLUSTER[algorithm]
    _check_keys(cluster, _names(params_cls), f"{path.name} [cluster]")
    _check_keys(tables["embed"], _names(EmbedOptions) - {"chroma_path"}, f"{path.name} [embed]")
    _check_keys(tables["summarize"], _names(SummarizeOptions), f"{path.name} [summarize]")
    _check_keys(tables["merge"], _names(MergeOptions), f"{path.name} [merge]")
    for stage in ("summarize", "merge"):
        if "resume" in tables[stage]:
            raise UsageError(f"{path.name} [{stage}]: resume is the runner's job, not a setting")

    def where(stage: str) -> str:
        return f"{path.name} [{stage}]"

    def local(name: str) -> Path | None:
        value = raw.get(name)
        return None if value is None else path.parent / str(value)

    source = _build(SourceSpec, load, where("load"), columns=_build(ColumnMap, columns, "load"))
    return Pipeline(
        path=path,
        db_path=local("db_path"),
        chroma_path=local("chroma_path"),
        source=source,
        load=_build(LoadOptions, load_keys, where("load")),
        embed=_build(EmbedOptions, tables["embed"], where("embed")),
        selection=_build(Selection, selection, where("cluster")),
        cluster=_build(params_cls, cluster, where("cluster")),
        summarize=_build(SummarizeOptions, tables["summarize"], where("summarize")),
        merge=_build(MergeOptions, tables["merge"], where("merge")),
        raw=tables,
    )


@dataclass
class StageReport:
    stage: str
    status: str  # ran | skipped | resumed
    output: str | None = None  # dataset label, run id, pass id or hierarchy id
    detail: str = ""


@dataclass
class PipelineResult:
    path: str
    stages: list[StageReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ran(self) -> list[str]:
        return [s.stage for s in self.stages if s.status != "skipped"]

    @property
    def skipped(self) -> list[str]:
        return [s.stage for s in self.stages if s.status == "skipped"]

    @property
    def message(self) -> str:
        parts = [
            f"{s.stage} {s.status}" + (f" ({s.output})" if s.output else "") for s in self.stages
        ]
        return f"pipeline {self.path}: " + ", ".join(parts) + f" in {self.seconds:.1f}s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ran": self.ran,
            "skipped": self.skipped,
            "stages": [asdict(s) for s in self.stages],
            "seconds": self.seconds,
        }


def _one(store: Store, sql_text: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    from lmsys_tui.core.store import sql

    with sql.connection(store) as conn:
        return sql.one(conn, sql_text, args)


def run_pipeline(
    store: Store,
    pipe: Pipeline,
    *,
    chroma_path: Path | None = None,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> PipelineResult:
    """Run the file's stages in order, skipping or resuming each as the module docstring says."""
    from dataclasses import replace

    from lmsys_tui.core.cluster.density import run_hdbscan
    from lmsys_tui.core.cluster.kmeans import run_kmeans
    from lmsys_tui.core.cluster.stage import embed_selection, selected_ids
    from lmsys_tui.core.hierarchy.merge import run_merge
    from lmsys_tui.core.load import run_load
    from lmsys_tui.core.sources.registry import open_source
    from lmsys_tui.core.summarize import run_summarize

    started = time.perf_counter()
    result = PipelineResult(str(pipe.path))
    info, items = open_source(pipe.source)
    label = pipe.load.label or info.default_label
    embed_opts = replace(pipe.embed, chroma_path=str(chroma_path) if chroma_path else None)

    done = _one(
        store,
        "SELECT (SELECT COUNT(*) FROM queries q WHERE q.dataset_id = d.id) AS n"
        " FROM datasets d WHERE d.label = ? AND d.status = 'done'",
        (label,),
    )
    if done is not None and (pipe.load.limit is None or done["n"] >= pipe.load.limit):
        result.stages.append(StageReport("load", "skipped", label, f"{done['n']:,} queries"))
    else:
        opts = replace(pipe.load, label=label)
        loaded = run_load(
            store, items, info, **opts.to_dict(), progress=progress, cancelled=cancelled
        )
        result.stages.append(StageReport("load", "ran", label, loaded.message))

    selection = replace(pipe.selection, dataset=label)
    space = embed_opts.space()
    embedded, synced = embed_selection(
        store, space, selected_ids(store, selection), embed_opts,
        progress=progress, cancelled=cancelled,
    )  # fmt: skip
    added = synced.added if synced is not None else 0
    status = "ran" if embedded.embedded or added else "skipped"
    result.stages.append(StageReport("embed", status, space.key, embedded.message))

    tag = f"pipeline {pipe.key('load', 'embed', 'cluster')}"
    run = _one(
        store,
        "SELECT run_id FROM clustering_runs WHERE description = ? AND status = 'done'"
        " ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (tag,),
    )
    if run is not None:
        run_id = str(run["run_id"])
        result.stages.append(StageReport("cluster", "skipped", run_id))
    else:
        algorithm = run_kmeans if isinstance(pipe.cluster, KMeansParams) else run_hdbscan
        made = algorithm(
            store, pipe.cluster, selection=selection, embed_opts=embed_opts, description=tag,
            progress=progress, cancelled=cancelled,
        )  # fmt: skip
        run_id = made.run_id
        result.stages.append(StageReport("cluster", "ran", run_id, made.message))

    srid = pipe.summarize.summary_run_id or f"summary-{run_id}-{pipe.key('summarize')}"
    found = _one(store, "SELECT status, error FROM summary_runs WHERE summary_run_id = ?", (srid,))
    if found is not None and found["status"] == "done" and found["error"] is None:
        result.stages.append(StageReport("summarize", "skipped", srid))
    else:
        opts = (
            replace(pipe.summarize, resume=srid, summary_run_id=None)
            if found is not None
            else replace(pipe.summarize, summary_run_id=srid)
        )
        made = run_summarize(store, run_id, opts, progress=progress, cancelled=cancelled)
        status = "resumed" if found is not None else "ran"
        result.stages.append(StageReport("summarize", status, srid, made.status))

    hier = _one(
        store,
        "SELECT hierarchy_run_id, status FROM hierarchy_runs WHERE run_id = ? AND"
        " summary_run_id = ? ORDER BY status = 'done' DESC, created_at DESC, rowid DESC LIMIT 1",
        (run_id, srid),
    )
    if hier is not None and hier["status"] == "done":
        result.stages.append(StageReport("merge", "skipped", str(hier["hierarchy_run_id"])))
    else:
        resume = str(hier["hierarchy_run_id"]) if hier is not None else None
        opts = replace(pipe.merge, summary_run_id=srid, resume=resume)
        made = run_merge(store, run_id, opts, progress=progress, cancelled=cancelled)
        status = "resumed" if resume else "ran"
        result.stages.append(StageReport("merge", status, made.hierarchy_run_id, made.status))
    result.seconds = round(time.perf_counter() - started, 3)
    return result
