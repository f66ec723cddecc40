"""`load --hf`: real `datasets` loading of local dataset folders (offline), the shared column map.

No hub is reachable here, so the datasets are folders of data files that `datasets` itself
opens (its packaged parquet/json builders); the hub-only failures are the exit-4 paths.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from lmsys_shaped import STORED, expected, lmsys_row, write_jsonl, write_parquet

from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources.registry import open_source
from lmsys_tui.core.sources.spec import ColumnMap, SourceSpec
from lmsys_tui.errors import NeedsKeyError, UsageError

LMSYS = [lmsys_row(i) for i in range(30)]


@pytest.fixture(autouse=True)
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep `datasets` caches in the test's folder, never in the real home."""
    import datasets.config

    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    return cache


@pytest.fixture
def env(cli_env: dict[str, str], hf_cache: Path) -> dict[str, str]:
    return cli_env | {"HF_HOME": str(hf_cache)}


def folder(tmp_path: Path, name: str = "chats") -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def stored(db: Path | str, sql: str = STORED) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def cli(args: list[str], env: dict[str, str]) -> Any:
    return run_cli(["--headless", "load", *args], env)


def test_local_parquet_dataset_through_the_cli(env, tmp_path) -> None:
    data = folder(tmp_path, "lmsys-mirror")
    write_parquet(data / "train-00000.parquet", LMSYS[:20])
    write_parquet(data / "train-00001.parquet", LMSYS[20:])
    res = cli(["--hf", str(data), "--json"], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["loaded"], out["source"], out["dataset"]) == (30, "hf", "lmsys-mirror")
    assert stored(out["db_path"]) == [expected(r) for r in LMSYS]
    again = json.loads(cli(["--hf", str(data), "--json"], env).stdout)
    assert (again["loaded"], again["duplicates"]) == (0, 30)


def test_column_map_applies_to_hf_datasets(store, tmp_path) -> None:
    data = folder(tmp_path)
    write_jsonl(
        data / "part.jsonl",
        [{"uid": f"u{i}", "prompt_text": f"prompt {i}", "engine": "e1"} for i in range(12)]
        + [{"uid": "u12", "prompt_text": "", "engine": "e1"}],
    )
    cmap = ColumnMap(text_column="prompt_text", conversation_id_column="uid", model_column="engine")
    info, items = open_source(SourceSpec(source="hf", hf=str(data), columns=cmap))
    assert info.source == "hf" and info.parameters["columns"]["text"] == "prompt_text"
    summary = run_load(store, items, info)
    assert (summary.loaded, summary.skipped) == (12, {"empty_text": 1})
    got = stored(store.path, "SELECT conversation_id, query_text, model FROM queries ORDER BY id")
    assert got == [(f"u{i}", f"prompt {i}", "e1") for i in range(12)]


def test_non_streaming_load_knows_its_total(store, tmp_path) -> None:
    data = folder(tmp_path)
    write_parquet(data / "data.parquet", LMSYS)
    info, items = open_source(SourceSpec(source="hf", hf=str(data), streaming=False))
    assert info.total == 30
    assert run_load(store, items, info).loaded == 30


def test_bad_column_map_is_a_usage_error_before_loading(env, tmp_path) -> None:
    data = folder(tmp_path)
    write_parquet(data / "data.parquet", LMSYS)
    res = cli(["--hf", str(data), "--text-column", "nope", "--json"], env)
    assert res.returncode == 2, res.stderr
    assert "--text-column 'nope'" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr  # flaked once under load
    listed = run_cli(["--headless", "datasets", "--json"], env)
    assert json.loads(listed.stdout)["datasets"] == []


def test_unknown_hub_dataset_offline_exits_4(env) -> None:
    res = cli(["--hf", "no-such-org/no-such-dataset", "--json"], env)
    assert res.returncode == 4
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-org/no-such-dataset" in lines[0]
    assert "huggingface-cli login" in lines[0]


def test_open_errors_are_raised_at_open_time(tmp_path) -> None:
    with pytest.raises(UsageError, match="needs --hf"):
        open_source(SourceSpec(source="hf"))
    with pytest.raises(UsageError, match="no such dataset folder"):
        open_source(SourceSpec(source="hf", hf=str(tmp_path / "missing")))
    with pytest.raises(NeedsKeyError, match="cannot open Hugging Face dataset"):
        open_source(SourceSpec(source="hf", hf="someone/gone"))


def test_failure_part_way_keeps_committed_batches(env, tmp_path) -> None:
    """A broken second file: batches stored before it stay, the run is marked failed."""
    data = folder(tmp_path)
    write_jsonl(
        data / "a.jsonl", [{"id": i, "text": f"row {i}", "language": "en"} for i in range(5000)]
    )
    (data / "b.jsonl").write_text('{"id": 1, "text": \n', encoding="utf-8")
    res = cli(["--hf", str(data), "--db-batch-size", "1000", "--json"], env)
    assert res.returncode == 1
    assert "failed after 4,096 rows" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    db = Path(env["LMSYS_TUI_HOME"]) / "queries.db"
    assert stored(db, "SELECT COUNT(*) FROM queries") == [(4000,)]
    assert stored(db, "SELECT status FROM datasets") == [("failed",)]


def test_unknown_split_is_a_usage_error(tmp_path) -> None:
    data = folder(tmp_path)
    write_parquet(data / "data.parquet", LMSYS[:3])
    with pytest.raises(UsageError, match="Bad split: test"):
        open_source(SourceSpec(source="hf", hf=str(data), split="test"))


def test_a_single_data_file_as_the_id_is_read_directly(store, tmp_path) -> None:
    path = write_parquet(tmp_path / "one.parquet", LMSYS[:5])
    info, items = open_source(SourceSpec(source="lmsys", hf=str(path)))
    assert (info.source, info.total) == ("lmsys", 5)
    assert run_load(store, items, info).loaded == 5
    assert stored(store.path) == [expected(r) for r in LMSYS[:5]]
