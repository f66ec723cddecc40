"""README "Editing clusters": its example block runs as written, in a fresh home, and ends with
`verify sync` passing (SQLite and Chroma agree after the edits) and the new summary pass
keeping the edits."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Editing clusters", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the README example pipes into jq")
def test_the_readme_edit_example_runs_as_written(home: Path, cli_env: dict[str, str]) -> None:
    script = (
        f'set -euo pipefail\nlmsys-tui() {{ "{sys.executable}" -m lmsys_tui "$@"; }}\n' + _block()
    )
    res = subprocess.run(
        ["bash", "-c", script], env=cli_env, capture_output=True, text=True, timeout=900
    )
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    edits = json.loads(lines[-1])  # the new pass's `edits`
    assert edits["not_applied"] == [] and len(edits["applied"]) == 3  # rename, merge, split
    audit = [line for line in lines if re.fullmatch(r"\d+ \w+ by \S+", line)]
    assert [a.split()[1] for a in audit] == [
        "rename", "tag", "flag", "move_queries", "merge", "split", "delete",
    ]  # fmt: skip
