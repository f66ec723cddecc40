"""Embedding variants (int8, 128-token limit), `auto`'s choice from the stored measurement, and
the overlapped tokenise/run pipeline, with the real bundled MiniLM (its export is the sample's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmsys_tui.core.embed import embed_texts, variants
from lmsys_tui.core.embed import encoders as enc
from lmsys_tui.core.embed.model import load_sentence_transformer
from lmsys_tui.core.embed.space import BACKENDS, model_source

pytestmark = pytest.mark.slow

# ~150 one-token words, then two different endings: the same text to a 128-token model
PREFIX = " ".join(["the cat sat on the mat and looked at the dog"] * 14)
ENDINGS = (
    "; now explain how to write a recursive descent parser in rust with error recovery",
    "; now give me a vegan lasagna recipe for twelve people with a shopping list",
)


@pytest.fixture
def measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the stored measurement at a file the test writes (and forget cached encoders)."""

    def write(rows: dict) -> None:
        path = tmp_path / "variants.json"
        path.write_text(json.dumps({"models": rows}), encoding="utf-8")
        monkeypatch.setattr(variants, "MEASURED", path)
        variants._measured.cache_clear()
        enc._CACHE.clear()
        enc._NOTES.clear()

    yield write
    variants._measured.cache_clear()
    enc._CACHE.clear()
    enc._NOTES.clear()


def test_every_variant_is_a_backend_choice() -> None:
    assert ("auto", *variants.VARIANTS) == BACKENDS


@pytest.mark.parametrize("name", ["onnx", "onnx-int8", "onnx-128", "onnx-int8-128"])
def test_variants_embed_and_only_the_128_ones_cut_at_128_tokens(sample, name) -> None:
    texts = [PREFIX + e for e in ENDINGS] + sample.real_texts[:6]
    X = embed_texts(sample.space, texts, backend=name, cache_dir=sample.cache_dir)
    ref = embed_texts(sample.space, texts, backend="torch", cache_dir=sample.cache_dir)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    same_prefix = float(X[0] @ X[1])
    if variants.VARIANTS[name].max_tokens == 128:
        assert same_prefix > 0.9999  # the endings lie past token 128: never seen
    else:
        assert same_prefix < 0.995
        # short texts are not cut: close to torch (int8 a little less)
        assert (X[2:] * ref[2:]).sum(1).min() > (0.99 if "int8" not in name else 0.95)


def test_measured_choice_is_the_fastest_variant_that_passed(measured) -> None:
    measured(
        {
            "m": {
                "torch": {"speedup": 1.0, "passed": True},
                "onnx": {"speedup": 1.1, "passed": True, "probe_min_cosine": 0.999},
                "onnx-int8-128": {"speedup": 3.0, "passed": False},
                "onnx-int8": {"speedup": 2.0, "passed": True, "probe_min_cosine": 0.97},
                "onnx-9bit": {"speedup": 9.0, "passed": True},  # not a variant: ignored
            }
        }
    )
    assert variants.measured_choice("m") == ("onnx-int8", 0.97)
    assert variants.measured_choice("never-measured") is None


def test_auto_runs_the_measured_choice(sample, measured) -> None:
    measured({sample.space.model: {"onnx-128": {"speedup": 2.0, "passed": True}}})
    encoder, note = enc.get_encoder(sample.space, "auto", sample.cache_dir)
    assert (encoder.name, note, encoder.max_tokens) == ("onnx-128", None, 128)


def test_auto_refuses_an_export_below_the_measured_probe_cosine(sample, measured) -> None:
    # an export that agrees with torch less than the measured one did is not the one measured
    row = {"speedup": 2.0, "passed": True, "probe_min_cosine": 1.5}
    measured({sample.space.model: {"onnx-int8": row}})
    encoder, note = enc.get_encoder(sample.space, "auto", sample.cache_dir)
    assert encoder.name.startswith("torch") and note and "using torch" in note


@pytest.mark.parametrize("backend", ["onnx-int8-128", "torch"])
def test_overlapped_batches_match_one_by_one(sample, backend) -> None:
    encoder, _ = enc.get_encoder(sample.space, backend, sample.cache_dir)
    texts = [*sample.real_texts[:40], "\u200b\u200b"]  # one with nothing to embed
    batches = [(i, texts[i : i + 8]) for i in range(0, len(texts), 8)]
    got = list(enc.encode_batches(encoder, iter(batches)))
    assert [key for key, _, _ in got] == [key for key, _ in batches]
    for (_, part), (_, X, ok) in zip(batches, got, strict=True):
        X1, ok1 = encoder.encode(part)
        assert np.array_equal(ok, ok1)
        assert np.allclose(X, X1, atol=1e-5)
    assert not got[-1][2][-1]  # the zero-width text is unreadable, not a vector


def test_torch_encoder_is_bare_encode_on_cpu(sample) -> None:
    """The tokenise/run path (the GPU path, here on the CPU) gives sentence-transformers'
    own vectors."""
    encoder = enc.TorchEncoder(sample.space, "cpu")
    texts = sample.real_texts[:16]
    X, ok = encoder.encode(texts)
    st = load_sentence_transformer(model_source(sample.space), "cpu")
    ref = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ok.all()
    assert (X * ref).sum(1).min() > 0.99999


def test_device_choices_are_checked_with_their_flag() -> None:
    from lmsys_tui.core.cluster.options import EmbedOptions
    from lmsys_tui.errors import UsageError

    assert enc.pick_device("cpu", "torch") is None
    assert enc.pick_device("auto", "onnx-int8") is None  # ONNX runs on the CPU
    with pytest.raises(UsageError, match="--device cuda runs torch"):
        enc.pick_device("cuda", "onnx")
    with pytest.raises(UsageError, match="--device must be one of"):
        enc.pick_device("gpu", "torch")
    with pytest.raises(UsageError, match="--device"):
        EmbedOptions(embed_device="gpu")
    assert EmbedOptions(embed_device="cpu").to_argv() == ["--device", "cpu"]


def test_device_cuda_without_a_gpu_is_a_usage_error() -> None:
    from lmsys_tui.core.embed.model import gpu_device
    from lmsys_tui.errors import UsageError

    if gpu_device() == "cuda":
        pytest.skip("this machine has CUDA")
    with pytest.raises(UsageError, match="no CUDA device"):
        enc.pick_device("cuda", "torch")
