"""Cost control for the LLM stages: a spending cap per invocation, and dry-run estimates.

`--budget-usd`: before each request the session reserves the request's estimated cost
(prompt tokens counted from the real messages, answer tokens as the session's answers averaged
so far); a request that would take the spend past the cap is not sent, and the pass stops as a
cancel does: the answers in flight finish and are recorded, the pass says it stopped at the
budget and how to continue. Answers served from the ledger cost nothing, so `--resume`
continues without paying twice. The spend counted is this invocation's (the run's spend per
stage is in the ledger: `spend_by_stage`).

`--dry-run`: the stage builds its real prompts, and `estimate` prices them, telling apart those
the ledger already answered (free on a real run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.llm import pricing
from lmsys_tui.core.store import sql
from lmsys_tui.errors import Cancelled, UsageError

if TYPE_CHECKING:
    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.store.db import Store

ANSWER_TOKENS = 250  # answer tokens guessed for a call before any answer was seen


class BudgetReached(Cancelled):
    """The pass stopped before a request that would have passed `--budget-usd`."""


def require_price(spec: ModelSpec) -> tuple[float, float]:
    found = pricing.price(spec.provider, spec.name)
    if found is None:
        raise UsageError(
            f"no price is known for {spec.model!r}, so --budget-usd cannot be kept "
            "(prices: lmsys_tui/core/llm/pricing.py)"
        )
    return found


@dataclass
class Budget:
    """The cap of one invocation and what it has spent and reserved so far."""

    limit_usd: float
    prices: tuple[float, float]  # USD per million tokens (input, output)
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    answers: int = 0
    answer_tokens: int = 0
    reached: bool = False

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.prices[0] + tokens_out * self.prices[1]) / 1e6

    def expected_answer(self) -> int:
        return round(self.answer_tokens / self.answers) if self.answers else ANSWER_TOKENS

    def reserve(self, tokens_in: int) -> float | None:
        """The amount reserved for a request of `tokens_in` prompt tokens, or None (and
        `reached`) when it would take the spend past the cap."""
        amount = self.cost(tokens_in, self.expected_answer())
        if self.spent_usd + self.reserved_usd + amount > self.limit_usd:
            self.reached = True
            return None
        self.reserved_usd += amount
        return amount

    def settle(self, reserved: float, cost: float | None, tokens_out: int | None) -> None:
        """A request came back: its reservation becomes its real cost (the reservation itself
        when the server said nothing about tokens)."""
        self.reserved_usd = max(0.0, self.reserved_usd - reserved)
        self.spent_usd += reserved if cost is None else cost
        if tokens_out:
            self.answers += 1
            self.answer_tokens += tokens_out

    def stopped_message(self, what: str) -> str:
        """`what` ("<stage> cancelled; continue with --resume X") said of the budget."""
        said = f"stopped at --budget-usd {self.limit_usd:g} (${self.spent_usd:.6f} spent)"
        return what.replace("cancelled", said, 1)


@dataclass
class Estimate:
    """What a stage would ask: calls, tokens and dollars (None: the model has no price)."""

    model: str
    calls: int = 0
    cached: int = 0  # calls the ledger already answered: free
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, tokens_in: int, tokens_out: int, *, cached: bool = False, n: int = 1) -> None:
        if cached:
            self.cached += n
            return
        self.calls += n
        self.tokens_in += tokens_in * n
        self.tokens_out += tokens_out * n

    def priced(self, spec: ModelSpec) -> Estimate:
        self.cost_usd = pricing.estimate_cost(
            spec.provider, spec.name, self.tokens_in, self.tokens_out
        )
        if self.cost_usd is not None:
            self.cost_usd = round(self.cost_usd, 6)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def message(self) -> str:
        cost = "unknown cost" if self.cost_usd is None else f"~${self.cost_usd:.4f}"
        return (
            f"dry run: {self.calls} calls to {self.model}, ~{self.tokens_in:,} tokens in and "
            f"~{self.tokens_out:,} out, {cost}; {self.cached} already in the ledger (free)"
        )


def answer_tokens(store: Store, model: str, stage: str) -> int:
    """Answer tokens expected per call: the ledger's average for this model and stage, else
    a guess (`ANSWER_TOKENS`)."""
    with sql.connection(store) as conn:
        found = sql.scalar(
            conn,
            "SELECT AVG(tokens_out) FROM llm_calls WHERE model = ? AND stage = ?"
            " AND status = 'ok' AND tokens_out IS NOT NULL",
            (model, stage),
        )
    return round(found) if found else ANSWER_TOKENS


def is_answered(store: Store, model: str, key: str) -> bool:
    """The ledger holds an answer to this request: a real run would not pay for it."""
    from lmsys_tui.core.llm import ledger

    return ledger.lookup(store, model, key) is not None


def spend_by_stage(store: Store | Path, run_id: str) -> list[dict[str, Any]]:
    """A run's LLM spend per stage and model from the ledger: calls, tokens, dollars
    (`store`: an open store, or the store's path, read-only)."""
    with sql.reader(Path(getattr(store, "path", store))) as conn:
        return sql.rows(
            conn,
            "SELECT stage, model, COUNT(*) AS calls, SUM(status = 'ok') AS ok,"
            " COALESCE(SUM(tokens_in), 0) AS tokens_in, COALESCE(SUM(tokens_out), 0)"
            " AS tokens_out, ROUND(COALESCE(SUM(cost_usd), 0), 6) AS cost_usd FROM llm_calls"
            " WHERE run_id = ? GROUP BY stage, model ORDER BY stage, model",
            (run_id,),
        )


def spend_line(spend: list[dict[str, Any]]) -> str:
    """A run's spend per stage on one line ("" when it made no LLM call)."""
    stages: dict[str, list[float]] = {}
    for r in spend:
        got = stages.setdefault(str(r["stage"]), [0, 0.0])
        got[0] += r["calls"]
        got[1] += r["cost_usd"] or 0.0
    return ", ".join(f"{k} ${cost:.4f} ({int(n)} calls)" for k, (n, cost) in stages.items())
