"""The Cohere embedding provider: the real `cohere` SDK over real HTTP to tests/cohere_server.py
(only the model is replaced), through the commands the reference README writes."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cohere_server import CohereServer
from conftest import run_cli

from lmsys_tui.core.embed import resolve_space
from lmsys_tui.errors import ExitCode, UsageError


@pytest.fixture
def cohere_env(cli_env):
    with CohereServer() as server:
        env = cli_env | {"CO_API_KEY": "test-key", "CO_API_URL": server.url}
        yield env, server


def test_embed_v4_is_256_d_as_the_reference_uses_it() -> None:
    assert resolve_space("cohere", "embed-v4.0").key == "cohere/embed-v4.0/256"
    assert resolve_space("cohere").dim == 256
    assert resolve_space("cohere", "embed-v4.0", 1024).dim == 1024
    assert resolve_space("cohere", "embed-english-v3.0").dim == 1024
    with pytest.raises(UsageError, match="--dimensions 300"):
        resolve_space("cohere", "embed-v4.0", 300)


def test_load_use_chroma_then_cluster_with_cohere(cohere_env) -> None:
    env, server = cohere_env
    space = ["--embedding-provider", "cohere", "--embedding-model", "embed-v4.0"]
    res = run_cli(["--headless", "load", "--limit", "60", "--use-chroma", *space, "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["loaded"] == 60
    assert out["embedded"]["embedded"] > 0
    assert out["chroma"]["collection_count"] == 60
    assert out["chroma"]["space"]["key"] == "cohere/embed-v4.0/256"
    sent = server.requests
    assert sent and all(r.authorization == "Bearer test-key" for r in sent)
    assert {(r.body["model"], r.body["output_dimension"]) for r in sent} == {("embed-v4.0", 256)}
    texts = sum(len(r.body["texts"]) for r in sent)
    assert texts == out["embedded"]["embedded"]

    res = run_cli(["--headless", "cluster", "kmeans", "--n-clusters", "4", *space, "--json"], env)
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    assert run["embedding"]["key"] == "cohere/embed-v4.0/256"
    assert len(server.requests) == len(sent)  # every vector was stored: nothing sent twice
    conn = sqlite3.connect(out["db_path"])
    try:
        assigned = conn.execute(
            "SELECT COUNT(*) FROM query_clusters WHERE run_id = ?", (run["run_id"],)
        ).fetchone()[0]
    finally:
        conn.close()
    assert assigned == 60


def test_missing_or_refused_key_is_exit_4_before_anything_is_sent(cohere_env) -> None:
    env, server = cohere_env
    args = ["--headless", "embed", "--embedding-provider", "cohere"]
    assert run_cli(["--headless", "load", "--limit", "5"], env).returncode == 0
    no_key = {k: v for k, v in env.items() if k not in {"CO_API_KEY", "COHERE_API_KEY"}}
    res = run_cli(args, no_key)
    assert res.returncode == ExitCode.NEEDS_KEY and "CO_API_KEY" in res.stderr
    assert server.requests == []
    server.state.reject_key = True
    res = run_cli(args, env | {"COHERE_API_KEY": "other"})
    assert res.returncode == ExitCode.NEEDS_KEY, res.stderr
    assert res.stderr.startswith("error: cohere rejected the key")
