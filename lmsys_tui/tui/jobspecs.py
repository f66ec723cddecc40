"""Pipeline jobs the TUI can start: each one a core stage call plus its headless twin.

A builder validates its fields the way the headless command does (so a bad value is a one-line
error before any thread starts), and returns a `JobSpec`: a title, the equivalent
`lmsys-tui --headless …` line (shown on the form as it is filled in, and copyable), and
`fn(progress, cancelled)` that opens the store inside the worker thread and calls the same core
function the command calls. Nothing here re-implements a stage.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmsys_tui.actions import by_id, headless_command
from lmsys_tui.config import Settings
from lmsys_tui.errors import UsageError
from lmsys_tui.stage import CancelCheck, Progress
from lmsys_tui.tui.jobs import JobFn


@dataclass(frozen=True)
class JobSpec:
    kind: str
    title: str
    command: str
    fn: JobFn


def command_line(settings: Settings, action_id: str, args: list[str]) -> str:
    extra = list(args)
    if settings.db_path is not None:
        extra += ["--db-path", str(settings.db_path)]
    return headless_command(by_id(action_id), *(shlex.quote(a) for a in extra)) or ""


def _int(value: Any, name: str, *, minimum: int = 1, optional: bool = False) -> int | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if optional:
            return None
        raise UsageError(f"{name} is required")
    try:
        number = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None
    if number < minimum:
        raise UsageError(f"{name} must be at least {minimum}")
    return number


def _float(value: Any, name: str) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise UsageError(f"{name} must be a number, not {value!r}") from None


def _text(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _need_run(run_id: Any) -> str:
    run = _text(run_id)
    if run is None:
        raise UsageError("choose a clustering run")
    return run


def _with_store(settings: Settings, call: Any) -> JobFn:
    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.store.db import open_store

        store = open_store(settings.db)
        try:
            return call(store, progress, cancelled)
        finally:
            store.close()

    return fn


# -- the stages ---------------------------------------------------------------------------------


def load(
    settings: Settings,
    *,
    source: str = "sharegpt",
    limit: Any = None,
    label: Any = None,
    ref: Any = None,
) -> JobSpec:
    from lmsys_tui.core.sources.spec import SOURCES

    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    n = _int(limit, "limit", optional=True)
    name = _text(label)
    where = _text(ref)
    if source in ("hf",) and where is None:
        raise UsageError("a Hugging Face dataset id is needed for source hf")
    if source == "file" and where is None:
        raise UsageError("a file path is needed for source file")
    args = ["--source", source]
    if source in ("hf", "lmsys") and where:
        args += ["--hf", where]
    if source in ("file", "sharegpt") and where:
        args += ["--file", where]
    if n is not None:
        args += ["--limit", str(n)]
    if name:
        args += ["--dataset-label", name]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.load import run_load
        from lmsys_tui.core.sources.registry import open_source
        from lmsys_tui.core.sources.spec import SourceSpec

        spec = SourceSpec(
            source=source,
            hf=where if source in ("hf", "lmsys") else None,
            file=Path(where).expanduser() if where and source in ("file", "sharegpt") else None,
        )
        info, items = open_source(spec)
        return run_load(
            store, items, info, label=name, limit=n, progress=progress, cancelled=cancelled
        )

    return JobSpec(
        "load", f"Load {source}", command_line(settings, "load", args), _with_store(settings, call)
    )


def cluster(
    settings: Settings,
    *,
    algorithm: str = "kmeans",
    size: Any = None,
    dataset: Any = None,
    limit: Any = None,
) -> JobSpec:
    if algorithm not in ("kmeans", "hdbscan"):
        raise UsageError(f"algorithm must be kmeans or hdbscan, not {algorithm!r}")
    label = _text(dataset)
    n = _int(limit, "limit", optional=True)
    if algorithm == "kmeans":
        k = _int(size if _text(size) else 200, "n-clusters", minimum=2)
        args = ["--n-clusters", str(k)]
    else:
        k = _int(size if _text(size) else 25, "min-cluster-size", minimum=2)
        args = ["--min-cluster-size", str(k)]
    if label:
        args += ["--dataset", label]
    if n is not None:
        args += ["--limit", str(n)]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.cluster.stage import Selection

        selection = Selection(dataset=label, limit=n)
        if algorithm == "kmeans":
            from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans

            return run_kmeans(
                store,
                KMeansParams(n_clusters=int(k or 200)),
                selection=selection,
                progress=progress,
                cancelled=cancelled,
            )
        from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan

        return run_hdbscan(
            store,
            HdbscanParams(min_cluster_size=int(k or 25)),
            selection=selection,
            progress=progress,
            cancelled=cancelled,
        )

    action = f"cluster-{algorithm}"
    return JobSpec(
        "cluster",
        f"Cluster {algorithm}",
        command_line(settings, action, args),
        _with_store(settings, call),
    )


def embed(settings: Settings, *, dataset: Any = None, limit: Any = None) -> JobSpec:
    label = _text(dataset)
    n = _int(limit, "limit", optional=True)
    args: list[str] = []
    if label:
        args += ["--dataset", label]
    if n is not None:
        args += ["--limit", str(n)]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.embed import embed_queries, resolve_space, select_query_ids

        ids = select_query_ids(store, label, n)
        return embed_queries(
            store,
            resolve_space(),
            ids,
            progress=progress,
            cancelled=cancelled,
            cache_dir=settings.cache_dir,
        )

    return JobSpec(
        "embed", "Embed queries", command_line(settings, "embed", args), _with_store(settings, call)
    )


def summarize(
    settings: Settings,
    *,
    run_id: Any = None,
    model: Any = None,
    alias: Any = None,
    max_queries: Any = None,
) -> JobSpec:
    run = _need_run(run_id)
    name = _text(model)
    tag = _text(alias)
    m = _int(max_queries if _text(max_queries) else 100, "max-queries")
    args = [run]
    if name:
        args += ["--model", name]
    if tag:
        args += ["--alias", tag]
    if m != 100:
        args += ["--max-queries", str(m)]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.summarize import SummarizeOptions, run_summarize

        opts = SummarizeOptions(model=name, alias=tag, max_queries=int(m or 100))
        return run_summarize(store, run, opts, progress=progress, cancelled=cancelled)

    return JobSpec(
        "summarize",
        f"Summarize {run}",
        command_line(settings, "summarize", args),
        _with_store(settings, call),
    )


def merge(
    settings: Settings,
    *,
    run_id: Any = None,
    summary_run_id: Any = None,
    model: Any = None,
    target_levels: Any = None,
    merge_ratio: Any = None,
) -> JobSpec:
    run = _need_run(run_id)
    srid = _text(summary_run_id)
    name = _text(model)
    levels = _int(target_levels if _text(target_levels) else 3, "target-levels", minimum=2)
    ratio = _float(merge_ratio if _text(merge_ratio) else 0.35, "merge-ratio")
    if not 0 < ratio < 1:
        raise UsageError("merge-ratio must be between 0 and 1")
    args = [run]
    if srid:
        args += ["--summary-run-id", srid]
    if name:
        args += ["--model", name]
    args += ["--target-levels", str(levels), "--merge-ratio", f"{ratio:g}"]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.hierarchy.merge import MergeOptions, run_merge

        opts = MergeOptions(
            summary_run_id=srid, model=name, target_levels=int(levels or 3), merge_ratio=ratio
        )
        return run_merge(store, run, opts, progress=progress, cancelled=cancelled)

    return JobSpec(
        "merge",
        f"Merge {run}",
        command_line(settings, "merge-clusters", args),
        _with_store(settings, call),
    )


def export(
    settings: Settings, *, run_id: Any = None, fmt: str = "csv", output: Any = None
) -> JobSpec:
    from lmsys_tui.core.export import FORMATS

    run = _need_run(run_id)
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    path = Path(_text(output) or f"{run}.{fmt}").expanduser()
    args = [run, "--format", fmt, "--output", str(path)]

    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.export import export_run

        summary = export_run(settings.db, run, fmt, path, progress=progress, cancelled=cancelled)
        return f"exported {summary.rows:,} rows to {summary.output}"

    return JobSpec("export", f"Export {run}", command_line(settings, "export", args), fn)


def demo(settings: Settings, limit: Any = None) -> JobSpec:
    from lmsys_tui.core.demo import DEMO_LIMIT

    n = _int(limit if _text(limit) else DEMO_LIMIT, "limit")
    args = [] if n == DEMO_LIMIT else ["--limit", str(n)]

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.demo import DemoOptions, run_demo

        return run_demo(store, DemoOptions(limit=n), progress=progress, cancelled=cancelled)

    return JobSpec(
        "demo", "Demo pipeline", command_line(settings, "demo", args), _with_store(settings, call)
    )


def delete(settings: Settings, ident: str, kind: str) -> JobSpec:
    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.delete import delete as delete_item

        plan = delete_item(settings.db, ident, kind)
        return plan.describe().replace("Delete ", "Deleted ", 1)

    args = [ident, "--kind", kind, "--yes"]
    return JobSpec("delete", f"Delete {kind}", command_line(settings, "delete", args), fn)


def clear(settings: Settings) -> JobSpec:
    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.delete import clear_store

        removed = clear_store(settings.db, settings.chroma)
        return f"removed {len(removed)} path(s)" if removed else "nothing to remove"

    return JobSpec("clear", "Clear store", command_line(settings, "clear", ["--yes"]), fn)


CHROMA_TASKS = ("verify", "verify + fix", "backfill", "info")


def chroma(
    settings: Settings, *, task: str = "verify", run_id: Any = None, dataset: Any = None
) -> JobSpec:
    """The Chroma side: `verify sync RUN [--fix]`, `backfill-chroma`, `chroma info`."""
    if task not in CHROMA_TASKS:
        raise UsageError(f"task must be one of {', '.join(CHROMA_TASKS)}, not {task!r}")
    where = ["--chroma-path", str(settings.chroma_path)] if settings.chroma_path else []
    if task == "info":

        def info(progress: Progress, cancelled: CancelCheck) -> Any:
            from lmsys_tui.core import chroma as core_chroma

            found = core_chroma.info(settings.chroma)["collections"]
            if not found:
                return f"no Chroma collections in {settings.chroma}"
            names = ", ".join(f"{c['name']} ({c['count']:,})" for c in found)
            return f"{len(found)} collection(s): {names}"

        return JobSpec("chroma", "Chroma info", command_line(settings, "chroma-info", where), info)
    if task == "backfill":
        label = _text(dataset)
        args = (["--dataset", label] if label else []) + where

        def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
            from lmsys_tui.core import chroma as core_chroma
            from lmsys_tui.core.embed import resolve_space, select_query_ids

            ids = select_query_ids(store, label, None)
            return core_chroma.backfill(
                store,
                resolve_space(),
                ids,
                path=settings.chroma,
                progress=progress,
                cancelled=cancelled,
            )

        return JobSpec(
            "chroma",
            "Backfill Chroma",
            command_line(settings, "backfill-chroma", args),
            _with_store(settings, call),
        )
    run = _need_run(run_id)
    fix = task == "verify + fix"
    args = [run, *(["--fix"] if fix else []), *where]

    def verify(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.search.verify import verify_sync

        report = verify_sync(
            settings.db,
            run,
            chroma_path=settings.chroma,
            fix=fix,
            progress=progress,
            cancelled=cancelled,
        )
        issues = report.get("issues") or []
        if not issues:
            return f"{run}: SQLite and Chroma agree"
        return f"{run}: {report['status']}, {len(issues)} issue(s): {issues[0]}"

    return JobSpec("chroma", f"Verify {run}", command_line(settings, "verify-sync", args), verify)
