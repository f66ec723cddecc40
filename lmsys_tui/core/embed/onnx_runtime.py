"""Running an exported model with ONNX Runtime: the session and the encoder over it.

What `onnx_export` writes, this runs: `OnnxModel` describes one exported graph (with how
closely it agreed with torch), `OnnxEncoder` tokenises with `tokenizers` and runs the graph, so
the fast path never imports torch. The export's agreement check runs its probe texts through
this same encoder, so what was checked is what runs.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.embed.model import clip_text

if TYPE_CHECKING:
    import numpy as np

AGREEMENT = 0.99  # min cosine with torch on the probe texts for `auto` to pick ONNX
# Rows per model call on the CPU. A committed batch (`--embed-batch-size`, 64) runs as calls of
# 16: the activations of a 16 x 256-token call stay in cache, and each call is cut to its own
# longest text. Measured 2026-12-07 on 1,170 ShareGPT first turns, quiet: int8 at 16 rows per
# call 93-100 texts/s against 81-85 at 64 (fp32 67 against 55); 8 rows gained nothing more.
CALL_ROWS = 16


@dataclass(frozen=True)
class OnnxModel:
    path: Path
    tokenizer: Path
    max_seq_length: int
    inputs: tuple[str, ...]
    pad_id: int
    pad_token: str
    min_cosine: float

    @property
    def agrees(self) -> bool:
        return self.min_cosine >= AGREEMENT


class OnnxEncoder:
    """ONNX Runtime on the exported graph; tokenises with `tokenizers` (no torch import).

    `max_tokens` below the model's limit truncates earlier (the `-128` variants). `tokenise`
    and `run` are the two halves of `encode`, so a caller can tokenise the next batch in a
    thread while the graph runs this one (`encoders.encode_batches`).
    """

    def __init__(self, model: OnnxModel, name: str, max_tokens: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.model = model
        self.name = name
        self.max_tokens = min(model.max_seq_length, max_tokens or model.max_seq_length)
        self.session = _onnx_session(model.path)
        self.tokenizer = Tokenizer.from_file(str(model.tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer.enable_padding(pad_id=model.pad_id, pad_token=model.pad_token)

    def tokenise(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(the graph's inputs, padded to the batch's longest text; mask of readable texts)."""
        import numpy as np

        encs = self.tokenizer.encode_batch([clip_text(t, self.max_tokens) for t in texts])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        special = np.array([e.special_tokens_mask for e in encs], dtype=np.int64)
        ok = ((mask == 1) & (special == 0)).any(axis=1)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.model.inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
        return feed, ok

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The graph over `feed` in calls of at most CALL_ROWS rows, each cut to its own
        longest row (the tokenizer pads on the right)."""
        import numpy as np

        rows = len(feed["input_ids"])
        if rows <= CALL_ROWS:
            return np.ascontiguousarray(self.session.run(None, feed)[0], dtype=np.float32)
        parts = []
        for start in range(0, rows, CALL_ROWS):
            part = {name: value[start : start + CALL_ROWS] for name, value in feed.items()}
            width = max(int(part["attention_mask"].sum(axis=1).max()), 1)
            parts.append(self.session.run(None, {n: v[:, :width] for n, v in part.items()})[0])
        out = np.concatenate(parts)
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        feed, ok = self.tokenise(texts)
        return self.run(feed), ok


_share_cpu = False
_one_shot = False


def share_cpu(on: bool = True) -> None:
    """ONNX sessions made from now on let idle threads sleep instead of spin-waiting.

    Spinning keeps every core busy between batches: ~15% more texts/s here (measured: 72.6 vs
    61.9 texts/s), which a headless run keeps, but it starves an interactive UI's event loop on
    the same cores, so the TUI turns it off.
    """
    global _share_cpu
    _share_cpu = on


def one_shot(on: bool = True) -> None:
    """ONNX sessions made from now on serve a process that embeds a text or two and exits (a
    headless `search`): one thread, no spinning, and no weight prepacking, which is most of
    what is left of a session's start once the weights are mapped (0.03 instead of 0.12 s CPU
    here) and would only pay off over many batches (~10-30% per batch)."""
    global _one_shot
    _one_shot = on


def _session_options(ort: Any) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if _share_cpu or _one_shot:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if _one_shot:
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.disable_prepacking", "1")
    return options


def _onnx_session(path: Path) -> Any:
    """An ONNX Runtime session; the optimised graph is kept beside the model and reused.

    Optimising the graph and copying 90 MB of weights out of the protobuf were most of a
    session's start (0.3 s CPU here), which a one-shot process (a headless `search`) pays every
    time. So the optimised graph is saved once with its weights in a separate file, which ONNX
    Runtime maps instead of copying (start: 0.12 s CPU; 0.03 with `one_shot`). Extended
    optimisations are portable across CPUs (unlike the layout ones), so the saved graph is
    loaded with none. The two files are written in a private folder and moved into place
    weights first, so a graph file present means its weights are complete; a saved graph that
    does not load is simply made again.
    """
    import onnxruntime as ort

    saved = path.with_name(f"{path.stem}.opt-{ort.__version__}.ext.onnx")
    weights = saved.with_suffix(".data")
    if saved.is_file():
        options = _session_options(ort)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(saved), options, providers=["CPUExecutionProvider"])
        except Exception:  # damaged or foreign: optimise again below
            saved.unlink(missing_ok=True)
    options = _session_options(ort)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    work = path.with_name(f".opt-{os.getpid()}")
    options.optimized_model_filepath = str(work / saved.name)
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", weights.name
    )
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
    )
    try:
        work.mkdir(exist_ok=True)
    except OSError:  # a read-only cache: optimise in memory, and again next time
        options = _session_options(ort)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        try:
            os.replace(work / weights.name, weights)
            os.replace(work / saved.name, saved)
            path.with_name(f"{path.stem}.opt-{ort.__version__}.onnx").unlink(missing_ok=True)
        except OSError:  # e.g. the weights mapped by another process where that locks them
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return session
