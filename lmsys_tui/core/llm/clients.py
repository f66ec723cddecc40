"""The structured call path: one session per pass, every answer through the ledger.

`LLMSession.ask` is the one path a request takes: ledger cache first, then the limiter
(concurrency + rpm + shared pause), the instructor call with SDK retries off, the ledger row
committed as the attempt completes, and retries with backoff / Retry-After. The SDKs are
imported only when a session makes its client (`providers.make_client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lmsys_tui.core.llm import ledger, pricing
from lmsys_tui.core.llm.budget import Budget, BudgetReached, require_price
from lmsys_tui.core.llm.limits import Limiter, RetryPolicy, classify
from lmsys_tui.core.llm.providers import make_client
from lmsys_tui.errors import Cancelled, NeedsKeyError, UsageError
from lmsys_tui.stage import CancelCheck, Progress

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lmsys_tui.core.llm.providers import ModelSpec
    from lmsys_tui.core.store.db import Store

T = TypeVar("T", bound="BaseModel")

TIMEOUT_ENV = "LMSYS_TUI_LLM_TIMEOUT"  # seconds per request (default 60)


class Stopped(Exception):
    """Raised instead of starting a request once the pass is stopping (cancelled)."""


class CallFailed(Exception):
    """One request that still failed after its retries; the pass records it and goes on."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts


@dataclass
class CallStats:
    requests: int = 0  # HTTP attempts made
    paid: int = 0  # attempts that returned a usable answer
    cached: int = 0  # answers served from the ledger
    errors: int = 0  # failed attempts (retried or not)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"cost_usd": round(self.cost_usd, 6)}


@functools.lru_cache(maxsize=64)
def _wrapped(model: type[BaseModel]) -> Any:
    """instructor's schema class for a response model, built once (instructor would build a
    new class on every call, ~3 ms each)."""
    import instructor

    return instructor.response_schema(model)


@functools.lru_cache(maxsize=64)
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """A response model's JSON schema (pydantic takes ~1 ms to build it: once per model)."""
    return model.model_json_schema()


def _usage(completion: Any) -> tuple[int | None, int | None]:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return None, None
    tin = getattr(usage, "prompt_tokens", None)
    tout = getattr(usage, "completion_tokens", None)
    if tin is None:
        tin = getattr(usage, "input_tokens", None)
        tout = getattr(usage, "output_tokens", None)
    return tin, tout


class CallLimits(Protocol):
    """The options every LLM stage takes for its calls (summarize, merge-clusters)."""

    concurrency: int
    rpm: float | None
    max_attempts: int | None
    request_timeout: float | None
    cluster_deadline: float
    budget_usd: float | None


@dataclass
class LLMSession:
    """One pass's use of one model, inside one asyncio loop; `async with` closes it."""

    store: Store
    spec: ModelSpec
    stage: str
    run_id: str | None = None
    concurrency: int = 8
    rpm: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 60.0  # per request
    deadline: float | None = None  # per call, its retries included: then CallFailed
    max_tokens: int = 2048
    stats: CallStats = field(default_factory=CallStats)
    budget: Budget | None = None  # --budget-usd: no request past it (see `budget`)

    def __post_init__(self) -> None:
        self.limiter = Limiter(self.concurrency, self.rpm)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmsys-llm-db")
        self._client: Any = None
        self._raw: Any = None
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._known_task: asyncio.Future[set[str]] | None = None
        self.stopping = False

    @classmethod
    def for_stage(
        cls, store: Store, spec: ModelSpec, stage: str, run_id: str, limits: CallLimits
    ) -> LLMSession:
        """A session paced, retried and timed as the stage's --concurrency, --rpm,
        --request-timeout and --cluster-deadline say (environment defaults for what they
        leave unset)."""
        return cls(
            store,
            spec,
            stage,
            run_id=run_id,
            concurrency=limits.concurrency,
            rpm=limits.rpm,
            retry=retry_policy(limits.max_attempts),
            timeout=request_timeout(limits.request_timeout),
            deadline=limits.cluster_deadline,
            budget=None
            if limits.budget_usd is None
            else Budget(limits.budget_usd, require_price(spec)),
        )

    async def __aenter__(self) -> LLMSession:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def stop(self) -> None:
        """Start no new request; those in flight finish and are recorded (they are paid)."""
        self.stopping = True
        self.limiter.stopped = True

    async def db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a store function on the single writer thread; the loop keeps serving replies."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    async def aclose(self) -> None:
        if self._raw is not None:
            # closing a client must never mask the pass's own outcome
            with contextlib.suppress(Exception):
                await self._raw.close()
        self._writer.shutdown(wait=True)

    async def ask(self, messages: list[dict[str, Any]], response_model: type[T]) -> T:
        """The validated answer; ledger first, so an identical prompt is never paid twice."""
        key = request_key(self.spec, messages, response_model)
        if key in self._inflight:  # the same prompt is being asked right now: share it
            data = await asyncio.shield(self._inflight[key])
            self.stats.cached += 1
            return response_model.model_validate(data)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        try:
            if self._known_task is None:  # once per session, shared by all first askers
                self._known_task = asyncio.ensure_future(
                    self.db(ledger.known_prefixes, self.store, self.spec.model)
                )
            known = await self._known_task
            data = None
            if key[: ledger.PREFIX] in known:
                data = await self.db(ledger.lookup, self.store, self.spec.model, key)
            if data is not None:
                self.stats.cached += 1
                value = response_model.model_validate(data)
            else:
                value = await self._answer(messages, response_model, key)
                data = value.model_dump(mode="json")
            future.set_result(data)
            return value
        except BaseException as exc:
            if not future.done():
                future.set_exception(
                    exc if isinstance(exc, Exception) else CallFailed("cancelled", 0)
                )
            raise
        finally:
            self._inflight.pop(key, None)

    async def _answer(self, messages: list[dict[str, Any]], response_model: type[T], key: str) -> T:
        """`_request` within the deadline: a server that accepts and never answers costs one
        cluster at most `deadline` seconds, then it is recorded failed and the pass goes on."""
        if self.deadline is None:
            return await self._request(messages, response_model, key)
        try:
            return await asyncio.wait_for(
                self._request(messages, response_model, key), self.deadline
            )
        except TimeoutError:
            raise CallFailed(f"no answer within the {self.deadline:g} s deadline", 0) from None

    async def _request(
        self, messages: list[dict[str, Any]], response_model: type[T], key: str
    ) -> T:
        if self._client is None:
            self._client, self._raw = make_client(self.spec, self.timeout, self.limiter.before_send)
        extra = {"max_tokens": self.max_tokens} if self.spec.provider == "anthropic" else {}
        attempt = 0
        while True:
            attempt += 1
            completion: Any = None
            value: Any = None
            failure = None
            async with self.limiter.slot():
                if self.stopping:
                    raise Stopped()
                reserved = self._reserve(messages, response_model)
                started = time.perf_counter()
                self.stats.requests += 1
                try:
                    value, completion = await self._client.create_with_completion(
                        model=self.spec.name,
                        messages=messages,
                        response_model=_wrapped(response_model),
                        max_retries=0,
                        **extra,
                    )
                except Exception as exc:
                    if self.stopping:  # stopped in the rpm wait: nothing was sent
                        raise Stopped() from exc
                    failure = classify(exc)
                    completion = getattr(exc, "last_completion", None)
                latency_ms = (time.perf_counter() - started) * 1000.0
            tin, tout = _usage(completion)
            cost = pricing.estimate_cost(self.spec.provider, self.spec.name, tin, tout)
            self.stats.tokens_in += tin or 0
            self.stats.tokens_out += tout or 0
            self.stats.cost_usd += cost or 0.0
            if self.budget is not None:
                self.budget.settle(reserved, cost, tout)
            await self.db(
                ledger.record,
                self.store,
                stage=self.stage,
                run_id=self.run_id,
                provider=self.spec.provider,
                model=self.spec.model,
                key=key,
                tokens_in=tin,
                tokens_out=tout,
                latency_ms=round(latency_ms, 1),
                cost_usd=cost,
                status="ok" if failure is None else "error",
                response=value.model_dump(mode="json") if failure is None else None,
                error=None if failure is None else failure.message,
            )
            if failure is None:
                self.stats.paid += 1
                if self._known_task is not None and self._known_task.done():
                    self._known_task.result().add(key[: ledger.PREFIX])
                return response_model.model_validate(value.model_dump(mode="json"))
            self.stats.errors += 1
            if failure.fatal == "key":
                raise NeedsKeyError(
                    f"{self.spec.provider} refused the key in {self.spec.key_env or 'the request'}"
                    f" (HTTP {failure.status})"
                )
            if failure.fatal == "model":
                raise UsageError(f"model {self.spec.name!r} not found ({failure.message})")
            if not failure.retryable or attempt >= self.retry.max_attempts:
                raise CallFailed(failure.message, attempt)
            if failure.retry_after is not None:
                self.limiter.pause(failure.retry_after)
            await asyncio.sleep(self.retry.delay(attempt, failure.retry_after))

    def _reserve(self, messages: list[dict[str, Any]], response_model: type[T]) -> float:
        """The budget's reservation for this request; past the budget the session stops."""
        if self.budget is None:
            return 0.0
        amount = self.budget.reserve(request_tokens(messages, response_model))
        if amount is None:
            self.stop()
            raise Stopped()
        return amount


def request_key(spec: ModelSpec, messages: list[dict[str, Any]], response_model: Any) -> str:
    """The ledger key of a request (what `ask` looks up before paying; dry runs too)."""
    params: dict[str, Any] = {"mode": spec.mode}
    if spec.endpoint is not None:  # the provider's own API keeps its earlier keys
        params["endpoint"] = spec.endpoint
    return ledger.prompt_hash(spec.model, messages, _schema(response_model), params)


def request_tokens(messages: list[dict[str, Any]], response_model: Any) -> int:
    """Estimated input tokens of a request: its messages and the schema sent with them."""
    return pricing.prompt_tokens(messages, _schema(response_model))


def request_timeout(value: float | None = None) -> float:
    return value if value is not None else float(os.environ.get(TIMEOUT_ENV, "60"))


def retry_policy(max_attempts: int | None = None, base_delay: float | None = None) -> RetryPolicy:
    """Retry settings; $LMSYS_TUI_LLM_RETRY_BASE and $LMSYS_TUI_LLM_MAX_ATTEMPTS override."""
    base = base_delay
    if base is None:
        base = float(os.environ.get("LMSYS_TUI_LLM_RETRY_BASE", "1.0"))
    attempts = max_attempts or int(os.environ.get("LMSYS_TUI_LLM_MAX_ATTEMPTS", "5"))
    return RetryPolicy(max_attempts=max(1, attempts), base_delay=base)


async def run_tasks(
    coros: list[Any], session: LLMSession, progress: Progress, cancelled: CancelCheck, what: str
) -> None:
    """Run coroutines concurrently (the session's limiter paces their requests); `what` is the
    message a cancel raises.

    Cancellation is checked four times a second. A cancelled pass starts no new request but
    lets those in flight finish and be recorded, since they are paid for either way. A fatal
    error (a refused key, an unknown model) stops everything at once, since every other
    request would fail the same way.
    """
    total = len(coros)
    tasks = {asyncio.ensure_future(c) for c in coros}
    finished = 0
    try:
        while tasks:
            done, tasks = await asyncio.wait(
                tasks, timeout=0.25, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                finished += 1
                exc = task.exception()
                if isinstance(exc, Stopped) and session.budget and session.budget.reached:
                    for other in done:
                        other.exception()  # stopped too, or answered: retrieved either way
                    await asyncio.gather(*tasks, return_exceptions=True)  # in flight: paid
                    raise BudgetReached(session.budget.stopped_message(what))
                if exc is not None:
                    raise exc
            progress(finished, total, f"{session.stats.paid} paid, {session.stats.cached} cached")
            if cancelled():
                session.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise Cancelled(what)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
