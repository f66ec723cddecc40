"""One cheap request to the LLM endpoint before a pass starts: is anything there?

Without it, a dead or refusing server costs every cluster its full retries, and the pass ends
"done" with every cluster failed and the cause only in the ledger. The probe is a GET of
`{base_url}/models` (OpenAI-compatible servers and Anthropic's API both have it): any HTTP
answer but 401/403 means a server is there; no answer, or a refusal, is one NeedsKeyError line
naming the URL and the cause (exit 4), before a pass row is written. The provider's own API
(no URL given) is not probed: a missing or refused key is said by the first call.
"""

from __future__ import annotations

import os

from lmsys_tui.core.llm.providers import SDK_URL_ENV, ModelSpec, api_key, split_credentials
from lmsys_tui.errors import NeedsKeyError, first_line

PROBE_SECONDS = 5.0  # a live server answers a GET at once; a dead one should not keep us waiting


def probe(spec: ModelSpec, timeout: float = PROBE_SECONDS) -> None:
    """Raise NeedsKeyError when nothing answers at the spec's endpoint, or it refuses us."""
    url = spec.base_url or os.environ.get(SDK_URL_ENV.get(spec.provider, ""), "")
    if spec.offline or not url:
        return
    import httpx

    shown = spec.endpoint or url
    base, auth = split_credentials(url)
    key = api_key(spec)
    headers = {}
    if key and spec.provider == "anthropic":
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    elif key:
        headers = {"Authorization": f"Bearer {key}"}
    try:
        answer = httpx.get(
            f"{str(base).rstrip('/')}/models", headers=headers, auth=auth, timeout=timeout
        )
    except httpx.TimeoutException:
        raise NeedsKeyError(
            f"the LLM server at {shown} did not answer within {timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise NeedsKeyError(f"no LLM server answers at {shown}: {first_line(exc)}") from None
    if answer.status_code in {401, 403}:
        raise NeedsKeyError(
            f"the LLM server at {shown} refused the request (HTTP {answer.status_code}"
            f"{', check ' + spec.key_env if spec.key_env else ''})"
        )
