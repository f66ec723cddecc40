"""What the model is asked about a cluster, and how its answer is cleaned.

Query texts go inside tags, escaped, so a query can neither close a tag nor pose as the
instructions; the system prompt (shared with the hierarchy's prompts) asks for an aggregate,
privacy-preserving description in the manner of Anthropic's Clio.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from lmsys_tui.core.summarize.sampling import Job

INCOHERENT_PREFIXES = ("Mixed:", "Miscellaneous:")
SYSTEM_PROMPT = (
    "You summarise clusters of requests that users sent to AI assistants, for an aggregate, "
    "privacy-preserving study of how people use them (in the manner of Anthropic's Clio). "
    "Describe the shared task or topic; never repeat names, e-mail addresses or other details "
    "that could identify a person."
)


class ClusterSummaryAnswer(BaseModel):
    """The structured answer asked of the model for one cluster."""

    title: str = Field(description="At most 10 words naming what the requests have in common.")
    description: str = Field(description="Exactly two sentences.")
    coherence: int = Field(ge=1, le=5, description="1 = unrelated requests, 5 = one clear task.")


def _esc(text: str) -> str:
    """Query text inside tags: escaped so a query cannot close or fake a tag."""
    return html.escape(text, quote=False)


def build_messages(job: Job, clip: int) -> list[dict[str, str]]:
    """The system prompt and one user message: the cluster's sample, then its contrast."""
    n = len(job.sample)
    parts = [
        f"Below are {n} requests from one cluster of {job.size} (the most central first, "
        f"alternating with a varied sample of the rest). Texts longer than {clip} characters "
        "are cut.",
        "",
        f'<cluster_queries count="{n}">',
        *(f"<query>{_esc(t)}</query>" for t in job.sample),
        "</cluster_queries>",
    ]
    if job.contrast:
        parts += [
            "",
            f"For contrast, here are requests from the {len(job.contrast)} other clusters whose "
            "centroids are nearest to this one. They are NOT part of this cluster: use them only "
            "to make the title and description say what sets this cluster apart.",
            "<contrast_clusters>",
        ]
        for rank, (_nid, sim, examples) in enumerate(job.contrast, start=1):
            parts.append(f'<contrast_cluster rank="{rank}" similarity="{sim:.2f}">')
            parts += [f"<query>{_esc(t)}</query>" for t in examples]
            parts.append("</contrast_cluster>")
        parts.append("</contrast_clusters>")
    parts += [
        "",
        "Answer with:",
        "- title: at most 10 words naming what these requests have in common, specific enough "
        'to tell this cluster from its neighbours (e.g. "Debugging pandas DataFrame merges"). '
        'If they share no clear theme, start the title with "Mixed:" or "Miscellaneous:".',
        "- description: exactly two sentences on what users asked for and what distinguishes "
        "this cluster from the contrast clusters.",
        "- coherence: 1-5, how well the requests share one theme (5 = all the same kind of task, "
        "1 = unrelated requests).",
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(parts)},
    ]


def clean_title(text: str, fallback: str) -> str:
    """A model's title on one line, without the quotes and full stop models like to add."""
    return " ".join(text.split()).strip(" .\"'")[:200] or fallback


def clean_answer(answer: ClusterSummaryAnswer) -> tuple[str, str, int]:
    """Normalise the model's answer; an incoherent cluster's title always says so."""
    title = clean_title(answer.title, "Untitled")
    description = " ".join(answer.description.split())[:2000]
    coherence = min(5, max(1, int(answer.coherence)))
    if coherence <= 2 and not title.startswith(INCOHERENT_PREFIXES):
        title = f"Mixed: {title}"
    return title, description, coherence
