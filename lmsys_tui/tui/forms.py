"""The pipeline screen's forms, declared as data: one per stage, its fields and its builder.

A field is named for its builder's keyword (an option's name, or what the builder maps, such as
`ref` or `size`); an empty input means the option's default, which its placeholder shows
(`jobspecs.placeholders`) unless the field says what empty means itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lmsys_tui.core.export import FORMATS
from lmsys_tui.core.sources.spec import SOURCES
from lmsys_tui.tui import jobspecs


@dataclass(frozen=True)
class FormField:
    name: str  # the builder's keyword: an option's name, or what the builder maps
    label: str
    kind: str = "input"  # input | select | run | dataset
    options: tuple[str, ...] = ()
    default: str = ""
    placeholder: str = ""  # else the option's default (jobspecs.placeholders)


@dataclass(frozen=True)
class Form:
    id: str
    tab: str
    about: str
    build: Callable[..., jobspecs.JobSpec]
    fields: tuple[FormField, ...] = field(default_factory=tuple)


RUN = FormField("run_id", "Run", "run")
DATASET = FormField("dataset", "Dataset", "dataset")
LIMIT = FormField("limit", "Limit", placeholder="all queries")
LLM = FormField("model", "Model", placeholder="first provider with a key, else offline")
FORMS: tuple[Form, ...] = (
    Form(
        "load",
        "Load",
        "Load conversations (first user turn and metadata) into the store.",
        jobspecs.load,
        (
            FormField("source", "Source", "select", SOURCES, "sharegpt"),
            FormField("limit", "Limit", placeholder="all conversations"),
            FormField("label", "Dataset label", placeholder="from the source"),
            FormField("ref", "HF id or file", placeholder="packaged ShareGPT"),
        ),
    ),
    Form(
        "embed",
        "Embed",
        "Embed the query texts not stored yet (each distinct text once; resumable).",
        jobspecs.embed,
        (DATASET, LIMIT),
    ),
    Form(
        "cluster",
        "Cluster",
        "Embed what is missing, then cluster the stored vectors.",
        jobspecs.cluster,
        (
            FormField("algorithm", "Algorithm", "select", ("kmeans", "hdbscan"), "kmeans"),
            FormField("size", "Clusters / min size"),
            DATASET,
            LIMIT,
        ),
    ),
    Form(
        "summarize",
        "Summary",
        "A title, description and coherence per cluster (offline without an API key).",
        jobspecs.summarize,
        (
            RUN,
            LLM,
            FormField("alias", "Alias", placeholder="none"),
            FormField("max_queries", "Queries per cluster"),
        ),
    ),
    Form(
        "merge",
        "Merge",
        "Merge a run's clusters into a hierarchy (Clio levels; offline without a key).",
        jobspecs.merge,
        (
            RUN,
            FormField("summary_run_id", "Summary pass", placeholder="newest pass"),
            LLM,
            FormField("target_levels", "Levels"),
            FormField("merge_ratio", "Merge ratio"),
            FormField("top_nodes", "Top nodes"),
        ),
    ),
    Form(
        "export",
        "Export",
        "Write a run's queries with their clusters to a file (streamed).",
        jobspecs.export,
        (
            RUN,
            FormField("format", "Format", "select", FORMATS, FORMATS[0]),
            FormField("output", "Output file", placeholder="<run>.<format>"),
        ),
    ),
    Form(
        "chroma",
        "Chroma",
        "Check a run's Chroma documents against SQLite (and repair them), add missing queries "
        "from stored vectors, or list the collections.",
        jobspecs.chroma,
        (
            FormField("task", "Task", "select", jobspecs.CHROMA_TASKS, "verify"),
            FormField("run_id", "Run (verify)", "run"),
            FormField("dataset", "Dataset (backfill)", "dataset"),
        ),
    ),
    Form(
        "demo",
        "Demo",
        "Load the packaged ShareGPT sample, embed, k-means, summarize and merge (all offline).",
        jobspecs.demo,
        (FormField("limit", "Conversations"),),
    ),
    Form(
        "run",
        "Run",
        "Load, embed, cluster, summarize and merge from a pipeline file (TOML); a stage whose "
        "output exists is skipped, a cut-off one resumed.",
        jobspecs.run_file,
        (FormField("path", "Pipeline file", placeholder="pipeline.toml"),),
    ),
)
