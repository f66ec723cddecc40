"""Chroma with real clients in temp dirs (embedded) and a real `chroma run` server.

Backfill copies stored vectors into the space's collection: exactly the missing queries,
never calling a model; the collection uses cosine distance and carries the query metadata;
`chroma info` shows the space. The embedded sample comes from tests/embed_sample.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from lmsys_tui.core import chroma
from lmsys_tui.core.embed import load_vectors
from lmsys_tui.core.store import vectors
from lmsys_tui.errors import ExitCode, UsageError

pytestmark = pytest.mark.slow


def _collection(home: Path, sample):
    client = vectors.open_chroma(home / "chroma")
    return vectors.queries_collection(client, sample.space, create=False)


def _readable_ids(store, sample) -> list[int]:
    ids, _ = load_vectors(store, sample.space)
    return ids.tolist()


def test_backfill_adds_exactly_the_missing_queries(filled, sample, home) -> None:
    expected = _readable_ids(filled, sample)
    first = chroma.backfill(filled, sample.space, path=home / "chroma", chunk_size=64)
    assert (first.added, first.already_present, first.not_embedded) == (len(expected), 0, 0)
    assert first.empty == 2  # the whitespace-only and the zero-width text: nothing to embed
    collection = _collection(home, sample)
    assert collection.count() == len(expected)
    gone = [vectors.query_doc_id(q) for q in expected[10:17]]
    collection.delete(ids=gone)
    again = chroma.backfill(filled, sample.space, path=home / "chroma", chunk_size=64)
    assert again.added == 7 and again.already_present == len(expected) - 7
    assert set(collection.get(ids=gone, include=[])["ids"]) == set(gone)
    assert chroma.backfill(filled, sample.space, path=home / "chroma").added == 0


def test_stored_vectors_and_metadata_reach_chroma_with_cosine_distance(
    filled, sample, home
) -> None:
    chroma.backfill(filled, sample.space, path=home / "chroma")
    collection = _collection(home, sample)
    assert vectors.distance_of(collection) == "cosine"
    assert collection.configuration["hnsw"]["space"] == "cosine"
    ids, X = load_vectors(filled, sample.space)
    got = collection.get(ids=[vectors.query_doc_id(ids[5])], include=["embeddings", "metadatas"])
    assert np.allclose(np.asarray(got["embeddings"][0]), X[5], atol=1e-6)
    meta = got["metadatas"][0]
    conn = sqlite3.connect(filled.path)
    row = conn.execute(
        "SELECT model, language, conversation_id, dataset_id FROM queries WHERE id = ?",
        (int(ids[5]),),
    ).fetchone()
    conn.close()
    assert meta["query_id"] == int(ids[5])
    assert (meta.get("model"), meta["language"], meta["conversation_id"], meta["dataset_id"]) == row
    assert None not in meta.values()
    # a stored vector finds its own query first, at cosine distance ~0, others within [0, 2]
    hits = collection.query(query_embeddings=[X[40].tolist()], n_results=5)
    assert hits["ids"][0][0] == vectors.query_doc_id(ids[40])
    assert abs(hits["distances"][0][0]) < 1e-4  # float32 rounding may put it a hair below 0
    assert all(-1e-4 <= d <= 2 for d in hits["distances"][0])


def test_backfill_never_runs_a_model(sample, home, cli_env) -> None:
    sample.copy_to(home)
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0]"
        " in ('torch', 'sentence_transformers', 'onnxruntime', 'tokenizers'))), file=sys.stderr))\n"
        "sys.argv = ['lmsys-tui', '--headless', 'backfill-chroma', '--json']\n"
        "from lmsys_tui.cli import main\nmain()\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["added"] == data["collection_count"] > 200
    assert json.loads(res.stderr.strip().splitlines()[-1]) == []  # no model library loaded


def test_chroma_info_lists_collections_counts_and_spaces(sample, home, cli_env) -> None:
    sample.copy_to(home)
    empty = run_cli(["--headless", "chroma", "info", "--json"], cli_env)
    assert json.loads(empty.stdout) == {"collections": []}
    assert not (home / "chroma").exists()  # asking does not create anything
    res = run_cli(["--headless", "embed", "--use-chroma", "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["embedded"] == 0 and data["chroma"]["added"] > 200
    info = json.loads(run_cli(["--headless", "chroma", "info", "--json"], cli_env).stdout)
    (col,) = info["collections"]
    assert col["name"] == vectors.queries_collection_name(sample.space)
    assert col["count"] == data["chroma"]["added"]
    assert col["distance"] == "cosine" and col["kind"] == "queries"
    assert col["space"] == sample.space.to_dict()
    table = run_cli(["--headless", "chroma", "info"], cli_env)
    assert "cosine" in table.stdout and "queries" in table.stdout


def test_a_collection_with_l2_distance_is_refused(filled, sample, home) -> None:
    client = vectors.open_chroma(home / "chroma")
    client.create_collection(
        vectors.queries_collection_name(sample.space), embedding_function=None
    )  # Chroma's default distance is l2, as the reference made it
    with pytest.raises(UsageError, match="l2 distance"):
        chroma.backfill(filled, sample.space, path=home / "chroma")


def test_collection_names_follow_chromas_rules_and_never_collide() -> None:
    from lmsys_tui.core.embed.space import Space

    long_a = Space("sentence-transformers", "/home/someone/models/" + "x" * 80 + "/a", 384)
    long_b = Space("sentence-transformers", "/home/someone/models/" + "x" * 80 + "/b", 384)
    names = {vectors.queries_collection_name(s) for s in (long_a, long_b)}
    assert len(names) == 2
    for name in names:
        assert 3 <= len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()
    short = Space("openai", "text-embedding-3-small", 256)
    assert vectors.queries_collection_name(short) == "queries_openai_text-embedding-3-small_256"


def test_unreachable_server_needs_the_network(sample, home, cli_env) -> None:
    sample.copy_to(home)
    port = _free_port()
    res = run_cli(
        ["--headless", "backfill-chroma", "--chroma-host", "127.0.0.1", "--chroma-port",
         str(port)], cli_env,
    )  # fmt: skip
    assert res.returncode == ExitCode.NEEDS_KEY, res.stderr
    assert res.stderr.count("\n") == 1 and "cannot reach the Chroma server" in res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path) -> Iterator[int]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("the chroma server binary is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port",
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_backfill_and_info_against_a_chroma_server(filled, sample, chroma_server) -> None:
    summary = chroma.backfill(filled, sample.space, host="127.0.0.1", port=chroma_server)
    assert summary.added == len(_readable_ids(filled, sample))
    assert summary.chroma == f"http://127.0.0.1:{chroma_server}"
    info = chroma.info(host="127.0.0.1", port=chroma_server)
    (col,) = info["collections"]
    assert (col["count"], col["distance"]) == (summary.added, "cosine")
