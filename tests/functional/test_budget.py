"""Cost control against the local LLM server (tests/llm_server.py, real SDKs over HTTP; it
reports usage tokens as a provider does): --dry-run prices the real prompts and asks nothing;
--budget-usd stops the pass at the budget, says so, and --resume finishes it paying nothing
twice. The store is the `db` fixture's real k-means run (30 clusters of ShareGPT turns).
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import summary_fixtures as fx
from conftest import db_rows, run_cli

from lmsys_tui.core.hierarchy.estimate import estimate_merge
from lmsys_tui.core.hierarchy.options import MergeOptions
from lmsys_tui.core.llm.budget import spend_by_stage
from lmsys_tui.core.summarize import run_summarize
from lmsys_tui.core.summarize.estimate import estimate_summarize
from lmsys_tui.core.summarize.options import SummarizeOptions
from lmsys_tui.errors import Cancelled, UsageError

MODEL = "openai/gpt-4o-mini"  # in the price table: $0.15 / $0.60 per million tokens


@pytest.fixture
def llm(server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("LMSYS_TUI_LLM_RETRY_BASE", "0.01")
    return {"model": MODEL, "base_url": server.openai_url}


def test_dry_run_prices_the_real_prompts_and_asks_nothing(cstore, db: Path, llm, server) -> None:
    estimate = estimate_summarize(cstore, fx.RUN_ID, SummarizeOptions(**llm))
    assert estimate.calls == fx.N_CLUSTERS and estimate.cached == 0
    assert estimate.tokens_in > fx.N_CLUSTERS * 200 and estimate.cost_usd > 0
    expected = (estimate.tokens_in * 0.15 + estimate.tokens_out * 0.6) / 1e6
    assert estimate.cost_usd == pytest.approx(expected, rel=1e-3)
    assert not server.hits and not db_rows(db, "SELECT * FROM summary_runs")
    assert not db_rows(db, "SELECT * FROM llm_calls")

    done = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(**llm, cluster_ids=[0, 1, 2]))
    assert done.done == 3
    # the estimate was close to what the server billed (its usage tokens, in the ledger)
    (tin,) = db_rows(db, "SELECT SUM(tokens_in) / COUNT(*) FROM llm_calls")[0]
    assert 0.5 < estimate.tokens_in / fx.N_CLUSTERS / tin < 2.0
    again = estimate_summarize(cstore, fx.RUN_ID, SummarizeOptions(**llm))
    assert (again.calls, again.cached) == (fx.N_CLUSTERS - 3, 3)


def test_budget_stops_the_pass_and_resume_finishes_without_paying_twice(
    cstore, db: Path, llm, server
) -> None:
    per_call = estimate_summarize(cstore, fx.RUN_ID, SummarizeOptions(**llm)).cost_usd / 30
    budget = per_call * 5.5
    opts = SummarizeOptions(**llm, budget_usd=budget, concurrency=1)
    with pytest.raises(Cancelled, match="stopped at --budget-usd") as stopped:
        run_summarize(cstore, fx.RUN_ID, opts)
    assert "--resume" in stopped.value.message
    ((srid, status, error),) = db_rows(db, "SELECT summary_run_id, status, error FROM summary_runs")
    assert status == "cancelled" and "budget" in error
    spent = spend_by_stage(cstore, fx.RUN_ID)
    assert len(spent) == 1 and spent[0]["stage"] == "summarize"
    assert 0 < spent[0]["cost_usd"] <= budget
    done = db_rows(db, "SELECT COUNT(*) FROM cluster_summaries WHERE status = 'done'")[0][0]
    assert 2 <= done <= 6 and done == spent[0]["calls"]

    finished = run_summarize(cstore, fx.RUN_ID, SummarizeOptions(**llm, resume=srid))
    assert finished.status == "done" and finished.skipped == done
    assert finished.done == fx.N_CLUSTERS - done
    assert max(server.paid().values()) == 1 and len(server.paid()) == fx.N_CLUSTERS


def test_budget_needs_a_known_price(cstore, db: Path, llm) -> None:
    with pytest.raises(UsageError, match="no price is known"):
        SummarizeOptions(model="openai/my-local-model", budget_usd=1.0)
    with pytest.raises(UsageError, match="no price is known"):
        MergeOptions(model="vllm/qwen", base_url=llm["base_url"], budget_usd=1.0)
    assert SummarizeOptions(model="ollama/llama3", budget_usd=1.0).budget_usd == 1.0  # free
    assert not db_rows(db, "SELECT * FROM summary_runs")
    with pytest.raises(UsageError, match="--budget-usd must be a positive number"):
        SummarizeOptions(budget_usd=0)


def test_merge_dry_run_counts_every_step(cstore, llm) -> None:
    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model="offline"))
    estimate = estimate_merge(cstore, fx.RUN_ID, MergeOptions(**llm, target_levels=3))
    # the level sizes the stage chooses from the data, then per level: proposals, dedupes, one
    # assignment per child, one rename per parent
    sizes = [int(n) for n in estimate.notes[0].removeprefix("levels ").split(" -> ")]
    assert sizes[0] == 30 and len(sizes) == 3 and sizes == sorted(sizes, reverse=True)
    assert estimate.calls == sum(1 + 1 + kids + parents for kids, parents in pairwise(sizes))
    assert estimate.cost_usd > 0
    offline = estimate_merge(cstore, fx.RUN_ID, MergeOptions(model="offline"))
    assert offline.calls == 0 and offline.cost_usd == 0.0


def test_dry_run_command(db: Path, cli_env: dict[str, str], server) -> None:
    env = cli_env | {"OPENAI_API_KEY": "test-key"}
    out = run_cli(
        ["--headless", "summarize", fx.RUN_ID, "--model", MODEL, "--base-url", server.openai_url,
         "--dry-run", "--json"],
        env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["calls"] == fx.N_CLUSTERS and data["cost_usd"] > 0 and not server.hits
    people = run_cli(["--headless", "summarize", fx.RUN_ID, "--model", "offline", "--dry-run"],
                     env)  # fmt: skip
    assert people.returncode == 0 and "dry run: 0 calls" in people.stderr


def test_merge_budget_stops_and_resume_finishes(cstore, db: Path, llm, server) -> None:
    from lmsys_tui.core.hierarchy.merge import run_merge

    run_summarize(cstore, fx.RUN_ID, SummarizeOptions(model="offline"))
    estimate = estimate_merge(cstore, fx.RUN_ID, MergeOptions(**llm))
    budget = estimate.cost_usd * 0.06  # the first proposal and a few more calls
    with pytest.raises(Cancelled, match="stopped at --budget-usd"):
        run_merge(cstore, fx.RUN_ID, MergeOptions(**llm, budget_usd=budget, concurrency=1))
    ((hier_id, status, error),) = db_rows(
        db, "SELECT hierarchy_run_id, status, error FROM hierarchy_runs"
    )
    assert status == "cancelled" and "budget" in error and f"--resume {hier_id}" in error
    (spent,) = [s for s in spend_by_stage(cstore, fx.RUN_ID) if s["stage"] == "merge"]
    assert 0 < spent["cost_usd"] <= budget
    done = run_merge(cstore, fx.RUN_ID, MergeOptions(**llm, resume=hier_id))
    assert done.status == "done"
    assert max(server.paid().values()) == 1  # nothing paid twice
