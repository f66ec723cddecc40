"""Model strings, API keys and SDK clients: which provider a `--model` names and how to reach it.

Model strings follow the reference: `anthropic/<model>`, `openai/<model>`, `groq/<model>`,
`ollama/<model>` (local server, default URL), or any `<provider>/<model>` with `--base-url` (or
$LMSYS_TUI_LLM_BASE_URL) for OpenAI-compatible servers such as vLLM or llama.cpp. `offline`
(or `offline/ctfidf`) names the offline summariser, which is also the default with no key set.
Keys come from the environment only and are never stored. The SDKs are imported only when
`make_client` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from lmsys_tui.core.llm.offline import OFFLINE_MODEL
from lmsys_tui.errors import NeedsKeyError, UsageError

BASE_URL_ENV = "LMSYS_TUI_LLM_BASE_URL"
COMPAT_KEY_ENV = "LMSYS_TUI_LLM_API_KEY"
MODE_ENV = "LMSYS_TUI_LLM_MODE"  # tools | json, for OpenAI-compatible servers
DEFAULT_MODELS = {
    "ANTHROPIC_API_KEY": "anthropic/claude-sonnet-4-5-20250929",
    "OPENAI_API_KEY": "openai/gpt-4o-mini",
}
SDK_URL_ENV = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}  # read by the SDKs
REDACTED = "***"  # a password's place in a stored or printed URL
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

    @property
    def endpoint(self) -> str | None:
        """Where the requests go, any password redacted; None for the provider's own API.

        Part of the ledger's cache key, so one server's answers never serve another (a dead
        --base-url is never "answered" from the cache); the SDK's own URL variable counts too.
        """
        url = self.base_url or os.environ.get(SDK_URL_ENV.get(self.provider, ""), "")
        return redact_url(url) if url else None


def stored_url(url: str | None) -> str | None:
    """A --base-url as a pass stores it: its password redacted (see `redact_url`)."""
    return None if url is None else redact_url(url)


def resumed_url(saved: str | None, given: str | None) -> str | None:
    """The --base-url a resumed pass uses: the one it was made with. A password was never
    stored, so it must come again with --base-url (the same URL, password redacted)."""
    if given is not None and stored_url(given) == saved:
        return given
    if saved is not None and urlsplit(saved).password == REDACTED:
        raise UsageError(
            f"this pass was made with a password in --base-url ({saved}), which is never "
            "stored: give --base-url again to resume it"
        )
    return saved


def redact_url(url: str) -> str:
    """`url` with the password of its user info (`http://user:secret@host`) shown as ***: what
    is stored in a pass's parameters, printed and hashed. The real URL stays in memory only."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{hostport}"))


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
    base_url, auth = split_credentials(spec.base_url)
    if spec.provider == "anthropic":
        import anthropic

        raw = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=hooks, auth=auth),
        )
        return instructor.from_anthropic(raw, mode=instructor.Mode.TOOLS), raw
    import openai

    raw = openai.AsyncOpenAI(
        api_key=key or "not-needed",
        base_url=base_url,
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultAsyncHttpxClient(event_hooks=hooks, auth=auth),
    )
    mode = instructor.Mode.JSON if spec.mode == "json" else instructor.Mode.TOOLS
    return instructor.from_openai(raw, mode=mode), raw


def split_credentials(url: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """(`url` without its user info, the (user, password) of it for the HTTP client's basic
    auth, or None).

    httpx sends the same Basic header for a URL with user info, but the SDKs and httpx log
    (with -v) and put in their errors the URL they send to: without user info in it, the
    password stays in memory only.
    """
    if url is None:
        return None, None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    hostport = parts.netloc.rpartition("@")[2]
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=hostport)), auth
