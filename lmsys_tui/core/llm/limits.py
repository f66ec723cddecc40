"""Rate limits that are really enforced, and retries that honour Retry-After.

The reference accepted `--rpm` and ignored it, and retried without reading Retry-After. Here
every HTTP attempt (first tries and retries alike) passes through one `Limiter`: a semaphore
caps how many are in flight, and request starts are spaced at least 60/rpm seconds apart, so
no 60-second window ever holds more than `rpm` starts. A 429 with Retry-After pauses every
worker, not just the one that was told, because the provider's limit is shared.

The spacing is enforced in an httpx request hook, at the moment each request is sent. The
SDKs' own retries are switched off (max_retries=0) so each attempt is seen, limited and
written to the ledger here. Errors are classified by duck typing (status code, headers,
exception names) so this module imports no SDK.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from lmsys_tui.errors import first_line


class Limiter:
    """Concurrency cap + even rpm spacing + a shared pause, for one asyncio event loop."""

    def __init__(
        self,
        concurrency: int,
        rpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency = max(1, int(concurrency))
        self.interval = 60.0 / rpm if rpm else 0.0
        self._clock = clock
        self._next_start = 0.0
        self._paused_until = 0.0
        self._sem: asyncio.Semaphore | None = None
        self.stopped = False

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the concurrent slots for a whole attempt."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        async with self._sem:
            yield

    async def before_send(self, _request: Any = None) -> None:
        """httpx request hook: wait for the rpm turn (and any pause) right before the send.

        Spacing is applied here, after the SDK and instructor have built the request, so the
        time between requests on the wire is what is limited, not the time between permits.
        """
        await self.wait_turn()
        if self.stopped:
            raise RuntimeError("the pass is stopping: request not sent")

    async def wait_turn(self) -> None:
        while True:
            now = self._clock()
            start = max(now, self._next_start, self._paused_until)
            if start <= now:
                self._next_start = now + self.interval
                return
            # reserve nothing while waiting: a pause may move, so look again after the sleep
            await asyncio.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """Nobody starts a request for `seconds` (a provider said Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return max(retry_after, 0.0)  # the provider said when; earlier is wasted
        backoff = self.base_delay * (2 ** (attempt - 1))
        return min(self.max_delay, backoff) * (0.5 + random.random() / 2)


def retry_after_seconds(headers: Any) -> float | None:
    """Retry-After (seconds or HTTP date) or OpenAI's retry-after-ms, if the response has one."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000.0
        raw = headers.get("retry-after")
    except AttributeError:
        return None
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class Failure:
    """What one failed attempt means for the caller."""

    message: str
    retryable: bool
    fatal: str | None = None  # "key" (401/403) or "model" (404): stop the whole pass
    retry_after: float | None = None
    status: int | None = None


def classify(exc: BaseException) -> Failure:
    """Map an SDK / instructor exception (or its cause) to retry decisions."""
    inner = exc
    # instructor wraps the provider error; the cause carries the status and headers
    while getattr(inner, "__cause__", None) is not None and not hasattr(inner, "status_code"):
        inner = inner.__cause__  # type: ignore[assignment]
    name = type(inner).__name__
    status = getattr(inner, "status_code", None)
    response = getattr(inner, "response", None)
    headers = getattr(response, "headers", None)
    message = f"{name}: {first_line(inner)}"
    if status is not None:
        if status in (401, 403):
            return Failure(message, retryable=False, fatal="key", status=status)
        if status == 404:
            return Failure(message, retryable=False, fatal="model", status=status)
        if status in (408, 409, 429) or status >= 500:
            return Failure(message, True, retry_after=retry_after_seconds(headers), status=status)
        return Failure(message, retryable=False, status=status)
    # no status: timeouts, connection errors, malformed bodies, schema validation failures
    return Failure(message, retryable=True)
