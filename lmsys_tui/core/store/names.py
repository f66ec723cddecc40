"""Safe names for what lives outside SQLite: Chroma collections, export cache folders.

Both take an embedding space key, which may hold a model path; both must stay within
[A-Za-z0-9._-] (Chroma's rule) and never let two spaces share a name.
"""

from __future__ import annotations

import hashlib
import re


def slug(text: str, limit: int = 63) -> str:
    """A name of [A-Za-z0-9._-] that starts and ends with a letter or digit, <= limit chars.

    Anything clipped or replaced gets a short hash suffix, so distinct inputs stay distinct.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-") or "space"
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()
    return f"{clean[: limit - 9].rstrip('._-')}_{digest}"
