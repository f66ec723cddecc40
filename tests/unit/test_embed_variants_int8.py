"""The int8 export is made one way (per channel, 7-bit weights): a file quantised another way
(an older cache) is never used, so `auto` runs what the quality gate measured."""

from __future__ import annotations

from pathlib import Path

from lmsys_tui.core.embed import onnx_export


def _meta(int8: dict) -> dict:
    return {
        "format": onnx_export.EXPORT_FORMAT,
        "max_seq_length": 256,
        "inputs": ["input_ids", "attention_mask"],
        "pad_id": 0,
        "pad_token": "[PAD]",
        "fp32": {"file": "model.onnx", "min_cosine": 1.0},
        "int8": int8,
    }


def test_an_int8_file_without_the_current_recipe_is_not_used(tmp_path: Path) -> None:
    for name in ("model.onnx", "model.int8.onnx"):
        (tmp_path / name).write_bytes(b"")
    old = _meta({"file": "model.int8.onnx", "min_cosine": 0.95})
    assert onnx_export._model_from(tmp_path, old, "int8") is None
    assert onnx_export._model_from(tmp_path, old, "fp32") is not None
    new = _meta({"file": "model.int8.onnx", "min_cosine": 0.97, "recipe": onnx_export.INT8_RECIPE})
    found = onnx_export._model_from(tmp_path, new, "int8")
    assert found is not None and found.min_cosine == 0.97


def test_auto_ranks_by_cpu_seconds_where_measured(tmp_path: Path, monkeypatch) -> None:
    """The wall-clock ratio moves with other load; CPU-seconds per text decide when present."""
    import json

    from lmsys_tui.core.embed import variants

    path = tmp_path / "variants.json"
    rows = {
        "torch": {"speedup": 1.15, "cpu_speedup": 1.04, "passed": True},
        "onnx": {"speedup": 1.01, "cpu_speedup": 1.15, "passed": True, "probe_min_cosine": 1.0},
        "onnx-int8": {"speedup": 2.0, "cpu_speedup": 1.7, "passed": False},
    }
    path.write_text(json.dumps({"models": {"m": rows}}), encoding="utf-8")
    monkeypatch.setattr(variants, "MEASURED", path)
    variants._measured.cache_clear()
    try:
        assert variants.measured_choice("m") == ("onnx", 1.0)
    finally:
        variants._measured.cache_clear()
