"""Embedding spaces: which provider, model and dimension a vector belongs to.

A vector is only comparable with vectors of the same space, so the space key names every
stored vector, every Chroma collection and every clustering run. Resolving a space is cheap
(it reads at most a model's config files, never the weights) so any command can name its
space before deciding whether anything needs the model at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmsys_tui.core.embed.model import bundled_model_path, embedding_dim, load_sentence_transformer
from lmsys_tui.core.embed.variants import VARIANTS
from lmsys_tui.errors import UsageError

BACKENDS = ("auto", *VARIANTS)  # how a local model computes its vectors (see variants)


def check_backend(backend: str) -> None:
    """UsageError unless `backend` is one of BACKENDS (here, a leaf: the CLI checks options at
    start without loading the encoders)."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")


DEVICES = ("auto", "cpu", "cuda")  # where torch runs (auto: a GPU when torch sees one)


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")


SENTENCE_TRANSFORMERS = "sentence-transformers"
OPENAI = "openai"
COHERE = "cohere"
PROVIDERS = (SENTENCE_TRANSFORMERS, OPENAI, COHERE)
API_PROVIDERS = (OPENAI, COHERE)  # embedded by a remote API, not a local model

DEFAULT_ST_MODEL = "all-MiniLM-L6-v2"
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
_BUNDLED_NAMES = {DEFAULT_ST_MODEL, f"sentence-transformers/{DEFAULT_ST_MODEL}"}

# Native sizes; text-embedding-3-* accept a smaller `dimensions` (Matryoshka), ada-002 does not.
OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
OPENAI_SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}

DEFAULT_COHERE_MODEL = "embed-v4.0"
# The sizes each Cohere model gives, its default first: embed-v4.0 is Matryoshka and is used at
# 256-d as the reference uses it (a quarter of the storage of 1024-d for clustering).
COHERE_DIMS = {
    "embed-v4.0": (256, 512, 1024, 1536),
    "embed-english-v3.0": (1024,),
    "embed-multilingual-v3.0": (1024,),
    "embed-english-light-v3.0": (384,),
    "embed-multilingual-light-v3.0": (384,),
}


@dataclass(frozen=True)
class Space:
    provider: str
    model: str
    dim: int

    @property
    def key(self) -> str:
        """Stable name of the space, e.g. "sentence-transformers/all-MiniLM-L6-v2/384"."""
        return f"{self.provider}/{self.model}/{self.dim}"

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "dim": self.dim, "key": self.key}


def model_source(space: Space) -> str:
    """What to hand SentenceTransformer(): the bundled folder, a local path or a hub name."""
    return str(bundled_model_path()) if space.model == DEFAULT_ST_MODEL else space.model


def _local_st_dim(folder: Path) -> int | None:
    """Output size of a sentence-transformers folder from its config files alone."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = []
    dim = None
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", ""))
        cfg_path = folder / str(module.get("path", "")) / "config.json"
        if not kind.endswith(("Pooling", "Dense")) or not cfg_path.is_file():
            continue
        try:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        dim = (
            cfg.get("out_features")
            if kind.endswith("Dense")
            else cfg.get("word_embedding_dimension", dim)
        )
    if dim is None and (folder / "config.json").is_file():
        try:
            dim = json.loads((folder / "config.json").read_text(encoding="utf-8")).get(
                "hidden_size"
            )
        except (OSError, ValueError):
            dim = None
    return int(dim) if isinstance(dim, int) and dim > 0 else None


def _cached_hub_folder(name: str) -> Path | None:
    """The local snapshot of a hub model, if the Hugging Face cache has one (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - installed with sentence-transformers
        return None
    for repo in (name, f"sentence-transformers/{name}") if "/" not in name else (name,):
        found = try_to_load_from_cache(repo, "modules.json")
        if isinstance(found, str):
            return Path(found).parent
    return None


def _st_space(model: str, dimensions: int | None) -> Space:
    if model in _BUNDLED_NAMES:
        canonical, dim = DEFAULT_ST_MODEL, _local_st_dim(bundled_model_path())
    else:
        path = Path(model).expanduser()
        if path.is_dir():
            canonical, dim = str(path.resolve()), _local_st_dim(path)
            if dim is None:
                raise UsageError(f"{model} is not a sentence-transformers model folder")
        else:
            canonical = model
            folder = _cached_hub_folder(model)
            dim = _local_st_dim(folder) if folder else None
            if dim is None:
                dim = _loaded_dim(model)
    if dimensions is not None and dimensions != dim:
        raise UsageError(
            f"--dimensions {dimensions} does not match {canonical}, which gives {dim}-d vectors"
        )
    return Space(SENTENCE_TRANSFORMERS, canonical, int(dim or 0))


def _loaded_dim(model: str) -> int:
    """Last resort for a hub name not in the local cache: load it (may need the network)."""
    return embedding_dim(load_sentence_transformer(model, device="cpu"))


def _openai_space(model: str, dimensions: int | None) -> Space:
    native = OPENAI_DIMS.get(model)
    if dimensions is not None:
        if dimensions <= 0:
            raise UsageError("--dimensions must be a positive number")
        if native is not None and model not in OPENAI_SHORTENABLE and dimensions != native:
            raise UsageError(f"{model} does not take --dimensions (always {native})")
        if native is not None and dimensions > native:
            raise UsageError(f"--dimensions {dimensions} is more than {model}'s {native}")
        return Space(OPENAI, model, dimensions)
    if native is None:
        raise UsageError(f"unknown OpenAI embedding model {model!r}: give --dimensions")
    return Space(OPENAI, model, native)


def _cohere_space(model: str, dimensions: int | None) -> Space:
    sizes = COHERE_DIMS.get(model)
    if sizes is None:
        if dimensions is None:
            raise UsageError(f"unknown Cohere embedding model {model!r}: give --dimensions")
        return Space(COHERE, model, dimensions)
    if dimensions is not None and dimensions not in sizes:
        raise UsageError(
            f"--dimensions {dimensions} is not a size {model} gives ({', '.join(map(str, sizes))})"
        )
    return Space(COHERE, model, dimensions or sizes[0])


def resolve_space(
    provider: str = SENTENCE_TRANSFORMERS,
    model: str | None = None,
    dimensions: int | None = None,
) -> Space:
    """The space for these options, without loading a model. `model=None`: provider default.

    An API key (OpenAI, Cohere) is not checked here: reading stored vectors of an API space
    needs none; the embedding step raises NeedsKeyError when it has something to send.
    """
    provider = (provider or SENTENCE_TRANSFORMERS).strip().lower()
    if provider in {"sentence_transformers", "st", "local"}:
        provider = SENTENCE_TRANSFORMERS
    if provider == SENTENCE_TRANSFORMERS:
        return _st_space(model or DEFAULT_ST_MODEL, dimensions)
    if provider == OPENAI:
        name = model if model and model not in _BUNDLED_NAMES else DEFAULT_OPENAI_MODEL
        return _openai_space(name, dimensions)
    if provider == COHERE:
        name = model if model and model not in _BUNDLED_NAMES else DEFAULT_COHERE_MODEL
        return _cohere_space(name, dimensions)
    raise UsageError(f"unknown embedding provider {provider!r} (use {', '.join(PROVIDERS)})")


def run_space(run: Mapping[str, Any]) -> Space | None:
    """The embedding space a run row records; None when it records none (its vectors cannot
    be matched, so nothing can be embedded in its space)."""
    if not (run["embedding_provider"] and run["embedding_model"] and run["embedding_dim"]):
        return None
    return Space(
        str(run["embedding_provider"]), str(run["embedding_model"]), int(run["embedding_dim"])
    )
