"""The encoder protocol, the torch and OpenAI encoders, and choosing a backend per space
(the Cohere encoder lives in `cohere.py`).

Each encoder takes already-normalised texts and returns L2-normalised float32 rows plus a
mask of the texts it could embed at all (a text made only of characters the tokenizer drops
has nothing to embed: it is excluded, never given a meaningless vector). Texts are clipped to
the model's token limit (256 for MiniLM), so one long prompt never fails a batch.

Encoders are loaded once per process and cached (the TUI's search and a pipeline worker share
one model). `auto` picks torch when torch sees a GPU (`--device`), else the ONNX variant the
stored measurement chose (`variants`; the export made by `onnx_export`, run by `onnx_runtime`)
when its probe cosine with torch holds, else torch. `encode_batches` overlaps tokenising the
next batch with the model running this one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lmsys_tui.core.embed.model import (
    clip_text,
    embedding_dim,
    gpu_device,
    load_sentence_transformer,
)
from lmsys_tui.core.embed.onnx_export import ExportError, ensure_onnx
from lmsys_tui.core.embed.onnx_runtime import AGREEMENT, OnnxEncoder
from lmsys_tui.core.embed.space import (
    API_PROVIDERS,
    COHERE,
    OPENAI,
    OPENAI_SHORTENABLE,
    Space,
    check_backend,
    check_device,
    model_source,
)
from lmsys_tui.core.embed.variants import PROBE_SLACK, VARIANTS, measured_choice
from lmsys_tui.errors import LmsysError, NeedsKeyError, UsageError, first_line

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

T = TypeVar("T")
OPENAI_MAX_CHARS = 8000  # ~8191-token input limit; halved on a context-length refusal


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 rows, bool mask of rows that are real embeddings)."""
        ...


class TorchEncoder:
    """sentence-transformers on torch: the reference the ONNX export is checked against, and
    the backend that uses a GPU when there is one (fp16 weights on CUDA).

    `tokenise` and `run` are the halves of `encode` (as for ONNX), so the next batch is
    tokenised in a thread while the model runs this one: on a GPU, tokenising and Python, not
    the model, bound sentence-transformers' own `encode`. On a CPU this is the same code path.
    """

    def __init__(self, space: Space, device: str) -> None:
        self.st = load_sentence_transformer(model_source(space), device)
        if device == "cuda":
            self.st.half()
        self.device = device
        self.max_tokens = int(self.st.max_seq_length or 512)
        self.dim = embedding_dim(self.st)
        self.name = f"torch:{device}" + ("-fp16" if device == "cuda" else "")
        self._lock = threading.Lock()

    def tokenise(self, texts: list[str]) -> tuple[dict[str, Any], np.ndarray]:
        import numpy as np

        clipped = [clip_text(t, self.max_tokens) for t in texts]
        probe = self.st.tokenizer(clipped, add_special_tokens=False, truncation=True, max_length=4)[
            "input_ids"
        ]
        ok = np.array([len(ids) > 0 for ids in probe], dtype=bool)
        keep = [t for t, k in zip(clipped, ok, strict=True) if k]
        prep = getattr(self.st, "preprocess", None) or self.st.tokenize  # renamed in ST 6
        features = prep(keep) if keep else {}
        return {"features": features, "ok": ok}, ok

    def run(self, feed: dict[str, Any]) -> np.ndarray:
        """Rows for every text of the batch (zeros where it has nothing to embed)."""
        import numpy as np
        import torch
        from sentence_transformers.util import batch_to_device

        out = np.zeros((len(feed["ok"]), self.dim), np.float32)
        if feed["features"]:
            with self._lock, torch.inference_mode():
                features = batch_to_device(feed["features"], self.device)
                emb = self.st(features)["sentence_embedding"].float()
                out[feed["ok"]] = torch.nn.functional.normalize(emb, p=2, dim=1).cpu().numpy()
        return out

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        feed, ok = self.tokenise(texts)
        return self.run(feed), ok


class OpenAIEncoder:
    """OpenAI embeddings through the official SDK (it retries and honours Retry-After)."""

    def __init__(self, space: Space) -> None:
        from lmsys_tui.config import provider_key

        key = provider_key(OPENAI)
        if not key:
            raise NeedsKeyError(
                "OPENAI_API_KEY is not set: the openai embedding provider needs it"
                " (set it in the environment; it is never stored)"
            )
        import openai

        self.space = space
        self.name = "openai"
        self.client = openai.OpenAI(
            api_key=key, base_url=os.environ.get("OPENAI_BASE_URL") or None, max_retries=4
        )

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np
        import openai

        limit = OPENAI_MAX_CHARS
        extra = {"dimensions": self.space.dim} if self.space.model in OPENAI_SHORTENABLE else {}
        while True:
            try:
                resp = self.client.embeddings.create(
                    model=self.space.model,
                    input=[t[:limit] for t in texts],
                    encoding_format="float",
                    **extra,
                )
                break
            except openai.BadRequestError as exc:
                if "context length" in str(exc).lower() and limit > 500:
                    limit //= 2
                    continue
                raise LmsysError(f"openai refused the batch: {first_line(exc)}") from exc
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise NeedsKeyError(f"openai rejected the key: {first_line(exc)}") from exc
            except openai.APIConnectionError as exc:
                raise NeedsKeyError(f"cannot reach the openai API: {first_line(exc)}") from exc
            except openai.APIError as exc:
                raise LmsysError(f"openai embeddings failed: {first_line(exc)}") from exc
        rows = sorted(resp.data, key=lambda d: d.index)
        out = np.array([r.embedding for r in rows], dtype=np.float32)
        if out.shape != (len(texts), self.space.dim):
            raise LmsysError(
                f"openai returned {out.shape[0]}x{out.shape[1] if out.ndim == 2 else 0}"
                f" vectors for {len(texts)} texts in {self.space.key}"
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        ok = norms[:, 0] > 0
        out[ok] /= norms[ok]
        return out, ok


_CACHE: dict[tuple[str, str, str], Encoder] = {}
_CACHE_LOCK = threading.Lock()
_NOTES: dict[tuple[str, str, str], str] = {}


def _onnx_or_torch(space: Space, backend: str, cache_dir: Path) -> tuple[Encoder, str | None]:
    """The ONNX encoder of the variant asked for (for `auto`: the measured choice, else fp32
    where it agrees with torch), or torch with the reason it could not be used."""
    measured = measured_choice(space.model) if backend == "auto" else None
    variant = VARIANTS[measured[0] if measured else "onnx" if backend == "auto" else backend]
    if variant.runtime == "torch":
        return TorchEncoder(space, "cpu"), None
    try:
        model = ensure_onnx(space, cache_dir, quantized=variant.int8)
    except ExportError as exc:
        note = f"ONNX export of {space.model} failed ({exc}); using torch"
        return TorchEncoder(space, "cpu"), note
    # auto: the probe cosine must hold what it was when the variant was measured (or, for a
    # model never measured, the fp32 agreement bar): another export must not ride on it
    floor = measured[1] - PROBE_SLACK if measured else AGREEMENT
    if backend == "auto" and model.min_cosine < floor:
        note = (
            f"ONNX export ({variant.name}) of {space.model} agrees with torch only to cosine"
            f" {model.min_cosine:.4f} (< {floor:.4f}); using torch"
        )
        return TorchEncoder(space, "cpu"), note
    return OnnxEncoder(model, variant.name, max_tokens=variant.max_tokens), None


def pick_device(device: str, backend: str) -> str | None:
    """The accelerator torch runs on for `--device` (None: the CPU path, ONNX for `auto`).

    auto: a GPU when torch sees one (only for backends auto and torch); cuda: CUDA or a usage
    error; cpu: never a GPU. The ONNX variants always run on the CPU."""
    check_device(device)
    if device == "cpu":
        return None
    if device == "auto":
        return gpu_device() if backend in ("auto", "torch") else None
    if backend not in ("auto", "torch"):
        raise UsageError(f"--device cuda runs torch: use --backend auto or torch, not {backend}")
    if gpu_device() != "cuda":
        raise UsageError("--device cuda: torch sees no CUDA device here")
    return "cuda"


def get_encoder(
    space: Space, backend: str = "auto", cache_dir: Path | None = None, device: str = "auto"
) -> tuple[Encoder, str | None]:
    """The cached encoder for (space, backend, device) and a note when it is not the one
    asked for."""
    check_backend(backend)
    if space.provider in API_PROVIDERS:
        backend = "api"
    cache_key = (space.key, backend, device)
    with _CACHE_LOCK:
        if cache_key in _CACHE:
            return _CACHE[cache_key], _NOTES.get(cache_key)
        note = None
        encoder: Encoder
        if backend == "api" and space.provider == COHERE:
            from lmsys_tui.core.embed.cohere import CohereEncoder

            encoder = CohereEncoder(space)
        elif backend == "api":
            encoder = OpenAIEncoder(space)
        else:
            accelerator = pick_device(device, backend)
            if backend == "torch" or accelerator is not None:
                encoder = TorchEncoder(space, accelerator or "cpu")
            else:
                if cache_dir is None:
                    from lmsys_tui.config import Settings

                    cache_dir = Settings().cache_dir
                encoder, note = _onnx_or_torch(space, backend, cache_dir)
                if note:
                    log.warning(note)
        _CACHE[cache_key] = encoder
        if note:
            _NOTES[cache_key] = note
        return encoder, note


def encode_batches(
    encoder: Encoder, batches: Iterator[tuple[T, list[str]]]
) -> Iterator[tuple[T, np.ndarray, np.ndarray]]:
    """(key, rows, readable mask) per batch, tokenising the next batch in a thread while the
    model runs this one (tokenizers and ONNX Runtime/torch release the GIL). `batches` is
    advanced in the caller's thread, so it may read SQLite."""
    if not hasattr(encoder, "tokenise"):
        for key, texts in batches:
            yield key, *encoder.encode(texts)
        return
    from concurrent.futures import ThreadPoolExecutor

    tokenise, run = encoder.tokenise, encoder.run  # type: ignore[attr-defined]
    with ThreadPoolExecutor(1, thread_name_prefix="tokenise") as pool:
        current = next(batches, None)
        pending = pool.submit(tokenise, current[1]) if current else None
        while current is not None and pending is not None:
            feed, ok = pending.result()
            key, current = current[0], next(batches, None)
            pending = pool.submit(tokenise, current[1]) if current else None
            yield key, run(feed), ok


def embed_texts(
    space: Space,
    texts: list[str] | tuple[str, ...],
    *,
    backend: str = "auto",
    cache_dir: Path | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Vectors for search-time texts (normalised like stored ones). Empty text: UsageError."""
    import numpy as np

    from lmsys_tui.core.text import normalise

    clean = [normalise(t) for t in texts]
    if any(not t for t in clean):
        raise UsageError("cannot embed an empty text")
    if not clean:
        return np.zeros((0, space.dim), dtype=np.float32)
    encoder, _ = get_encoder(space, backend, cache_dir)
    out = np.empty((len(clean), space.dim), dtype=np.float32)
    # longest first in batches, like the stage: a long list never becomes one huge padded batch
    order = sorted(range(len(clean)), key=lambda i: -len(clean[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        vectors, ok = encoder.encode([clean[i] for i in rows])
        if not ok.all():
            raise UsageError("the text has nothing the embedding model can read")
        out[rows] = vectors
    return out


def embed_few(space: Space, texts: list[str]) -> np.ndarray:
    """Vectors for a few hundred short texts (title phrases, node titles): the fp32 ONNX export
    when the embedding stage left one in the cache (no torch import), else torch, since so few
    texts do not repay an export. Always fp32, whatever variant `auto` embeds with: fp32 ONNX
    gives torch's vectors, so offline titles do not depend on whether an export was cached,
    and speed does not matter at this size. Raises like `embed_texts`."""
    from lmsys_tui.config import Settings
    from lmsys_tui.core.embed.onnx_export import has_export

    cache = Settings().cache_dir
    backend = "onnx" if has_export(space, cache) else "torch"
    return embed_texts(space, texts, backend=backend, cache_dir=cache)
