"""Options build both doors: every command line a TUI form shows parses back to its options.

For every pipeline form, each field is varied over a few values (defaults included) and every
combination is built the way the screen builds it. The command line the form would show
(`JobSpec.argv`) is parsed by the real headless command (the Click command that
`cli.build_headless_app` builds; `make_context`, nothing runs) and the options classes are
rebuilt from the parsed parameters exactly as the command does (`from_params`): they must
equal what the form built. Bad values must fail with the same one-line message in both doors.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

from lmsys_tui.actions import ACTIONS
from lmsys_tui.cli import build_headless_app
from lmsys_tui.config import Settings, load_settings
from lmsys_tui.core.cluster.density import HdbscanParams
from lmsys_tui.core.cluster.kmeans import KMeansParams
from lmsys_tui.core.cluster.options import EmbedOptions, Selection
from lmsys_tui.core.curate.options import (
    BadClusterOptions,
    DeleteClusterOptions,
    EditBy,
    FlagOptions,
    HistoryOptions,
    MergeEditOptions,
    MoveOptions,
    RenameOptions,
    SplitOptions,
    TagOptions,
    UndoOptions,
)
from lmsys_tui.core.delete import ClearOptions, DeleteOptions
from lmsys_tui.core.demo import DemoOptions
from lmsys_tui.core.evaluate.judge import JudgeOptions
from lmsys_tui.core.evaluate.options import EvaluateOptions, StabilityOptions
from lmsys_tui.core.export import FORMATS, ExportOptions
from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.core.insights.assign import AssignOptions
from lmsys_tui.core.insights.compare import CompareOptions
from lmsys_tui.core.insights.lift import FacetOptions
from lmsys_tui.core.insights.map_options import MapOptions, ReportOptions
from lmsys_tui.core.llm.options import LLMOptions
from lmsys_tui.core.options import Options, RunArg, argv
from lmsys_tui.core.runfile import RunFileOptions
from lmsys_tui.core.search.verify.options import VerifyOptions
from lmsys_tui.core.sources.spec import SOURCES, ColumnMap, LoadOptions, SourceSpec
from lmsys_tui.core.summarize.options import SummarizeOptions
from lmsys_tui.errors import UsageError
from lmsys_tui.tui import jobspecs
from lmsys_tui.tui.forms import FORMS

RUN = "kmeans-20260101-000000-ab12"
DATASETS = ("", "sharegpt", "support chats")
MODELS = ("", "offline", "ollama/llama3")
# the values each form field takes; "" is an empty field (the option's default)
VALUES: dict[str, dict[str, tuple[Any, ...]]] = {
    "load": {
        "source": SOURCES,
        "limit": ("", "300", "1,000"),
        "label": ("", "my data"),
        "ref": ("", "someone/chats", "~/chats.jsonl"),
    },
    "embed": {"dataset": DATASETS, "limit": ("", "5", "1_000")},
    "cluster": {
        "algorithm": ("kmeans", "hdbscan"),
        "size": ("", "2", "40", "200"),
        "dataset": DATASETS,
        "limit": ("", "500"),
    },
    "summarize": {
        "run_id": (RUN,),
        "model": MODELS,
        "alias": ("", "v1"),
        "max_queries": ("", "100", "7"),
    },
    "merge": {
        "run_id": (RUN,),
        "summary_run_id": ("", "summary-offline-1"),
        "model": MODELS,
        "target_levels": ("", "2", "3", "5"),
        "merge_ratio": ("", "0.35", "0.5", ".2"),
        "top_nodes": ("", "6"),
    },
    "export": {"run_id": (RUN,), "format": FORMATS, "output": ("", "out.parquet", "~/x.csv")},
    "chroma": {"task": jobspecs.CHROMA_TASKS, "run_id": (RUN,), "dataset": DATASETS},
    "demo": {"limit": ("", "300", "3000", "3,000")},
    "run": {"path": ("pipeline.toml", "~/pipeline.toml")},
}


@cache
def _commands() -> dict[str, click.Command]:
    """Each action's Click command, as `lmsys-tui --headless` builds it."""
    root = typer.main.get_command(build_headless_app())
    found = {}
    for action in ACTIONS:
        if action.command:
            command: Any = root
            for part in action.command.split():
                command = command.commands[part]
            found[action.id] = command
    return found


def _parsed(action_id: str, args: list[str] | tuple[str, ...]) -> dict[str, Any]:
    command = _commands()[action_id]
    return command.make_context(str(command.name), list(args)).params


def _same_back(spec: jobspecs.JobSpec) -> None:
    params = _parsed(spec.action, spec.argv)
    for built in spec.options:
        assert type(built).from_params(params) == built, (spec.command, built)


def _settings(tmp_path: Path) -> Settings:
    """A session with its own store and Chroma paths: the command lines carry both."""
    return load_settings(tmp_path / "my store.db", tmp_path / "chroma")


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_every_command_line_a_form_shows_parses_back_to_its_options(form, tmp_path) -> None:
    fields = VALUES[form.id]
    assert set(fields) == {f.name for f in form.fields}, "vary every field of the form"
    settings = _settings(tmp_path)
    built = refused = 0
    for combo in itertools.product(*fields.values()):
        values = dict(zip(fields, combo, strict=True))
        try:
            spec = form.build(settings, **values)
        except UsageError:
            refused += 1  # e.g. source hf without an id: the form shows the error instead
            continue
        _same_back(spec)
        assert spec.argv[-2:] == ("--db-path", str(settings.db_path))
        assert spec.command.startswith("lmsys-tui --headless ")
        built += 1
    assert built > refused


def test_the_session_store_and_the_tui_only_jobs_parse_back(tmp_path) -> None:
    settings = _settings(tmp_path)
    for spec in (
        jobspecs.delete(settings, RUN, "run"),
        jobspecs.clear(settings),
        jobspecs.demo(settings, 250),  # `lmsys-tui demo --limit 250` starts this one
        jobspecs.assign(settings, run_id=RUN, dataset="new chats"),
    ):
        _same_back(spec)
    backfill = jobspecs.chroma(settings, task="backfill", dataset="sharegpt")
    assert _parsed(backfill.action, backfill.argv)["chroma_path"] == settings.chroma_path


@pytest.mark.parametrize(
    ("action", "options"),
    [
        (
            "load",
            (
                SourceSpec(
                    source="hf",
                    hf="org/data",
                    split="test",
                    streaming=False,
                    max_chars=500,
                    columns=ColumnMap(
                        text_column="prompt", text_format="plain", label_column="topic"
                    ),
                ),
                LoadOptions(label="x", limit=9, force_reload=True, batch_size=10),
            ),
        ),
        (
            "load",
            (
                SourceSpec(max_chars=10, skip_long=True),
                LoadOptions(),
                EmbedOptions(use_chroma=True, embedding_provider="cohere", dimensions=512),
            ),
        ),
        (
            "cluster-kmeans",
            (
                KMeansParams(n_clusters=7, tol=1e-05, n_init=3, random_state=-1),
                Selection(dataset="d", limit=50),
                EmbedOptions(use_chroma=True, embed_batch_size=8, embed_backend="onnx"),
            ),
        ),
        (
            "cluster-hdbscan",
            (
                HdbscanParams(min_samples=None, metric="euclidean", epsilon=0.25, reduce_dims=0),
                Selection(),
                EmbedOptions(embedding_provider="openai", dimensions=256, chroma_port=8000),
            ),
        ),
        ("embed", (Selection(limit=3), EmbedOptions(embedding_model="/models/m"))),
        (
            "summarize",
            (RunArg(RUN), SummarizeOptions(cluster_ids=[1, 2], use_chroma=True, rpm=1.5)),
        ),
        ("merge-clusters", (RunArg(RUN), MergeOptions(alias="v1", resume="hier-1", rpm=30.0))),
        ("summarize", (RunArg(RUN), SummarizeOptions(request_timeout=2.5, cluster_deadline=9.0))),
        ("merge-clusters", (RunArg(RUN), MergeOptions(request_timeout=1.0, cluster_deadline=4.0))),
        (
            "merge-clusters",
            (
                RunArg(RUN),
                MergeOptions(llm_provider="openai", llm_model="gpt-4o-mini", embedding_model="m"),
            ),
        ),
        ("export", (RunArg(RUN), ExportOptions(output=Path("/tmp/x.json"), format="json"))),
        ("export", (RunArg(RUN), ExportOptions(output=Path("-"), raw_csv=True))),
        ("verify-sync", (RunArg(RUN), VerifyOptions(fix=True, embed_backend="torch"))),
        ("delete", (DeleteOptions(ident=RUN, kind="summary", force=True),)),
        ("clear", (ClearOptions(yes=True, keep_embeddings=True),)),
        ("demo", (DemoOptions(limit=10, n_clusters=3, model="m", target_levels=2, fresh=True),)),
        ("map", (RunArg(RUN), MapOptions(method="umap", output=Path("m.png"), node=-1))),
        ("map", (RunArg(RUN), MapOptions(recompute=True))),
        (
            "report",
            (
                RunArg(RUN),
                ReportOptions(
                    output=Path("r.md"),
                    format="md",
                    min_cluster_size=1,
                    examples=0,
                    summary_run_id="s",
                    hierarchy_run_id="h",
                ),
            ),
        ),
        ("edit-move-query", (RunArg(RUN), MoveOptions(to_cluster=3, query_id=7), EditBy("a", "b"))),
        ("edit-move-queries", (RunArg(RUN), MoveOptions(to_cluster=0, query_ids="1,2"))),
        (
            "edit-rename-cluster",
            (RunArg(RUN), RenameOptions(cluster_id=2, title="T", hierarchy_run_id="h")),
        ),
        (
            "edit-merge-clusters",
            (RunArg(RUN), MergeEditOptions(source="1,2", target=3, new_description="d")),
        ),
        ("edit-split-cluster", (RunArg(RUN), SplitOptions(cluster_id=1, new_title="x"))),
        ("edit-delete-cluster", (RunArg(RUN), DeleteClusterOptions(cluster_id=1, move_to=2))),
        ("edit-delete-cluster", (RunArg(RUN), DeleteClusterOptions(cluster_id=1, orphan=True))),
        ("edit-tag-cluster", (RunArg(RUN), TagOptions(cluster_id=4, coherence=5, quality="low"))),
        ("edit-flag-cluster", (RunArg(RUN), FlagOptions(cluster_id=4, flag="mixed"))),
        ("edit-history", (RunArg(RUN), HistoryOptions(cluster_id=4))),
        ("edit-audit", (RunArg(RUN), HistoryOptions(since="2026-01-01"))),
        (
            "edit-select-bad-clusters",
            (RunArg(RUN), BadClusterOptions(max_size=3, min_languages=2, max_coherence=2)),
        ),
        ("edit-undo", (UndoOptions(run=RUN), EditBy(editor="x"))),
        ("merge-clusters", (RunArg(RUN), MergeOptions(top_nodes=6, target_levels=4))),
        ("evaluate-run", (RunArg(RUN), EvaluateOptions(hierarchy="hier-1"))),
        ("evaluate-stability", (RunArg(RUN), StabilityOptions(seeds=3, hierarchy="hier-1"))),
        ("summarize", (RunArg(RUN), SummarizeOptions(dry_run=True, budget_usd=2.5))),
        ("merge-clusters", (RunArg(RUN), MergeOptions(budget_usd=0.25, dry_run=True))),
        (
            "cluster-assign",
            (
                RunArg(RUN),
                AssignOptions(dataset="chats", neighbours=5, embed_backend="torch", new_run=True),
            ),
        ),
        ("compare", (CompareOptions(run_a=RUN, run_b="other-run", threshold=0.6),)),
        (
            "facets",
            (
                FacetOptions(
                    run_id=RUN,
                    by="language",
                    level=1,
                    hierarchy_run_id="h-1",
                    alpha=0.01,
                    significant_only=True,
                ),
            ),
        ),
        (
            "cluster-hdbscan",
            (
                HdbscanParams(assign_noise=False, assign_distance=0.7, max_cluster_fraction=0.5),
                Selection(),
                EmbedOptions(),
            ),
        ),
        (
            "evaluate-titles",
            (
                RunArg(RUN),
                JudgeOptions(model="openai/m", base_url="http://h:1/v1", sample=4, alias="a"),
            ),
        ),
        ("run-pipeline", (RunFileOptions(path=Path("/tmp/pipe line.toml")),)),
    ],
)
def test_every_option_of_a_command_round_trips(action, options) -> None:
    """Beyond the forms: each options class's flags are its command's (names and spelling)."""
    params = _parsed(action, argv(*options))
    for built in options:
        assert type(built).from_params(params) == built


def test_argv_holds_only_what_was_chosen() -> None:
    assert argv(MergeOptions()) == []
    assert argv(MergeOptions(merge_ratio=0.5), RunArg(RUN)) == [RUN, "--merge-ratio", "0.5"]
    assert SourceSpec(streaming=False).to_argv() == ["--source", "sharegpt", "--no-streaming"]
    assert SummarizeOptions(cluster_ids=[3, 4]).to_argv() == [
        "--cluster-id",
        "3",
        "--cluster-id",
        "4",
    ]
    assert HdbscanParams(min_samples=None).to_argv() == ["--min-samples", "0"]
    assert LoadOptions(label="x").to_argv() == ["--dataset-label", "x"]


def test_llm_provider_and_model_are_the_reference_spelling_of_model() -> None:
    assert MergeOptions(llm_provider="OpenAI", llm_model="gpt-4o").model == "openai/gpt-4o"
    assert MergeOptions(llm_provider="anthropic").model.startswith("anthropic/claude-")
    assert MergeOptions(llm_model="groq/llama-3.1-8b-instant").model == "groq/llama-3.1-8b-instant"
    for bad in (
        {"llm_model": "gpt-4o"},
        {"llm_provider": "vllm"},
        {"llm_provider": "openai", "llm_model": "a", "model": "openai/b"},
    ):
        with pytest.raises(UsageError, match=r"^--"):
            MergeOptions(**bad)


def test_form_values_are_read_loosely() -> None:
    assert Selection.from_form({"limit": " 1,000 ", "dataset": ""}) == Selection(limit=1000)
    assert HdbscanParams.from_form({"metric": "COSINE"}).metric == "cosine"
    assert MergeOptions.from_form({"merge_ratio": ".5"}).merge_ratio == 0.5
    assert HdbscanParams.from_form({"min_samples": "0"}).min_samples is None
    with pytest.raises(KeyError):
        Selection.from_form({"no_such_field": "1"})


# -- bad values: one line, the same text from both doors -------------------------------------

BAD = [  # form, its values, the same request on the command line
    ("cluster", {"size": "0"}, "cluster kmeans --n-clusters 0"),
    ("cluster", {"algorithm": "hdbscan", "size": "1"}, "cluster hdbscan --min-cluster-size 1"),
    ("cluster", {"limit": "-5"}, "cluster kmeans --limit -5"),
    ("embed", {"limit": "0"}, "embed --limit 0"),
    ("load", {"limit": "0"}, "load --limit 0"),
    ("load", {"source": "hf"}, "load --source hf"),
    ("load", {"source": "file"}, "load --source file"),
    ("summarize", {"run_id": RUN, "max_queries": "0"}, f"summarize {RUN} --max-queries 0"),
    ("merge", {"run_id": RUN, "merge_ratio": "1.5"}, f"merge-clusters {RUN} --merge-ratio 1.5"),
    ("merge", {"run_id": RUN, "target_levels": "1"}, f"merge-clusters {RUN} --target-levels 1"),
    ("export", {"run_id": RUN, "format": "xlsx"}, f"export {RUN} --format xlsx"),
    ("demo", {"limit": "0"}, "demo --limit 0"),
]


@pytest.mark.parametrize(("form_id", "values", "line"), BAD, ids=[b[2] for b in BAD])
def test_bad_values_are_the_same_one_line_error_in_both_doors(form_id, values, line, tmp_path):
    form = next(f for f in FORMS if f.id == form_id)
    with pytest.raises(UsageError) as tui:
        form.build(_settings(tmp_path), **values)
    message = tui.value.message
    assert message.startswith("--") and "\n" not in message
    res = CliRunner().invoke(build_headless_app(), line.split())
    assert res.exit_code == 2, res.output
    assert res.stderr == f"error: {message}\n" and res.stdout == ""


def test_an_empty_run_field_names_what_is_missing(tmp_path) -> None:
    with pytest.raises(UsageError, match=r"^choose a clustering run$"):
        jobspecs.summarize(_settings(tmp_path), run_id="")
    with pytest.raises(UsageError, match=r"^--n-clusters must be a whole number, not 'many'$"):
        jobspecs.cluster(_settings(tmp_path), size="many")


def test_every_options_class_is_covered() -> None:
    """A new options class needs a round-trip case above (and a form, if the TUI starts it)."""
    covered = {
        SourceSpec, ColumnMap, LoadOptions, KMeansParams, HdbscanParams, Selection,
        EmbedOptions, SummarizeOptions, MergeOptions, ExportOptions, VerifyOptions,
        DeleteOptions, ClearOptions, DemoOptions, RunArg, MapOptions, ReportOptions,
        DeleteOptions, ClearOptions, DemoOptions, RunArg, EditBy, MoveOptions, RenameOptions,
        MergeEditOptions, SplitOptions, DeleteClusterOptions, TagOptions, FlagOptions,
        HistoryOptions, BadClusterOptions, UndoOptions,
        DeleteOptions, ClearOptions, DemoOptions, RunArg, EvaluateOptions, StabilityOptions,
        DeleteOptions, ClearOptions, DemoOptions, RunArg,
        FacetOptions, CompareOptions, AssignOptions,
        JudgeOptions,
        DeleteOptions, ClearOptions, DemoOptions, RunArg, RunFileOptions,
    }  # fmt: skip
    bases = {LLMOptions}  # shared fields only: covered through SummarizeOptions, MergeOptions
    assert set(_subclasses(Options)) == covered | bases


def _subclasses(cls: type) -> list[type]:
    return [s for c in cls.__subclasses__() for s in (c, *_subclasses(c))]


@pytest.mark.parametrize("cls", [SummarizeOptions, MergeOptions])
@pytest.mark.parametrize("url", ["not-a-url", "ftp://h/v1", "http://", "http://u:pw@:1/v1"])
def test_a_malformed_base_url_is_refused_by_every_llm_stage(cls, url) -> None:
    with pytest.raises(UsageError, match="--base-url") as refused:
        cls(base_url=url)
    assert "pw" not in refused.value.message
    assert cls(base_url="https://u:pw@h:8000/v1").base_url == "https://u:pw@h:8000/v1"
