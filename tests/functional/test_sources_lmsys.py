"""`load --source lmsys`: the gated hub dataset fails cleanly offline; local copies load.

The hub cannot be reached here (and tests force offline mode), so the real code path is the
failure: one stderr line that says to log in and accept the terms, exit 4, no dataset row.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from lmsys_shaped import STORED, expected, lmsys_row, write_jsonl, write_parquet

from lmsys_tui.core.sources import lmsys

LMSYS = [lmsys_row(i) for i in range(25)]


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return cli_env | {"HF_HOME": str(tmp_path / "hf")}


def no_datasets(env: dict[str, str]) -> bool:
    res = run_cli(["--headless", "datasets", "--json"], env)
    return res.returncode == 0 and json.loads(res.stdout)["datasets"] == []


def assert_login_advice(res: Any) -> None:
    assert res.returncode == 4, res.stderr
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "huggingface-cli login" in lines[0] and lmsys.TERMS_URL in lines[0]
    assert "`hf auth login`" in lines[0]  # the command huggingface_hub >= 1.0 installs


def test_gated_dataset_offline_is_one_line_exit_4_and_no_dataset(env) -> None:
    started = time.monotonic()
    res = run_cli(["--headless", "load", "--source", "lmsys", "--json"], env)
    assert_login_advice(res)
    assert time.monotonic() - started < 30
    assert no_datasets(env)


def test_unreachable_hub_fails_in_seconds_not_after_retries(env) -> None:
    """Online mode with nothing listening: the probe answers before the client's retries."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    offline = {"HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"}
    online = {k: v for k, v in env.items() if k not in offline}
    online["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    res = run_cli(["--headless", "load", "--source", "lmsys", "--limit", "10"], online)
    elapsed = time.monotonic() - started
    assert_login_advice(res)
    assert "cannot reach 127.0.0.1" in res.stderr
    assert elapsed < 15  # the hub client alone retries for ~25 s
    assert no_datasets(env)


def test_local_lmsys_jsonl_loads_with_the_lmsys_mapping(env, tmp_path) -> None:
    path = write_jsonl(tmp_path / "lmsys-sample.jsonl", LMSYS)
    res = run_cli(["--headless", "load", "--source", "lmsys", "--file", str(path), "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["source"], out["loaded"], out["languages_detected"]) == ("lmsys", 25, 0)
    conn = sqlite3.connect(out["db_path"])
    assert conn.execute(STORED).fetchall() == [expected(r) for r in LMSYS]


def test_lmsys_from_a_local_dataset_folder_via_datasets(env, tmp_path) -> None:
    data = tmp_path / "lmsys-chat-1m"
    data.mkdir()
    write_parquet(data / "train-00000-of-00001.parquet", LMSYS)
    args = ["--headless", "load", "--source", "lmsys", "--hf", str(data), "--limit", "10"]
    res = run_cli([*args, "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["source"], out["loaded"]) == ("lmsys", 10)
    conn = sqlite3.connect(out["db_path"])
    assert conn.execute(STORED).fetchall() == [expected(r) for r in LMSYS[:10]]


def test_lmsys_source_refuses_a_folder_of_another_shape(env, tmp_path) -> None:
    data = tmp_path / "other"
    data.mkdir()
    write_parquet(data / "x.parquet", [{"text": "hello", "id": 1}])
    res = run_cli(["--headless", "load", "--source", "lmsys", "--hf", str(data)], env)
    assert res.returncode == 2 and "not LMSYS-shaped" in res.stderr
    assert no_datasets(env)
