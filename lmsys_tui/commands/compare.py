"""Headless `compare RUN_A RUN_B`: what changed between two runs over the same queries."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsys_tui.commands.options import DB_PATH, JSON_OR_XML
from lmsys_tui.commands.output import emit, emit_table, handled, note
from lmsys_tui.commands.params import Params, takes
from lmsys_tui.core.insights.compare import CompareOptions as C


def _table(data: dict[str, Any]) -> None:
    q = data["queries"]
    note(
        f"{data['run_a']} -> {data['run_b']}: {q['common']} common queries"
        f" ({q['only_a']} only in A, {q['only_b']} only in B); ARI {data['ari']:.3f},"
        f" NMI {data['nmi']:.3f}, {data['moved_share']:.1%} moved"
    )
    lines: list[tuple[Any, ...]] = []
    for m in data["merged"]:
        lines.append(("merged", ", ".join(str(s["cluster_id"]) for s in m["from"]), m["into"],
                      m["title"]))  # fmt: skip
    for s in data["split"]:
        lines.append(("split", s["from"], ", ".join(str(t["cluster_id"]) for t in s["into"]),
                      s["title"]))  # fmt: skip
    lines += [("vanished", v["cluster_id"], "", v["title"]) for v in data["vanished"]]
    lines += [("new", "", n["cluster_id"], n["title"]) for n in data["new"]]
    lines += [("renamed", r["a"], r["b"], f"{r['title_a']} -> {r['title_b']}")
              for r in data["renamed"]]  # fmt: skip
    lines += [(f"+{a['queries']} queries", "", a["cluster_id"], a["title"]) for a in data["added"]]
    lines += [(f"-{r['queries']} queries", r["cluster_id"], "", r["title"])
              for r in data["removed"]]  # fmt: skip
    emit_table("Changes", ["change", "A", "B", "title"], lines)
    emit_table(
        "Agreement per level",
        ["level", "nodes A", "nodes B", "ARI", "NMI"],
        [(v["level"], v["nodes_a"], v["nodes_b"], f"{v['ari']:.3f}", f"{v['nmi']:.3f}")
         for v in data["levels"]],
    )  # fmt: skip


@handled
@takes(DB_PATH, JSON_OR_XML)
def compare(
    run_a: Annotated[str, typer.Argument(help="The run before (see `runs`).")],
    run_b: Annotated[str, typer.Argument(help="The run after.")],
    threshold: Annotated[
        float,
        typer.Option(
            help="'Most of' a cluster, for merges and splits, and the Jaccard overlap a kept "
            "pair needs."
        ),
    ] = C.threshold,
    *,
    params: Params,
) -> None:
    """Match two runs' clusters by shared members: merged, split, new, vanished, renamed,
    ARI and NMI (overall and per hierarchy level), and the share of queries that moved."""
    from lmsys_tui.commands.progress import existing_store
    from lmsys_tui.core.insights.compare import compare_runs

    data = compare_runs(existing_store(params.db_path).db, C.from_params(params))
    emit(data, params, root="compare", table=lambda: _table(data))
