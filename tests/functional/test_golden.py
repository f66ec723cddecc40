"""Golden files: the `--json` output of every listing command, so a shape change is a reviewed diff.

The store is fixed and small: tests/tui_store.py writes the queries, two runs (one with noise),
two summary passes and a hierarchy; this module writes each query's vector straight into the
embedding store and fills Chroma from it (backfill, and the summaries of both passes). Vectors
come from a fake encoder (signed word hashing into the model's 384 dimensions), which also
embeds the search texts, so no model is loaded and every distance is reproducible.

The cases are chosen so that no two results shown are tied at a distance that float rounding
could order either way (exact ties, such as clusters sharing no word with the text at distance
1.0, are broken by id). Each case runs the real headless CLI in this process and compares its
JSON, normalised (the store's path becomes `<home>`, wall-clock durations `<seconds>`, floats
keep 4 decimals, Chroma's own metadata is key-sorted: Chroma does not keep its order), with
`tests/golden/<case>.json`. After a deliberate change, rewrite them with
`LMSYS_TUI_UPDATE_GOLDEN=1 pytest tests/functional/test_golden.py` and review the diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tui_store
from tui_store import FLAT_RUN, HIER_ID, PASS_CLAUDE, PASS_V1, RUN_ID

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("LMSYS_TUI_UPDATE_GOLDEN") == "1"
VOLATILE = {"seconds"}  # wall-clock durations
UNORDERED = {"metadata"}  # Chroma's collection metadata: its key order changes between runs
DIM = 384  # the run's space: the bundled all-MiniLM-L6-v2

CASES: dict[str, list[str]] = {
    "runs": ["runs"],
    "runs-latest": ["runs", "--latest"],
    "datasets": ["datasets"],
    "status": ["status"],
    "list-clusters": ["list-clusters", RUN_ID],
    "list-clusters-noise-examples": ["list-clusters", FLAT_RUN, "--show-examples", "2"],
    "list-clusters-pass-alias": ["list-clusters", RUN_ID, "--alias", "v1", "--limit", "3"],
    "inspect": ["inspect", RUN_ID, "5", "--show-queries", "3"],
    "inspect-noise": ["inspect", FLAT_RUN, "--show-queries", "2", "--", "-1"],
    "inspect-pass": ["inspect", RUN_ID, "0", "--summary-run-id", PASS_V1, "--show-queries", "1"],
    "list": ["list", "--run-id", RUN_ID, "--limit", "4"],
    "list-next-page": ["list", "--run-id", RUN_ID, "--limit", "4", "--after-id", "4"],
    "list-filtered": ["list", "--run-id", RUN_ID, "--cluster-id", "2", "--language", "en"],
    "show-hierarchy": ["show-hierarchy", HIER_ID],
    "show-hierarchy-depth": ["show-hierarchy", HIER_ID, "--max-depth", "1"],
    "search-semantic": ["search", "write a polite email", "--run-id", RUN_ID,
                        "--n-results", "4", "--facets", "cluster,language,model"],
    "search-keyword": ["search", "python", "--mode", "keyword", "--run-id", RUN_ID,
                       "--n-results", "3", "--by", "model"],
    "search-hybrid-filtered": ["search", "recipe", "--mode", "hybrid", "--run-id", RUN_ID,
                               "--language", "en", "--n-results", "2"],
    "search-within-clusters": ["search", "recipe for dinner", "--run-id", RUN_ID,
                               "--within-clusters", "cooking recipes", "--top-clusters", "2",
                               "--n-results", "3"],
    "search-clusters": ["search", "translation of words", "--search-type", "clusters",
                        "--run-id", RUN_ID, "--n-results", "3"],
    "search-cluster": ["search-cluster", "translation of words", "--run-id", RUN_ID,
                       "--alias", "claude", "--top-k", "3"],
    "search-cluster-no-summaries": ["search-cluster", "python error", "--run-id", FLAT_RUN],
    "chroma-info": ["chroma", "info"],
    "verify-sync": ["verify", "sync", RUN_ID],
}  # fmt: skip


class WordHashEncoder:
    """Signed hashing of lower-cased words into DIM buckets, L2-normalised: texts that share
    words are near, and the vectors are the same on every machine (blake2b, not Python's
    salted hash)."""

    name = "word-hash"

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, int.from_bytes(digest[:4], "little") % DIM] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        ok = norms[:, 0] > 0
        out[ok] /= norms[ok]
        return out, ok


def _fake_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    from lmsys_tui.core.embed import encoders

    encoder = WordHashEncoder()
    monkeypatch.setattr(encoders, "get_encoder", lambda *a, **k: (encoder, None))


def _build(home: Path) -> None:
    from lmsys_tui.core import chroma
    from lmsys_tui.core.embed import resolve_space
    from lmsys_tui.core.store import sql
    from lmsys_tui.core.store.db import open_store
    from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
    from lmsys_tui.core.summarize import index_summaries
    from lmsys_tui.core.text import normalise, text_hash

    space = resolve_space()
    assert space.dim == DIM
    store = open_store(home / "queries.db")
    try:
        tui_store.build(store)
        with sql.connection(store) as conn:
            texts = [normalise(t) for (t,) in sql.tuples(conn, "SELECT query_text FROM queries")]
        vectors, ok = WordHashEncoder().encode(texts)
        assert ok.all()
        with EmbeddingStore(embeddings_path(store.path)) as embedded:
            embedded.put(embedded.ensure_space(space), [text_hash(t) for t in texts], vectors)
        chroma.backfill(store, space, path=home / "chroma")
        for pass_id in (PASS_V1, PASS_CLAUDE):
            index_summaries(store, RUN_ID, pass_id, chroma_path=str(home / "chroma"))
    finally:
        store.close()


@pytest.fixture(scope="module")
def golden_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("golden") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LMSYS_TUI_HOME", str(home))
        _fake_encoder(mp)
        _build(home)
    return home


@pytest.fixture
def headless(
    golden_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """Run `lmsys-tui --headless ARGS --json` here, against the golden store; its JSON."""
    from lmsys_tui.cli import main

    monkeypatch.setenv("LMSYS_TUI_HOME", str(golden_home))
    _fake_encoder(monkeypatch)

    def run(args: list[str]) -> Any:
        end = args.index("--") if "--" in args else len(args)  # "--" ends the options
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main(["--headless", *args[:end], "--json", *args[end:]])
        out, err = capsys.readouterr()
        assert ended.value.code in (0, None), err
        return json.loads(out)

    yield run


def normalise(value: Any, home: str) -> Any:
    """What may differ between two runs of the same code: the path, durations, float noise."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE and item is not None:
                out[key] = "<seconds>"
            elif key in UNORDERED and isinstance(item, dict):
                out[key] = normalise(dict(sorted(item.items())), home)
            else:
                out[key] = normalise(item, home)
        return out
    if isinstance(value, list):
        return [normalise(v, home) for v in value]
    if isinstance(value, str):
        return value.replace(home, "<home>")
    if isinstance(value, float):
        return round(value, 4)
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_json_output_matches_its_golden_file(case: str, headless: Any, golden_home: Path) -> None:
    got = normalise(headless(CASES[case]), str(golden_home))
    text = json.dumps(got, ensure_ascii=False, indent=2) + "\n"
    path = GOLDEN / f"{case}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no {path.name}: run with LMSYS_TUI_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"--json of {' '.join(CASES[case])} changed: if that is meant, rewrite the golden files"
        " with LMSYS_TUI_UPDATE_GOLDEN=1 and review the diff"
    )


def test_every_listing_command_has_a_golden_case() -> None:
    from lmsys_tui.actions import ACTIONS

    listing = {
        *("runs", "datasets", "status", "list-clusters", "inspect", "list", "show-hierarchy"),
        *("search", "search-cluster", "chroma info", "verify sync"),
    }
    groups = {"chroma", "verify"}
    covered = {" ".join(a[:2]) if a[0] in groups else a[0] for a in CASES.values()}
    assert listing <= covered
    assert listing <= {a.command for a in ACTIONS}
    on_disk = {p.stem for p in GOLDEN.glob("*.json")}
    assert UPDATE or on_disk == set(CASES), "golden files without a case, or cases without one"
