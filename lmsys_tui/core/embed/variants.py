"""Embedding variants (how a local model computes its vectors) and what `auto` picks.

A variant is a runtime (torch or the ONNX export), a precision (fp32 or int8 weights) and a
token limit (the model's own, or 128: most first turns are shorter, and MiniLM was trained on
128-token inputs). Each changes speed and, a little, the vectors. `auto` does not decide on the
user's data at run time: it reads `variants.json`, the measurement that
tests/bench/test_embed_variants_bench.py writes (texts/s against bare torch on real ShareGPT
first turns, and the quality gate on labelled corpora), and takes the fastest variant that
passed the gate for that model (by CPU-seconds per text where measured: less moved by other
load than the wall clock). Models without a measurement get the fp32 export (checked against
torch on probe texts, see onnx_export) as before.

The gate: on every labelled corpus, V-measure of k-means on the variant's vectors within 0.01 of
fp32 torch's, and the ARI between the variant's k-means and fp32's no lower than the ARI between
two fp32 fits with different seeds (what k-means alone moves).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MEASURED = Path(__file__).with_name("variants.json")
TOKENS_SHORT = 128
PROBE_SLACK = 0.005  # a local export's probe cosine may sit this much under the measured one


@dataclass(frozen=True)
class Variant:
    name: str
    runtime: str  # "torch" | "onnx"
    int8: bool = False
    max_tokens: int | None = None  # None: the model's own limit

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else "fp32"


VARIANTS = {
    v.name: v
    for v in (
        Variant("torch", "torch"),
        Variant("onnx", "onnx"),
        Variant("onnx-int8", "onnx", int8=True),
        Variant("onnx-128", "onnx", max_tokens=TOKENS_SHORT),
        Variant("onnx-int8-128", "onnx", int8=True, max_tokens=TOKENS_SHORT),
    )
}


@cache
def _measured() -> dict[str, Any]:
    try:
        data = json.loads(MEASURED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _speed(row: dict[str, Any]) -> float | None:
    """A variant's measured speed against bare torch: CPU-seconds per text where recorded
    (on a shared machine the wall-clock ratio moves with other load: one measurement had our
    torch stage 1.15x bare torch and fp32 ONNX 1.01x, while CPU-seconds gave 1.04x and 1.15x),
    else the wall-clock ratio."""
    return row.get("cpu_speedup") or row.get("speedup")


def measured_choice(model: str) -> tuple[str, float] | None:
    """(the fastest variant that passed the quality gate for `model` in the stored
    measurement, its export's probe cosine with torch then); None if never measured."""
    rows = (_measured().get("models") or {}).get(model) or {}
    passed = [
        (float(_speed(row)), name, float(row.get("probe_min_cosine", 1.0)))
        for name, row in rows.items()
        if name in VARIANTS and row.get("passed") and _speed(row)
    ]
    if not passed:
        return None
    _, name, cosine = max(passed)
    return name, cosine
