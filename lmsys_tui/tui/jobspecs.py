"""Job specs: what the pipeline screen's forms (and the demo, delete and clear actions) start.

A builder turns a form's values into the stage's options objects with `Options.from_form`, so
the defaults, checks and flags are those of the headless command: a bad value is the same
one-line error, before any thread starts. It returns a `JobSpec`: a title, the equivalent
`lmsys-tui --headless …` line (the options' `to_argv()`, plus --db-path when the session has
one; shown on the form as it is filled in), and `fn(progress, cancelled)`, which opens the
store in the worker thread and calls the core function the command calls (`jobspec` holds the
type and how a builder makes one). Nothing here re-implements, re-checks or restates a stage.
Options classes are imported when a form is first used, so opening the pipeline screen stays
cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmsys_tui.config import Settings
from lmsys_tui.core.options import Options, RunArg
from lmsys_tui.errors import UsageError
from lmsys_tui.stage import CancelCheck, Progress
from lmsys_tui.tui.jobs import JobFn
from lmsys_tui.tui.jobspec import JobSpec, make_spec, on_run, with_store

CHROMA_TASKS = ("verify", "verify + fix", "backfill", "info")


def placeholders(form_id: str) -> dict[str, str]:
    """What an empty field of a form means, where that is an option's default."""
    if form_id == "cluster":
        from lmsys_tui.core.cluster.density import HdbscanParams
        from lmsys_tui.core.cluster.kmeans import KMeansParams

        k, m = KMeansParams.n_clusters, HdbscanParams.min_cluster_size
        return {"size": f"{k} (k-means) / {m} (HDBSCAN)"}
    if form_id == "summarize":
        from lmsys_tui.core.summarize.options import SummarizeOptions

        return {"max_queries": str(SummarizeOptions.max_queries)}
    if form_id == "merge":
        from lmsys_tui.core.hierarchy.options import MergeOptions

        return {
            "target_levels": str(MergeOptions.target_levels),
            "merge_ratio": "sizes from the data",
            "top_nodes": "chosen from the data (4-30)",
        }
    if form_id == "demo":
        from lmsys_tui.core.demo import DemoOptions

        return {"limit": str(DemoOptions.limit)}
    return {}


# -- the stages ---------------------------------------------------------------------------------


def load(
    settings: Settings,
    *,
    source: str = "sharegpt",
    limit: Any = None,
    label: Any = None,
    ref: Any = None,
) -> JobSpec:
    """`ref` is the Hugging Face id (hf, lmsys) or the file (file, sharegpt) to read."""
    from lmsys_tui.core.sources.spec import LoadOptions, SourceSpec

    where = "hf" if source in ("hf", "lmsys") else "file"
    spec = SourceSpec.from_form({"source": source, where: ref})
    opts = LoadOptions.from_form({"limit": limit, "label": label})

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.load import run_load
        from lmsys_tui.core.sources.registry import open_source

        info, items = open_source(spec)
        return run_load(
            store, items, info, **opts.to_dict(), progress=progress, cancelled=cancelled
        )

    fn = with_store(settings, call)
    return make_spec(settings, "load", "load", f"Load {spec.source}", (spec, opts), fn)


def embed(settings: Settings, *, dataset: Any = None, limit: Any = None) -> JobSpec:
    from lmsys_tui.core.cluster.options import EmbedOptions, Selection

    selection = Selection.from_form({"dataset": dataset, "limit": limit})
    opts = EmbedOptions()

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.cluster.stage import embed_selection, selected_ids

        ids = selected_ids(store, selection)
        embedded, _ = embed_selection(
            store,
            opts.space(),
            ids,
            opts,
            cache_dir=settings.cache_dir,
            progress=progress,
            cancelled=cancelled,
        )
        return embedded

    fn = with_store(settings, call)
    return make_spec(settings, "embed", "embed", "Embed queries", (selection, opts), fn)


def cluster(
    settings: Settings,
    *,
    algorithm: str = "kmeans",
    size: Any = None,
    dataset: Any = None,
    limit: Any = None,
) -> JobSpec:
    """`size` is k for k-means, the minimum cluster size for HDBSCAN."""
    from lmsys_tui.core.cluster.options import EmbedOptions, Selection

    run: Callable[..., Any]
    params: Options
    if algorithm == "kmeans":
        from lmsys_tui.core.cluster.kmeans import KMeansParams, run_kmeans

        run, params = run_kmeans, KMeansParams.from_form({"n_clusters": size})
    elif algorithm == "hdbscan":
        from lmsys_tui.core.cluster.density import HdbscanParams, run_hdbscan

        run, params = run_hdbscan, HdbscanParams.from_form({"min_cluster_size": size})
    else:
        raise UsageError(f"algorithm must be kmeans or hdbscan, not {algorithm!r}")
    selection = Selection.from_form({"dataset": dataset, "limit": limit})

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        return run(store, params, selection=selection, progress=progress, cancelled=cancelled)

    options = (params, selection, EmbedOptions())
    fn = with_store(settings, call)
    return make_spec(
        settings, f"cluster-{algorithm}", "cluster", f"Cluster {algorithm}", options, fn
    )


def summarize(settings: Settings, *, run_id: Any = None, **values: Any) -> JobSpec:
    """`values`: SummarizeOptions fields, as the form holds them (model, alias, max_queries)."""
    from lmsys_tui.core.summarize.options import SummarizeOptions

    def stage() -> Callable[..., Any]:
        from lmsys_tui.core.summarize import run_summarize

        return run_summarize

    return on_run(
        settings, "summarize", "summarize", "Summarize", run_id, SummarizeOptions, values, stage
    )


def merge(settings: Settings, *, run_id: Any = None, **values: Any) -> JobSpec:
    """`values`: MergeOptions fields, as the form holds them (summary pass, model, levels...)."""
    from lmsys_tui.core.hierarchy.options import MergeOptions

    def stage() -> Callable[..., Any]:
        from lmsys_tui.core.hierarchy.merge import run_merge

        return run_merge

    return on_run(settings, "merge-clusters", "merge", "Merge", run_id, MergeOptions, values, stage)


def export(
    settings: Settings, *, run_id: Any = None, format: str = "csv", output: Any = None
) -> JobSpec:
    """An empty `output` is `<run>.<format>` in the working folder."""
    from lmsys_tui.core.export import ExportOptions

    run = RunArg.from_form({"run_id": run_id})
    named = str(output or "").strip() or f"{run.run_id}.{format}"
    opts = ExportOptions.from_form({"format": format, "output": named})

    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.export import export_run

        summary = export_run(settings.db, run.run_id, opts, progress=progress, cancelled=cancelled)
        return f"exported {summary.rows:,} rows to {summary.output}"

    return make_spec(settings, "export", "export", f"Export {run.run_id}", (run, opts), fn)


def run_file(settings: Settings, *, path: Any = None) -> JobSpec:
    """`run FILE.toml` against the session's store (its paths win over the file's); the file
    is read when the job starts, so its errors are the job's one-line error."""
    from lmsys_tui.core.runfile import RunFileOptions

    opts = RunFileOptions.from_form({"path": path})
    assert opts.path is not None  # `missing` refused an empty field
    file = opts.path

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.runfile import read_pipeline, run_pipeline

        pipe = read_pipeline(file)
        return run_pipeline(
            store, pipe, chroma_path=settings.chroma, progress=progress, cancelled=cancelled
        ).message

    fn = with_store(settings, call)
    return make_spec(settings, "run-pipeline", "run", f"Run {file.name}", (opts,), fn, chroma=True)


def demo(settings: Settings, limit: Any = None) -> JobSpec:
    from lmsys_tui.core.demo import DemoOptions

    opts = DemoOptions.from_form({"limit": limit})

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.demo import run_demo

        return run_demo(store, opts, progress=progress, cancelled=cancelled)

    return make_spec(settings, "demo", "demo", "Demo pipeline", (opts,), with_store(settings, call))


def delete(settings: Settings, ident: str, kind: str) -> JobSpec:
    """After the TUI's own confirmation: the command line says --yes."""
    from lmsys_tui.core.delete import DeleteOptions

    opts = DeleteOptions(ident=ident, kind=kind, yes=True)

    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.delete import delete as delete_item

        plan = delete_item(settings.db, opts.ident, opts.kind, force=opts.force)
        return plan.describe().replace("Delete ", "Deleted ", 1)

    return make_spec(settings, "delete", "delete", f"Delete {kind}", (opts,), fn)


def clear(settings: Settings) -> JobSpec:
    """After the TUI's own confirmation: the command line says --yes."""
    from lmsys_tui.core.delete import ClearOptions

    opts = ClearOptions(yes=True)

    def fn(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.delete import clear_store

        removed = clear_store(settings.db, settings.chroma, keep_embeddings=opts.keep_embeddings)
        return f"removed {len(removed)} path(s)" if removed else "nothing to remove"

    return make_spec(settings, "clear", "clear", "Clear store", (opts,), fn)


def chroma(
    settings: Settings, *, task: str = "verify", run_id: Any = None, dataset: Any = None
) -> JobSpec:
    """The Chroma side: `verify sync RUN [--fix]`, `backfill-chroma`, `chroma info`."""
    if task not in CHROMA_TASKS:
        raise UsageError(f"task must be one of {', '.join(CHROMA_TASKS)}, not {task!r}")
    if task == "info":
        return make_spec(
            settings, "chroma-info", "chroma", "Chroma info", (), _chroma_info(settings)
        )
    if task == "backfill":
        return _backfill(settings, dataset)
    from lmsys_tui.core.search.verify.options import VerifyOptions

    run = RunArg.from_form({"run_id": run_id})
    opts = VerifyOptions(fix=task == "verify + fix")

    def verify(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core.curate.chroma_sync import finish_pending
        from lmsys_tui.core.curate.frame import Chroma
        from lmsys_tui.core.search.verify import verify_sync

        finish_pending(settings.db, Chroma(settings.chroma))  # an edit killed before Chroma
        report = verify_sync(
            settings.db,
            run.run_id,
            chroma_path=settings.chroma,
            fix=opts.fix,
            progress=progress,
            cancelled=cancelled,
        )
        issues = report.get("issues") or []
        if not issues:
            return f"{run.run_id}: SQLite and Chroma agree"
        return f"{run.run_id}: {report['status']}, {len(issues)} issue(s): {issues[0]}"

    title = f"Verify {run.run_id}"
    return make_spec(settings, "verify-sync", "chroma", title, (run, opts), verify, chroma=True)


def _chroma_info(settings: Settings) -> JobFn:
    def info(progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core import chroma as core_chroma

        found = core_chroma.info(settings.chroma)["collections"]
        if not found:
            return f"no Chroma collections in {settings.chroma}"
        names = ", ".join(f"{c['name']} ({c['count']:,})" for c in found)
        return f"{len(found)} collection(s): {names}"

    return info


def _backfill(settings: Settings, dataset: Any) -> JobSpec:
    from lmsys_tui.core.cluster.options import EmbedOptions, Selection

    selection = Selection.from_form({"dataset": dataset})
    opts = EmbedOptions()

    def call(store: Any, progress: Progress, cancelled: CancelCheck) -> Any:
        from lmsys_tui.core import chroma as core_chroma
        from lmsys_tui.core.cluster.stage import selected_ids

        return core_chroma.backfill(
            store,
            opts.space(),
            selected_ids(store, selection),
            path=settings.chroma,
            progress=progress,
            cancelled=cancelled,
        )

    fn = with_store(settings, call)
    options = (selection, opts)
    return make_spec(
        settings, "backfill-chroma", "chroma", "Backfill Chroma", options, fn, chroma=True
    )


def assign(settings: Settings, *, run_id: Any = None, **values: Any) -> JobSpec:
    """`values`: AssignOptions fields (the dataset whose queries the run takes)."""
    from lmsys_tui.core.insights.assign import AssignOptions

    def stage() -> Callable[..., Any]:
        from lmsys_tui.core.insights.assign import assign_dataset

        def run(store: Any, run_id: str, opts: Any, **how: Any) -> str:
            return assign_dataset(store, run_id, opts, **how).message

        return run

    return on_run(
        settings, "cluster-assign", "assign", "Assign to", run_id, AssignOptions, values, stage
    )


def evaluate_titles(settings: Settings, *, run_id: Any = None, **values: Any) -> JobSpec:
    """`values`: JudgeOptions fields (model, base_url, sample...); the job's message is the
    accurate share, its result every verdict."""
    from lmsys_tui.core.evaluate.judge import JudgeOptions

    def stage() -> Callable[..., Any]:
        from lmsys_tui.core.evaluate.judge import judge_titles, summary_line

        def judged(*args: Any, **kwargs: Any) -> str:
            return summary_line(judge_titles(*args, **kwargs))

        return judged

    return on_run(
        settings, "evaluate-titles", "evaluate", "Judge titles of", run_id, JudgeOptions, values,
        stage,
    )  # fmt: skip
