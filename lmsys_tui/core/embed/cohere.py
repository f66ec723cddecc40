"""The Cohere encoder (`--embedding-provider cohere`), through the official `cohere` SDK.

The key comes from $CO_API_KEY (the SDK's own variable) or $COHERE_API_KEY, and never from a
file; $CO_API_URL points the client at another endpoint (a proxy, or the tests' local server).
Every text is embedded with input_type "clustering": stored queries and search texts must share
one space, and clustering is what the vectors are for. Texts are clipped to COHERE_MAX_CHARS
(the API truncates the rest anyway, `truncate="END"`), so a 400k-character prompt costs one
request like any other.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lmsys_tui.core.embed.space import Space
from lmsys_tui.errors import LmsysError, NeedsKeyError, first_line

if TYPE_CHECKING:
    import numpy as np

KEY_ENVS = ("CO_API_KEY", "COHERE_API_KEY")
URL_ENV = "CO_API_URL"
COHERE_MAX_CHARS = 8000  # ~2k tokens, past embed-v4.0's useful window for a first turn
INPUT_TYPE = "clustering"


def cohere_key() -> str | None:
    return next((os.environ[k] for k in KEY_ENVS if os.environ.get(k)), None)


class CohereEncoder:
    """Cohere's v2 embed endpoint; the SDK retries rate limits and server errors itself."""

    def __init__(self, space: Space) -> None:
        key = cohere_key()
        if not key:
            raise NeedsKeyError(
                "CO_API_KEY (or COHERE_API_KEY) is not set: the cohere embedding provider needs"
                " it (set it in the environment; it is never stored)"
            )
        import cohere

        self.space = space
        self.name = "cohere"
        self.client = cohere.ClientV2(
            api_key=key, base_url=os.environ.get(URL_ENV) or None, max_retries=4
        )

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import httpx
        import numpy as np
        from cohere.core.api_error import ApiError

        try:
            resp = self.client.embed(
                model=self.space.model,
                input_type=INPUT_TYPE,
                texts=[t[:COHERE_MAX_CHARS] for t in texts],
                embedding_types=["float"],
                output_dimension=self.space.dim,
                truncate="END",
            )
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise NeedsKeyError(f"cohere rejected the key: {first_line(exc)}") from exc
            raise LmsysError(f"cohere embeddings failed: {first_line(exc)}") from exc
        except httpx.HTTPError as exc:
            raise NeedsKeyError(f"cannot reach the cohere API: {first_line(exc)}") from exc
        rows = (resp.embeddings.float_ or []) if resp.embeddings is not None else []
        out = np.array(rows, dtype=np.float32)
        if out.shape != (len(texts), self.space.dim):
            raise LmsysError(
                f"cohere returned {out.shape[0]}x{out.shape[1] if out.ndim == 2 else 0}"
                f" vectors for {len(texts)} texts in {self.space.key}"
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        ok = norms[:, 0] > 0
        out[ok] /= norms[ok]
        return out, ok
