"""The LLM layer against a real HTTP server on 127.0.0.1, through the real SDKs and instructor.

The server (tests/llm_server.py) replaces only the model: requests are built by the openai and
anthropic SDKs, structured answers parsed by instructor, and every fault (429 + Retry-After,
500, a malformed body, a slow reply, a refused key) arrives as real HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from llm_server import LLMServer
from pydantic import BaseModel

from lmsys_tui.core.llm import ledger
from lmsys_tui.core.llm.clients import CallFailed, LLMSession
from lmsys_tui.core.llm.limits import RetryPolicy, retry_after_seconds
from lmsys_tui.core.llm.providers import default_model, resolve_model
from lmsys_tui.errors import NeedsKeyError, UsageError


class ClusterSummaryAnswer(BaseModel):
    title: str
    description: str
    coherence: int


PROVIDERS = {
    "openai": ("openai/gpt-4o-mini", "OPENAI_BASE_URL", "openai_url", "OPENAI_API_KEY"),
    "anthropic": (
        "anthropic/claude-haiku-4-5",
        "ANTHROPIC_BASE_URL",
        "anthropic_url",
        "ANTHROPIC_API_KEY",
    ),
}


def _use(monkeypatch, server: LLMServer, provider: str) -> str:
    model, url_env, url_attr, key_env = PROVIDERS[provider]
    monkeypatch.setenv(url_env, getattr(server, url_attr))
    monkeypatch.setenv(key_env, "test-key")
    return model


def _messages(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "summarise"},
        {
            "role": "user",
            "content": f"<cluster_queries><query>python pandas {i}</query>"
            "<query>python numpy</query></cluster_queries>",
        },
    ]


def _session(store, model: str, **kw) -> LLMSession:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.05))
    return LLMSession(store, resolve_model(model), "test", run_id="r1", **kw)


def _ask_all(session: LLMSession, prompts: list[list[dict[str, str]]]) -> list[BaseModel]:
    async def main() -> list[BaseModel]:
        try:
            return await asyncio.gather(*(session.ask(m, ClusterSummaryAnswer) for m in prompts))
        finally:
            await session.aclose()

    return asyncio.run(main())


def _ledger(store) -> list[tuple]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(
            "SELECT status, prompt_hash, tokens_in, tokens_out, error, response, cost_usd"
            " FROM llm_calls ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


# ----------------------------------------------------------------------------- model strings


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(NeedsKeyError, match="ANTHROPIC_API_KEY"):
        resolve_model("anthropic/claude-3-haiku-20240307")
    with pytest.raises(NeedsKeyError, match="GROQ_API_KEY"):
        resolve_model("groq/llama-3.1-8b-instant")
    assert default_model() == "offline/ctfidf"  # no key anywhere: the offline summariser


def test_model_strings(monkeypatch) -> None:
    ollama = resolve_model("ollama/llama3")
    assert (ollama.base_url, ollama.key_required, ollama.mode) == (
        "http://localhost:11434/v1",
        False,
        "json",
    )
    local = resolve_model("vllm/qwen", base_url="http://127.0.0.1:9/v1")
    assert (local.provider, local.name, local.base_url) == (
        "compat",
        "qwen",
        "http://127.0.0.1:9/v1",
    )
    with pytest.raises(UsageError, match="base-url"):
        resolve_model("vllm/qwen")
    with pytest.raises(UsageError, match="provider/name"):
        resolve_model("gpt4")
    assert resolve_model("offline").offline
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert default_model().startswith("openai/")


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_seconds({"retry-after": when}) <= 30
    assert retry_after_seconds({}) is None


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_faults_are_retried_and_every_attempt_is_in_the_ledger(
    store, server, monkeypatch, provider
) -> None:
    model = _use(monkeypatch, server, provider)
    server.fail_next("429", retry_after=1)
    server.fail_next("500")
    server.fail_next("malformed")
    server.fail_next("slow", delay=1.0)
    session = _session(
        store, model, timeout=0.4, retry=RetryPolicy(max_attempts=6, base_delay=0.05)
    )
    [answer] = _ask_all(session, [_messages(1)])
    assert answer.title.endswith("requests") and answer.coherence == 4
    hits = sorted(server.wait_hits(5), key=lambda h: h.t)  # by arrival (the slow one ends last)
    assert [h.outcome for h in hits] == ["429", "500", "malformed", "slow", "ok"]
    # Retry-After: 1 was honoured: the next attempt started a second after the 429 arrived
    assert hits[1].t - hits[0].t_end >= 0.95
    rows = _ledger(store)
    assert [r[0] for r in rows] == ["error"] * 4 + ["ok"]
    assert len({r[1] for r in rows}) == 1  # one prompt, five attempts
    assert "429" in rows[0][4] and "500" in rows[1][4]
    assert rows[-1][2] > 0 and rows[-1][3] > 0 and rows[-1][6] > 0  # tokens and a cost estimate
    assert session.stats.paid == 1 and session.stats.errors == 4


def test_an_identical_prompt_is_served_from_the_ledger(store, server, monkeypatch) -> None:
    model = _use(monkeypatch, server, "openai")
    first = _ask_all(_session(store, model), [_messages(1), _messages(2)])
    again = _ask_all(_session(store, model), [_messages(1), _messages(2), _messages(1)])
    assert [a.title for a in again[:2]] == [a.title for a in first]
    assert len(server.hits) == 2  # the second session paid nothing
    assert [r[0] for r in _ledger(store)] == ["ok", "ok"]
    assert ledger.totals(store)["distinct_prompts"] == 2


def test_a_request_that_keeps_failing_is_a_call_failure(store, server, monkeypatch) -> None:
    model = _use(monkeypatch, server, "anthropic")
    server.fail_next("500", times=3)
    session = _session(store, model, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    with pytest.raises(CallFailed, match="500"):
        _ask_all(session, [_messages(1)])
    assert [r[0] for r in _ledger(store)] == ["error"] * 3


def test_a_refused_key_stops_at_once(store, server, monkeypatch) -> None:
    model = _use(monkeypatch, server, "openai")
    server.fail_next("401")
    with pytest.raises(NeedsKeyError, match="OPENAI_API_KEY"):
        _ask_all(_session(store, model), [_messages(1)])
    assert len(server.hits) == 1  # no retry of a refused key


@pytest.mark.parametrize("model", ["ollama/llama3", "vllm/qwen2"])
def test_openai_compatible_servers_answer_in_json_mode(store, server, model) -> None:
    """Ollama, vLLM, llama.cpp: no key, the base URL given, JSON mode (no tool calling)."""
    spec = resolve_model(model, base_url=server.openai_url)
    assert spec.mode == "json" and not spec.key_required
    session = LLMSession(store, spec, "test", retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    [answer] = _ask_all(session, [_messages(1)])
    assert answer.title.endswith("requests") and answer.coherence == 4
    [hit] = server.hits
    assert hit.task == "ClusterSummaryAnswer"  # found in the schema instructor put in the prompt
    assert _ledger(store)[0][0] == "ok"


# ----------------------------------------------------------------------------- limits


def test_rpm_spaces_request_starts(store, server, monkeypatch) -> None:
    model = _use(monkeypatch, server, "openai")
    session = _session(store, model, concurrency=6, rpm=120)  # one start per 0.5 s
    _ask_all(session, [_messages(i) for i in range(5)])
    starts = sorted(h.t for h in server.hits)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 5
    assert min(gaps) >= 0.45, gaps  # measured at the server


def test_concurrency_caps_requests_in_flight(store, server, monkeypatch) -> None:
    model = _use(monkeypatch, server, "openai")
    server.state.latency = 0.2
    _ask_all(_session(store, model, concurrency=2), [_messages(i) for i in range(6)])
    hits = server.hits
    peak = max(sum(1 for o in hits if o.t <= h.t < o.t_end) for h in hits)
    assert len(hits) == 6 and peak == 2
