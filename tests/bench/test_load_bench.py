"""Load throughput and memory: 1M LMSYS-shaped parquet rows, and the whole packaged ShareGPT set.

Run by hand: `pytest tests/bench/test_load_bench.py -s`. Every load runs the real
`lmsys-tui --headless load` in its own process (its peak RSS comes from wait4), on a file
this module writes. Bare-library baselines are measured in the same run on the same rows, so
the figures can be read as ratios when the machine is busy: pyarrow reading the columns the
loader reads, and SQLite inserting the loader's prepared rows into the same store schema.

Targets (2-core machine): >= 50,000 rows/s for the parquet file (language given), the whole
ShareGPT set (language detected) in <= 5 s, and a peak memory that does not grow with rows.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

PARQUET_TARGET_ROWS_S = 50_000
SHAREGPT_TARGET_S = 5.0
SIZES = (250_000, 1_000_000)

_VOCABULARY = (
    "how do I write a python function that sorts list of numbers explain the difference between"
    " tcp and udp what is capital of france translate this sentence into german give me recipe"
    " for pancakes tell story about dragon who learns to code in rust please summarise article"
)
_WORDS = _VOCABULARY.split()
_CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")


def write_lmsys_parquet(path: Path, rows: int, *, seed: int = 0, step: int = 100_000) -> Path:
    """`rows` LMSYS-Chat-1M-shaped rows, built column-wise (a million in seconds).

    1-3 user turns each with an answer, a unique first user turn, a language on every row,
    and a moderation record per message, as in the real dataset.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    pool = pa.array(
        [" ".join(rng.choice(_WORDS, rng.integers(4, 40))) for _ in range(4096)], pa.string()
    )
    writer = None
    for start in range(0, rows, step):
        n = min(step, rows - start)
        turns = rng.integers(1, 4, n)
        offsets = np.concatenate([[0], np.cumsum(turns * 2)]).astype(np.int32)
        total = int(offsets[-1])
        firsts = pc.binary_join_element_wise(
            pool.take(pa.array(rng.integers(0, len(pool), n))),
            pa.array(np.arange(start, start + n)).cast(pa.string()),
            " #",
        )
        content_idx = rng.integers(0, len(pool), total)
        content_idx[offsets[:-1]] = len(pool) + np.arange(n)  # the first turn is unique
        contents = pa.concat_arrays([pool, firsts]).take(pa.array(content_idx))
        roles = pa.array(np.tile(np.array(["user", "assistant"], dtype=object), total // 2))
        conversation = pa.ListArray.from_arrays(
            pa.array(offsets),
            pa.StructArray.from_arrays([roles, contents], names=["role", "content"]),
        )
        moderation = pa.ListArray.from_arrays(
            pa.array(offsets),
            pa.StructArray.from_arrays(
                [
                    pa.StructArray.from_arrays(
                        [pa.array(rng.random(total) < 0.01) for _ in _CATEGORIES],
                        names=list(_CATEGORIES),
                    ),
                    pa.StructArray.from_arrays(
                        [pa.array(rng.random(total)) for _ in _CATEGORIES], names=list(_CATEGORIES)
                    ),
                    pa.array(rng.random(total) < 0.02),
                ],
                names=["categories", "category_scores", "flagged"],
            ),
        )
        pick = rng.integers(0, 4, n)
        table = pa.table(
            {
                "conversation_id": pc.binary_join_element_wise(
                    "c", pa.array(np.arange(start, start + n)).cast(pa.string()), "-"
                ),
                "model": pa.array(["vicuna-13b", "koala-13b", "gpt-4", "llama-2-13b-chat"]).take(
                    pa.array(pick)
                ),
                "conversation": conversation,
                "turn": pa.array(turns.astype(np.int64)),
                "language": pa.array(["English", "German", "Chinese", "Spanish"]).take(
                    pa.array(rng.integers(0, 4, n))
                ),
                "openai_moderation": moderation,
                "redacted": pa.array(rng.random(n) < 0.05),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=50_000)
    assert writer is not None
    writer.close()
    return path


# The child's own peak RSS: wait4's ru_maxrss would carry the parent's (Linux keeps the
# high-water mark across exec), so the child reads its VmHWM just before it exits.
_WITH_PEAK = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as fh:
        kib = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM"))
    cpu = os.times().user + os.times().system
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(f"{kib} {cpu}")
atexit.register(_peak)
sys.argv = ["lmsys-tui", *sys.argv[1:]]
from lmsys_tui.cli import main
main()
"""


def measured(args: list[str], home: Path) -> tuple[dict[str, Any], float, float, float]:
    """(summary JSON, wall seconds, peak RSS MiB, CPU seconds) of one real `load` process."""
    home.mkdir(parents=True, exist_ok=True)
    peak = home / "peak-kib"
    env = dict(
        os.environ, LMSYS_TUI_HOME=str(home), PYTHONIOENCODING="utf-8", BENCH_PEAK_FILE=str(peak)
    )
    started = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", _WITH_PEAK, "--headless", "load", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    assert res.returncode == 0, res.stderr
    kib, cpu = peak.read_text().split()
    return json.loads(res.stdout), wall, int(kib) / 1024, float(cpu)


def bare_pyarrow_rows_s(path: Path) -> tuple[float, float]:
    """(rows per second, rows per CPU-second) of pyarrow reading what the loader reads."""
    import pyarrow.parquet as pq

    cols = ["conversation_id", "model", "conversation", "turn", "language"]
    cols += ["openai_moderation", "redacted"]
    started, cpu = time.perf_counter(), time.process_time()
    pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    n = sum(b.num_rows for b in pf.iter_batches(batch_size=8192, columns=cols))
    return n / (time.perf_counter() - started), n / (time.process_time() - cpu)


def prepared_rows(path: Path, limit: int = 200_000) -> list[tuple[Any, ...]]:
    """The loader's own rows for the first `limit` conversations (read, mapped, hashed)."""
    from itertools import islice

    from lmsys_tui.core import load
    from lmsys_tui.core.sources.registry import open_source
    from lmsys_tui.core.sources.spec import SourceSpec

    _, items = open_source(SourceSpec(source="file", file=path))
    convs = list(islice(items, limit))
    return [load._prepare(c) for c in convs]


def bare_sqlite_rows_s(
    db: Path, rows: list[tuple[Any, ...]], *, search_index: bool, after: bool = False
) -> tuple[float, float]:
    """SQLite alone inserting prepared rows into the store schema, as the loader does.

    Without `search_index`, the keyword-search triggers and their extra indexes are dropped
    first, to show what they cost per row. With `after`, the rows go in without the secondary
    indexes and the keyword index, which are built once at the end (the clock includes it):
    what `--build-indexes after` could reach at best.
    """
    import sqlite3

    from lmsys_tui.core import load
    from lmsys_tui.core.sources.spec import LoadOptions
    from lmsys_tui.core.store import index_backlog
    from lmsys_tui.core.store.db import open_store

    open_store(db).close()
    conn = sqlite3.connect(db)
    if not search_index:
        for name in [r[0] for r in conn.execute(TRIGGERS_AND_SEARCH_INDEXES)]:
            kind = "TRIGGER" if name.endswith(("_ai", "_ad", "_au")) else "INDEX"
            conn.execute(f"DROP {kind} {name}")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{load.LOAD_CACHE_KIB}")
    conn.execute(f"PRAGMA wal_autocheckpoint={load.LOAD_CHECKPOINT_PAGES}")
    conn.execute(
        "INSERT INTO datasets (label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES ('bare', 'file', 'done', 0, '{}', '2026', '2026')"
    )
    conn.commit()
    started, cpu = time.perf_counter(), time.process_time()
    if after:
        index_backlog.begin(conn)
    batch = LoadOptions.batch_size
    for i in range(0, len(rows), batch):
        load._insert(conn.cursor(), load._KEEP, 1, "2026-01-01 00:00:00", rows[i : i + batch])
        conn.commit()
    if after:
        index_backlog.finish(conn)
    rates = len(rows) / (time.perf_counter() - started), len(rows) / (time.process_time() - cpu)
    conn.close()
    return rates


TRIGGERS_AND_SEARCH_INDEXES = (
    "SELECT name FROM sqlite_master WHERE (type = 'trigger' AND tbl_name = 'queries')"
    " OR name IN ('ix_queries_language', 'ix_queries_model')"
)


@pytest.fixture(scope="module")
def parquet_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("lmsys-parquet")
    files = {}
    for size in SIZES:
        started = time.perf_counter()
        files[size] = write_lmsys_parquet(folder / f"lmsys-{size}.parquet", size)
        mib = files[size].stat().st_size / 2**20
        print(f"\nwrote {size:,} rows ({mib:.0f} MiB) in {time.perf_counter() - started:.1f}s")
    return files


def test_parquet_load_rate_and_flat_memory(parquet_files, tmp_path) -> None:
    results = {}
    for size, path in parquet_files.items():
        summary, wall, rss, cpu = measured(["--file", str(path)], tmp_path / f"home-{size}")
        assert (summary["loaded"], summary["skipped_total"]) == (size, 0)
        assert summary["languages_detected"] == 0
        assert summary["indexes"] == "after"  # --build-indexes auto, into an empty store
        results[size] = (summary["seconds"], wall, rss, cpu, summary["index_seconds"])
    big = parquet_files[SIZES[-1]]
    during, *_ = measured(
        ["--file", str(big), "--build-indexes", "during"], tmp_path / "home-during"
    )
    arrow = bare_pyarrow_rows_s(big)
    rows = prepared_rows(big)
    sqlite = bare_sqlite_rows_s(tmp_path / "bare.db", rows, search_index=True)
    sqlite_plain = bare_sqlite_rows_s(tmp_path / "plain.db", rows, search_index=False)
    sqlite_after = bare_sqlite_rows_s(tmp_path / "after.db", rows, search_index=True, after=True)
    load_avg = os.getloadavg()[0]
    print(f"\nparquet load (load average {load_avg:.1f} on {os.cpu_count()} cores)")
    for size, (stage_s, wall, rss, cpu, index_s) in results.items():
        print(
            f"  {size:>9,} rows: stage {size / stage_s:>9,.0f} rows/s ({stage_s:.1f}s, of which"
            f" {index_s:.1f}s building indexes at the end), process {wall:.1f}s using"
            f" {cpu:.1f} CPU-s ({size / cpu:,.0f} rows per CPU-s), peak RSS {rss:.0f} MiB"
        )
    print(
        f"  {SIZES[-1]:>9,} rows, --build-indexes during: {during['rows_per_second']:,.0f} rows/s"
        f" ({during['seconds']:.1f}s)"
    )
    stage_rate = SIZES[-1] / results[SIZES[-1]][0]
    per_cpu = SIZES[-1] / results[SIZES[-1]][3]
    for name, (rate, cpu_rate) in (
        ("bare pyarrow read of the same columns", arrow),
        ("bare SQLite insert of prepared rows (same schema)", sqlite),
        ("... without the keyword-search triggers and indexes", sqlite_plain),
        ("... every index built after the rows (as --build-indexes after)", sqlite_after),
    ):
        print(f"  {name}: {rate:,.0f} rows/s, {cpu_rate:,.0f} rows per CPU-s")
    print(f"  load / bare SQLite insert, per CPU-second: {per_cpu / sqlite[1]:.2f}")
    after_ratio = stage_rate / sqlite_after[0]
    print(f"  load / bare SQLite with indexes after, per second: {after_ratio:.2f}")
    print(
        f"  bench process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB"
    )
    small_rss, big_rss = results[SIZES[0]][2], results[SIZES[-1]][2]
    assert big_rss <= small_rss * 1.2 + 32, "peak memory grows with the row count"
    assert stage_rate >= PARQUET_TARGET_ROWS_S, f"{stage_rate:,.0f} rows/s is below the target"


def test_whole_sharegpt_set(tmp_path) -> None:
    summary, wall, rss, cpu = measured([], tmp_path / "home-sharegpt")
    print(
        f"\nShareGPT (load average {os.getloadavg()[0]:.1f}): {summary['loaded']:,} loaded,"
        f" {summary['languages_detected']:,} languages detected, skipped {summary['skipped']};"
        f" stage {summary['seconds']:.2f}s, process {wall:.2f}s ({cpu:.1f} CPU-s),"
        f" peak RSS {rss:.0f} MiB"
    )
    assert summary["languages_detected"] == summary["loaded"] > 9000
    assert summary["seconds"] <= SHAREGPT_TARGET_S
