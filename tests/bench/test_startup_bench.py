"""Start-up cost of the headless door, whole process, against the interpreter floor.

Run: pytest tests/bench/test_startup_bench.py -s
Targets (issue 2): `--headless --help` <= 0.3 s and `--headless runs --json` <= 0.5 s
(the reference CLI needs 5.7 s for `--help`). The floor is a bare `python -c pass` and
`python -c "import typer"` in the same run, so a noisy machine shows up in both.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

RUNS = 15


def _time(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(args, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - t)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


@pytest.fixture
def loaded_env(cli_env):
    subprocess.run(
        [sys.executable, "-m", "lmsys_tui", "--headless", "load", "--limit", "2000"],
        env=cli_env,
        capture_output=True,
        check=True,
    )
    return cli_env


def test_headless_start_up(loaded_env) -> None:
    py = sys.executable
    cases = {
        "python -c pass (floor)": [py, "-c", "pass"],
        "python -c 'import typer' (floor)": [py, "-c", "import typer"],
        "lmsys-tui --headless --help": [py, "-m", "lmsys_tui", "--headless", "--help"],
        "lmsys-tui --headless runs --json": [py, "-m", "lmsys_tui", "--headless", "runs", "--json"],
        "lmsys-tui --headless datasets --json": [
            py, "-m", "lmsys_tui", "--headless", "datasets", "--json",
        ],
    }  # fmt: skip
    results = {name: _time(args, loaded_env) for name, args in cases.items()}
    print()
    print(f"{'command':40} {'median s':>9} {'p90 s':>7}")
    for name, (median, p90) in results.items():
        print(f"{name:40} {median:9.3f} {p90:7.3f}")
    assert results["lmsys-tui --headless --help"][0] <= 0.3
    assert results["lmsys-tui --headless runs --json"][0] <= 0.5
