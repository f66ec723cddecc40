"""LLM clients: model strings, keys from the environment, and the structured call path.

Model strings follow the reference: `anthropic/<model>`, `openai/<model>`, `groq/<model>`,
`ollama/<model>` (local server, default URL), or any `<provider>/<model>` with `--base-url` (or
$LMSYS_TUI_LLM_BASE_URL) for OpenAI-compatible servers such as vLLM or llama.cpp. `offline`
(or `offline/ctfidf`) names the offline summariser, which is also the default with no key set.

Keys come from the environment only and are never stored. `LLMSession.ask` is the one path a
request takes: ledger cache first, then the limiter (concurrency + rpm + shared pause), the
instructor call with SDK retries off, the ledger row committed as the attempt completes, and
retries with backoff / Retry-After. The SDKs are imported only when a session makes a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from lmsys_tui.core.llm import ledger
from lmsys_tui.core.llm.limits import Limiter, RetryPolicy, classify
from lmsys_tui.core.llm.offline import OFFLINE_MODEL
from lmsys_tui.errors import Cancelled, NeedsKeyError, UsageError
from lmsys_tui.stage import CancelCheck, Progress

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lmsys_tui.core.store.db import Store

T = TypeVar("T", bound="BaseModel")

BASE_URL_ENV = "LMSYS_TUI_LLM_BASE_URL"
COMPAT_KEY_ENV = "LMSYS_TUI_LLM_API_KEY"
MODE_ENV = "LMSYS_TUI_LLM_MODE"  # tools | json, for OpenAI-compatible servers
TIMEOUT_ENV = "LMSYS_TUI_LLM_TIMEOUT"  # seconds per request (default 120)
DEFAULT_MODELS = {
    "ANTHROPIC_API_KEY": "anthropic/claude-sonnet-4-5-20250929",
    "OPENAI_API_KEY": "openai/gpt-4o-mini",
}
GROQ_URL = "https://api.groq.com/openai/v1"
OLLAMA_URL = "http://localhost:11434/v1"


@dataclass(frozen=True)
class ModelSpec:
    model: str  # as the user wrote it; the ledger's model column
    provider: str  # anthropic | openai | groq | ollama | compat | offline
    name: str  # the model name sent to the API
    base_url: str | None = None
    key_env: str | None = None
    key_required: bool = True
    mode: str = "tools"  # tools | json | anthropic_tools

    @property
    def offline(self) -> bool:
        return self.provider == "offline"


def default_model() -> str:
    """The first provider with a key in the environment, else the offline summariser."""
    for env, model in DEFAULT_MODELS.items():
        if os.environ.get(env):
            return model
    return OFFLINE_MODEL


def resolve_model(model: str | None, base_url: str | None = None) -> ModelSpec:
    """Parse a model string; a missing key is a NeedsKeyError naming the variable."""
    model = (model or default_model()).strip()
    if model in {"offline", OFFLINE_MODEL} or model.startswith("offline/"):
        return ModelSpec(OFFLINE_MODEL, "offline", "ctfidf", key_required=False, mode="offline")
    provider, _, name = model.partition("/")
    if not name or not provider:
        raise UsageError(
            f"--model must look like provider/name (anthropic/…, openai/…, groq/…, ollama/…), "
            f"not {model!r}"
        )
    base_url = base_url or os.environ.get(BASE_URL_ENV) or None
    custom = base_url is not None
    mode = os.environ.get(MODE_ENV)
    if mode is not None and mode not in {"tools", "json"}:
        raise UsageError(f"${MODE_ENV} must be tools or json, not {mode!r}")
    if provider == "anthropic":
        spec = ModelSpec(
            model, provider, name, base_url, "ANTHROPIC_API_KEY", True, "anthropic_tools"
        )
    elif provider == "openai":
        spec = ModelSpec(
            model, provider, name, base_url, "OPENAI_API_KEY", not custom, mode or "tools"
        )
    elif provider == "groq":
        spec = ModelSpec(
            model, provider, name, base_url or GROQ_URL, "GROQ_API_KEY", not custom, mode or "tools"
        )
    elif provider == "ollama":
        url = base_url or os.environ.get("OLLAMA_BASE_URL") or OLLAMA_URL
        spec = ModelSpec(model, provider, name, url, None, False, mode or "json")
    elif custom:
        spec = ModelSpec(model, "compat", name, base_url, COMPAT_KEY_ENV, False, mode or "json")
    else:
        raise UsageError(
            f"unknown provider {provider!r}: use anthropic/, openai/, groq/, ollama/ "
            f"or give --base-url (or ${BASE_URL_ENV}) for an OpenAI-compatible server"
        )
    api_key(spec)  # fail now, before any run row is written
    return spec


def api_key(spec: ModelSpec) -> str | None:
    key = os.environ.get(spec.key_env) if spec.key_env else None
    if spec.key_required and not key:
        raise NeedsKeyError(f"{spec.key_env} is not set (needed for --model {spec.model})")
    return key


def make_client(spec: ModelSpec, timeout: float, before_send: Any = None) -> tuple[Any, Any]:
    """(instructor async client, raw SDK client) with the SDK's own retries off.

    `before_send` becomes an httpx request hook (the rate limiter waits there).
    """
    import logging

    import instructor

    # instructor logs every failed attempt at ERROR; we record them in the ledger instead,
    # and stderr stays quiet unless -v configured logging
    logging.getLogger("instructor").addHandler(logging.NullHandler())

    key = api_key(spec)
    hooks = {"request": [before_send]} if before_send is not None else {}
    if spec.provider == "anthropic":
        import anthropic

        raw = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=spec.base_url,
            max_retries=0,
            timeout=timeout,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=hooks),
        )
        return instructor.from_anthropic(raw, mode=instructor.Mode.TOOLS), raw
    import openai

    raw = openai.AsyncOpenAI(
        api_key=key or "not-needed",
        base_url=spec.base_url,
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultAsyncHttpxClient(event_hooks=hooks),
    )
    mode = instructor.Mode.JSON if spec.mode == "json" else instructor.Mode.TOOLS
    return instructor.from_openai(raw, mode=mode), raw


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


@dataclass
class LLMSession:
    """One pass's use of one model, inside one asyncio loop (see `run`)."""

    store: Store
    spec: ModelSpec
    stage: str
    run_id: str | None = None
    concurrency: int = 8
    rpm: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 120.0
    max_tokens: int = 2048
    stats: CallStats = field(default_factory=CallStats)

    def __post_init__(self) -> None:
        self.limiter = Limiter(self.concurrency, self.rpm)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmsys-llm-db")
        self._client: Any = None
        self._raw: Any = None
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._known_task: asyncio.Future[set[str]] | None = None
        self.stopping = False

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
        schema = _schema(response_model)
        key = ledger.prompt_hash(self.spec.model, messages, schema, {"mode": self.spec.mode})
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
                value = await self._request(messages, response_model, key)
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
            cost = ledger.estimate_cost(self.spec.provider, self.spec.name, tin, tout)
            self.stats.tokens_in += tin or 0
            self.stats.tokens_out += tout or 0
            self.stats.cost_usd += cost or 0.0
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


def request_timeout(value: float | None = None) -> float:
    return value if value is not None else float(os.environ.get(TIMEOUT_ENV, "120"))


def retry_policy(max_attempts: int | None = None, base_delay: float | None = None) -> RetryPolicy:
    """Retry settings; $LMSYS_TUI_LLM_RETRY_BASE and $LMSYS_TUI_LLM_MAX_ATTEMPTS override."""
    base = base_delay
    if base is None:
        base = float(os.environ.get("LMSYS_TUI_LLM_RETRY_BASE", "1.0"))
    attempts = max_attempts or int(os.environ.get("LMSYS_TUI_LLM_MAX_ATTEMPTS", "5"))
    return RetryPolicy(max_attempts=max(1, attempts), base_delay=base)


async def run_tasks(
    coros: list[Any],
    session: LLMSession,
    progress: Progress,
    cancelled: CancelCheck,
    total: int,
    what: str,
) -> None:
    """Run coroutines concurrently (the session's limiter paces their requests).

    Cancellation is checked four times a second. A cancelled pass starts no new request but
    lets those in flight finish and be recorded, since they are paid for either way. A fatal
    error (a refused key, an unknown model) stops everything at once, since every other
    request would fail the same way.
    """
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
