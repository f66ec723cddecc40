"""Export a sentence-transformers model to ONNX once, and check it agrees with torch.

ONNX Runtime runs the same graph 2-3x faster than torch on a CPU here. The export wraps the
whole sentence-transformers pipeline (transformer, pooling, normalise) so the graph's output
is the final embedding and any Transformer+Pooling model exports the same way. The export is
kept in the cache dir and reused; beside it, `meta.json` records how closely ONNX matches torch
on fixed probe texts (mixed lengths, padding, one text past the token limit). The fast path is
used by default only where that agreement holds (min cosine >= `onnx_runtime.AGREEMENT`).
Running the export is `onnx_runtime`'s job; the agreement check uses the same encoder.

We depend on `onnx` (the exporter and the quantiser need it) but not on
`sentence-transformers[onnx]`/optimum, which would downgrade transformers and break datasets.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from lmsys_tui.core.embed.model import clip_text, load_sentence_transformer
from lmsys_tui.core.embed.onnx_runtime import OnnxEncoder, OnnxModel
from lmsys_tui.core.embed.space import Space, model_source
from lmsys_tui.core.store.names import slug

EXPORT_FORMAT = 1
OPSET = 17
INT8_RECIPE = "dynamic-per-channel-reduce-range"  # an int8 file made otherwise is redone

PROBE_TEXTS = (
    "How do I reverse a linked list in Python?",
    "hi",
    "Write a poem about the sea in the style of Emily Dickinson.",
    "¿Cuál es la capital de Australia y por qué no es Sídney?",
    "请帮我把这段话翻译成英文：今天天气很好，我们去公园散步吧。",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "Summarise the following article in three bullet points. " * 3,
    "Explain quantum entanglement to a five year old, then to a physics graduate student.",
    "def f(x):\n    return x * 2  # why does this return None sometimes?",
    "Was ist der Unterschied zwischen 'seit' und 'seid'?",
    "I am writing a cover letter for a junior data analyst role. " * 60,  # past 256 tokens
    "ok",
)


class ExportError(Exception):
    """The model could not be exported or checked; the caller falls back to torch."""


def export_dir(cache_dir: Path, space: Space) -> Path:
    return Path(cache_dir) / "onnx" / slug(space.key)


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != EXPORT_FORMAT:
        return None
    return meta


def _model_from(folder: Path, meta: dict[str, Any], variant: str) -> OnnxModel | None:
    info = meta.get(variant)
    if not info or not (folder / info["file"]).is_file():
        return None
    if variant == "int8" and info.get("recipe") != INT8_RECIPE:
        return None  # quantised another way (before reduce_range): quantise again
    return OnnxModel(
        path=folder / info["file"],
        tokenizer=folder / "tokenizer.json",
        max_seq_length=int(meta["max_seq_length"]),
        inputs=tuple(meta["inputs"]),
        pad_id=int(meta["pad_id"]),
        pad_token=str(meta["pad_token"]),
        min_cosine=float(info["min_cosine"]),
    )


def has_export(space: Space, cache_dir: Path) -> bool:
    """Whether the fp32 export of `space`'s model is already in the cache (nothing is made)."""
    folder = export_dir(cache_dir, space)
    meta = _read_meta(folder)
    return (
        meta is not None
        and meta.get("source") == model_source(space)
        and _model_from(folder, meta, "fp32") is not None
    )


def ensure_onnx(space: Space, cache_dir: Path, *, quantized: bool = False) -> OnnxModel:
    """The exported (and, if asked, int8-quantised) model, exporting it the first time."""
    folder = export_dir(cache_dir, space)
    variant = "int8" if quantized else "fp32"
    meta = _read_meta(folder)
    if meta is not None and meta.get("source") == model_source(space):
        found = _model_from(folder, meta, variant)
        if found is not None:
            return found
    try:
        with _quiet():
            if meta is None or meta.get("source") != model_source(space):
                meta = _export(space, folder)
            if quantized and _model_from(folder, meta, "int8") is None:
                meta = _quantize(folder, meta)
    except ExportError:
        raise
    except Exception as exc:  # the exporter raises many kinds; all mean "use torch"
        raise ExportError(f"{type(exc).__name__}: {exc}") from exc
    found = _model_from(folder, meta, variant)
    if found is None:  # pragma: no cover - _export/_quantize always write the variant
        raise ExportError(f"export of {space.key} left no {variant} model")
    return found


class _quiet:
    """The exporter and quantiser warn a lot about things that do not apply here."""

    def __enter__(self) -> None:
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore")
        self._root = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().setLevel(self._root)
        self._warn.__exit__(*exc)


def _probe_reference(st: Any) -> Any:
    import numpy as np

    ref = st.encode(
        list(PROBE_TEXTS),
        batch_size=len(PROBE_TEXTS),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(ref, dtype=np.float32)


def _agreement(model_path: Path, meta: dict[str, Any], tokenizer: Path, ref: Any) -> dict:
    """Cosine between this ONNX file and torch on the probe texts, run as one padded batch."""
    model = OnnxModel(
        path=model_path,
        tokenizer=tokenizer,
        max_seq_length=int(meta["max_seq_length"]),
        inputs=tuple(meta["inputs"]),
        pad_id=int(meta["pad_id"]),
        pad_token=str(meta["pad_token"]),
        min_cosine=0.0,
    )
    got, _ = OnnxEncoder(model, name="probe").encode(list(PROBE_TEXTS))
    cos = (got * ref).sum(axis=1)
    return {
        "file": model_path.name,
        "min_cosine": round(float(cos.min()), 6),
        "mean_cosine": round(float(cos.mean()), 6),
    }


def _export(space: Space, folder: Path) -> dict[str, Any]:
    import torch

    st = load_sentence_transformer(model_source(space), device="cpu", eager_attention=True)
    hf_tok = st.tokenizer
    inputs = [
        n
        for n in hf_tok.model_input_names
        if n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ExportError(f"{space.model}: tokenizer gives {hf_tok.model_input_names}")
    max_len = int(st.max_seq_length or 512)

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors: Any) -> Any:
            out = self.st(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]
            return torch.nn.functional.normalize(out, p=2, dim=1)

    sample = hf_tok(
        [
            clip_text("a short one", max_len),
            clip_text("a somewhat longer example text " * 3, max_len),
        ],
        padding=True,
        return_tensors="pt",
    )
    args = tuple(sample[n] for n in inputs)
    axes = {n: {0: "batch", 1: "tokens"} for n in inputs} | {"embedding": {0: "batch"}}
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
    try:
        with torch.no_grad():
            torch.onnx.export(
                Wrapped().eval(),
                args,
                str(tmp / "model.onnx"),
                input_names=inputs,
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        hf_tok.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        meta: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "space": space.key,
            "source": model_source(space),
            "max_seq_length": max_len,
            "inputs": inputs,
            "pad_id": int(hf_tok.pad_token_id or 0),
            "pad_token": str(hf_tok.pad_token or "[PAD]"),
            "torch": torch.__version__,
        }
        ref = _probe_reference(st)
        meta["fp32"] = _agreement(tmp / "model.onnx", meta, tmp / "tokenizer.json", ref)
        np_ref = tmp / "probe_reference.npy"
        _save_npy(np_ref, ref)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            # another process finished the same export first: use theirs
            if _read_meta(folder) is None:
                raise
            return _read_meta(folder) or meta
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _save_npy(path: Path, array: Any) -> None:
    import numpy as np

    np.save(path, array)


def _quantize(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8, per channel (per tensor lost too much here, mean cosine 0.956), with
    7-bit weights (`reduce_range`): on x86 CPUs without VNNI (AVX2, as here) ONNX Runtime
    multiplies u8 activations by s8 weights with an instruction whose 16-bit sums saturate;
    the spare bit avoids that. Measured with the variants bench's gate at 32 k-means seeds:
    without it int8 lost 0.015 V-measure on whole BBC articles, with it none."""
    import numpy as np
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = folder / f".model.int8.{os.getpid()}.onnx"
    try:
        quantize_dynamic(
            str(folder / "model.onnx"),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
        os.replace(tmp, folder / "model.int8.onnx")
        for stale in folder.glob("model.int8.opt-*"):  # the old file's optimised graph + weights
            stale.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    ref = np.load(folder / "probe_reference.npy")
    meta = dict(meta)
    meta["int8"] = _agreement(folder / "model.int8.onnx", meta, folder / "tokenizer.json", ref)
    meta["int8"]["recipe"] = INT8_RECIPE
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta
