"""`search` / `search-cluster` as a real process: the reference JSON shapes key for key, JSON
only on stdout, one-line errors with the documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from search_fixtures import Seed, onnx_home

from lmsys_tui.errors import ExitCode

# seed-README.md "JSON output shapes"
SEARCH_TOP = {"text", "run_id", "applied_clusters", "results", "facets"}
APPLIED = {"cluster_id", "title", "description", "num_queries", "distance"}
RESULT = {"query_id", "distance", "snippet", "model", "language", "cluster_id"}
FACETS = {"clusters", "language", "model"}
CLUSTER_BUCKET = {"cluster_id", "count", "meta"}
KEY_BUCKET = {"key", "count"}
CLUSTER_TOP = {"text", "run_id", "results"}
CLUSTER_RESULT = {"cluster_id", "distance", "title", "description", "num_queries"}
# our one addition: what the counts cover (issue 5: "the JSON says what set that is")
MATCHED = {"mode", "set", "size", "population", "engine", "description"}


@pytest.fixture
def onnx_env(cli_env: dict[str, str]) -> dict[str, str]:
    """A one-shot process embeds with the exported ONNX graph (seconds, not torch's ~20 s)."""
    return cli_env | {"LMSYS_TUI_HOME": str(onnx_home())}


def _store_args(seed: Seed) -> list[str]:
    return ["--db-path", str(seed.db), "--chroma-path", str(seed.chroma)]


def _json(args: list[str], env: dict[str, str]) -> dict:
    res = run_cli(["--headless", *args, "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # stdout is JSON and nothing else


def test_search_json_has_the_reference_shape(seed: Seed, onnx_env: dict[str, str]) -> None:
    out = _json(
        [
            "search", "fix my python code", "--run-id", seed.run_id,
            "--within-clusters", "programming", "--top-clusters", "3",
            "--n-results", "7", "--facets", "cluster,language,model",
            "--embed-backend", "onnx", *_store_args(seed),
        ],
        onnx_env,
    )  # fmt: skip
    assert set(out) == SEARCH_TOP | {"matched"}
    assert out["text"] == "fix my python code" and out["run_id"] == seed.run_id
    assert len(out["applied_clusters"]) == 3
    assert all(set(c) == APPLIED for c in out["applied_clusters"])
    assert len(out["results"]) == 7 and all(set(r) == RESULT for r in out["results"])
    applied = {c["cluster_id"] for c in out["applied_clusters"]}
    assert {r["cluster_id"] for r in out["results"]} <= applied
    assert set(out["facets"]) == FACETS
    assert all(set(b) == CLUSTER_BUCKET for b in out["facets"]["clusters"])
    assert all(set(b["meta"]) == {"title"} for b in out["facets"]["clusters"])
    assert all(set(b) == KEY_BUCKET for f in ("language", "model") for b in out["facets"][f])
    assert set(out["matched"]) == MATCHED
    total = sum(b["count"] for b in out["facets"]["clusters"])
    sizes = sum(c["num_queries"] for c in out["applied_clusters"])
    assert out["matched"]["population"] == sizes  # the three clusters' queries
    assert total == out["matched"]["size"] == min(250, sizes)  # the --n-candidates nearest
    distances = [r["distance"] for r in out["results"]]
    assert distances == sorted(distances)


def test_search_by_and_keyword_mode_need_no_model(seed: Seed, cli_env: dict[str, str]) -> None:
    out = _json(
        ["search", "python", "--run-id", seed.run_id, "--mode", "keyword", "--by", "cluster",
         *_store_args(seed)],
        cli_env,
    )  # fmt: skip
    assert set(out) == SEARCH_TOP | {"matched"} and set(out["facets"]) == {"clusters"}
    assert out["matched"]["set"] == "keyword_matches" and out["matched"]["engine"] is None
    assert sum(b["count"] for b in out["facets"]["clusters"]) == out["matched"]["size"] > 10
    assert all("python" in r["snippet"].lower() for r in out["results"])
    assert all(r["distance"] is None for r in out["results"])


def test_search_cluster_json_has_the_reference_shape(seed: Seed, onnx_env: dict[str, str]) -> None:
    out = _json(
        ["search-cluster", "writing code", "--run-id", seed.run_id, "--top-k", "4",
         "--embed-backend", "onnx", *_store_args(seed)],
        onnx_env,
    )  # fmt: skip
    assert set(out) == CLUSTER_TOP and out["run_id"] == seed.run_id
    assert len(out["results"]) == 4 and all(set(r) == CLUSTER_RESULT for r in out["results"])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["search", "x", "--run-id", "no-such-run"], ExitCode.NOT_FOUND),
        (["search-cluster", "x", "--run-id", "no-such-run"], ExitCode.NOT_FOUND),
        (["search", "x", "--mode", "fuzzy"], ExitCode.USAGE),
        (["search", "x", "--by", "colour"], ExitCode.USAGE),
        (["search", "x", "--facets", "cluster,size", "--run-id", "r"], ExitCode.USAGE),
        (["search", "x", "--n-results", "0"], ExitCode.USAGE),
        (["search", "x", "--cluster-ids", "1,two"], ExitCode.USAGE),
        (["search", "x", "--cluster-ids", "1"], ExitCode.USAGE),
        (["search", "  "], ExitCode.USAGE),
        (["search", "?!", "--mode", "keyword"], ExitCode.USAGE),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(
    seed: Seed, cli_env: dict[str, str], args: list[str], code: ExitCode
) -> None:
    res = run_cli(["--headless", *args, *_store_args(seed), "--json"], cli_env)
    assert res.returncode == code, res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr


def test_missing_store_is_not_found(tmp_path: Path, cli_env: dict[str, str]) -> None:
    res = run_cli(
        ["--headless", "search", "x", "--db-path", str(tmp_path / "none.db"), "--json"], cli_env
    )
    assert res.returncode == ExitCode.NOT_FOUND and res.stdout == ""
    assert not (tmp_path / "none.db").exists()


def test_a_one_shot_process_reuses_the_optimised_onnx_graph() -> None:
    """The saved optimised graph embeds exactly as a freshly optimised session does."""
    import numpy as np

    from lmsys_tui.core.embed import onnx_runtime, resolve_space
    from lmsys_tui.core.embed.onnx_export import ensure_onnx
    from lmsys_tui.core.embed.onnx_runtime import OnnxEncoder

    model = ensure_onnx(resolve_space(), onnx_home() / "cache")
    texts = ["how do I reverse a list in python", "¿qué hora es?", "write a haiku about rain"]
    first = OnnxEncoder(model, "onnx")  # optimises (or finds the saved graph)
    saved = list(model.path.parent.glob(f"{model.path.stem}.opt-*.onnx"))
    assert len(saved) == 1 and saved[0].name.endswith(".ext.onnx")
    weights = saved[0].with_suffix(".data")  # the weights beside the graph, mapped on load
    assert weights.stat().st_size > 0.9 * model.path.stat().st_size
    saved[0].unlink()
    weights.unlink()
    fresh = OnnxEncoder(model, "onnx")  # optimises again and saves
    assert saved[0].is_file() and weights.is_file()
    assert not list(model.path.parent.glob(".opt-*"))  # the private work folder is gone
    reused = OnnxEncoder(model, "onnx")  # loads the saved graph
    onnx_runtime.one_shot()
    try:
        quick = OnnxEncoder(model, "onnx")  # one thread, no prepacking: the same vectors
    finally:
        onnx_runtime.one_shot(False)
    a, b, c, d = (enc.encode(texts)[0] for enc in (first, fresh, reused, quick))
    assert np.allclose(a, b, atol=1e-5) and np.allclose(b, c, atol=1e-5)
    assert np.allclose(c, d, atol=1e-5)
