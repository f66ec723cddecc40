"""The embedding stage on real ShareGPT first turns with the real bundled MiniLM.

The sample (tests/embed_sample.py) is embedded once per process; each test copies its store.
What is shown: the cache (a second run embeds nothing and never loads the model; identical
texts share one vector), cancel-and-resume without redoing batches, empty and unreadable texts
excluded (never zero vectors), truncation of a 60k-char text, ONNX agreeing with torch, vector
reads in any order, and the openai provider over real HTTP to a local server.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import embed_sample
import numpy as np
import pytest
from conftest import run_cli

from lmsys_tui.core.embed import (
    MissingVectorsError,
    embed_queries,
    embed_texts,
    load_vectors,
    resolve_space,
    select_query_ids,
)
from lmsys_tui.core.embed import stage as embed_stage
from lmsys_tui.core.embed.onnx_export import export_dir
from lmsys_tui.core.embed.onnx_runtime import AGREEMENT
from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store.db import open_store
from lmsys_tui.core.store.embeddings import EmbeddingStore, embeddings_path
from lmsys_tui.core.text import text_hash
from lmsys_tui.errors import ExitCode, NeedsKeyError, NotFoundError, UsageError

pytestmark = pytest.mark.slow


def _ids_by_conversation(store, *conv_ids: str) -> list[int]:
    conn = sqlite3.connect(store.path)
    try:
        found = dict(
            conn.execute(
                f"SELECT conversation_id, id FROM queries WHERE conversation_id IN"
                f" ({','.join('?' * len(conv_ids))})",
                conv_ids,
            ).fetchall()
        )
    finally:
        conn.close()
    return [found[c] for c in conv_ids]


def _query_count(store) -> int:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    finally:
        conn.close()


# -- cancel and resume ------------------------------------------------------------------------


def test_cancelled_run_keeps_its_batches_and_the_rerun_does_not_redo_them(sample) -> None:
    B, K = embed_sample.BATCH, embed_sample.CANCEL_AFTER
    assert sample.first_error is not None
    assert sample.first_error.code == ExitCode.INTERRUPTED
    assert f"in {K} batches" in sample.first_error.message
    assert sample.stored_after_cancel == K * B  # exactly the committed batches
    resumed = sample.resumed
    assert resumed.status == "done"
    assert resumed.already_stored == K * B
    readable = resumed.distinct_texts - 1  # the zero-width text is the one unreadable
    assert resumed.embedded == readable - K * B  # the model saw each remaining text once
    assert resumed.batches == -(-(resumed.distinct_texts - K * B) // B)
    # the first run's segments are untouched: the rerun only appended
    after = embed_sample.segments(sample.folder)
    assert after[:K] == sample.segments_after_cancel
    assert len(after) <= K + resumed.batches  # one segment per batch that stored a vector
    assert sum(len(seg) for seg in after) == readable * 384 * 4


# -- the cache ----------------------------------------------------------------------------------


def test_second_run_embeds_nothing_and_loads_no_model(filled, sample) -> None:
    again = embed_queries(filled, sample.space, cache_dir=sample.cache_dir)
    assert again.embedded == 0 and again.batches == 0
    assert again.backend == "none"  # no encoder was even asked for
    assert again.already_stored == sample.resumed.distinct_texts - 1
    assert again.requested == sample.resumed.requested == _query_count(filled)


def test_identical_texts_are_embedded_once_and_share_a_vector(filled, sample) -> None:
    first_real, dup_a, dup_b = _ids_by_conversation(
        filled, _first_real_conversation(filled), "dup-a", "dup-b"
    )
    resumed = sample.resumed
    # the sample has the first real text three times (one differs in whitespace only)
    assert resumed.requested - resumed.distinct_texts >= 2 + 1  # 2 copies + the blank text
    ids, X = load_vectors(filled, sample.space, [first_real, dup_a, dup_b])
    assert ids.tolist() == [first_real, dup_a, dup_b]
    assert np.array_equal(X[0], X[1]) and np.array_equal(X[0], X[2])
    conn = sqlite3.connect(embeddings_path(filled.path))
    digest = text_hash(sample.real_texts[0])
    assert (
        conn.execute("SELECT COUNT(*) FROM idx_1 WHERE text_hash = ?", (digest,)).fetchone()[0] == 1
    )
    conn.close()


def _first_real_conversation(store) -> str:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute("SELECT conversation_id FROM queries ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()


# -- exclusions and truncation -----------------------------------------------------------------


def test_empty_and_unreadable_texts_get_no_vector(filled, sample) -> None:
    blank, zero_width = _ids_by_conversation(filled, "blank", "zero-width")
    assert sample.resumed.empty_excluded == 2
    ids, X = load_vectors(filled, sample.space)
    assert blank not in ids and zero_width not in ids
    assert len(ids) == _query_count(filled) - 2
    norms = np.linalg.norm(X, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)  # no zero vector anywhere
    with EmbeddingStore(embeddings_path(filled.path)) as vs:
        sid = vs.find_space(sample.space)
        assert text_hash("\u200b\u200b\u200b") in vs.excluded(sid)
        assert vs.stored(sid, [embed_stage.EMPTY_HASH]) == set()
    # asked for by id, they are simply left out (the caller compares ids)
    ids2, X2 = load_vectors(filled, sample.space, [blank, zero_width])
    assert len(ids2) == 0 and X2.shape == (0, 384)


def test_embed_texts_refuses_an_empty_text(sample) -> None:
    with pytest.raises(UsageError):
        embed_texts(sample.space, ["   "], cache_dir=sample.cache_dir)


def test_a_text_past_the_token_limit_is_truncated_not_failed(filled, sample) -> None:
    (long_id,) = _ids_by_conversation(filled, "long")
    ids, X = load_vectors(filled, sample.space, [long_id])
    assert ids.tolist() == [long_id]
    # only the first 256 tokens count: the first 4,000 characters are the same input
    whole, head = embed_texts(
        sample.space, [sample.long_text, sample.long_text[:4000]], cache_dir=sample.cache_dir
    )
    assert float(whole @ head) > 0.9999
    # the stored vector came from another batch: int8 scales its activations per batch
    assert float(X[0] @ head) > 0.99
    shorter = embed_texts(sample.space, [sample.long_text[:300]], cache_dir=sample.cache_dir)
    assert float(X[0] @ shorter[0]) < 0.98  # and the prefix is not trivially the same


# -- backends ----------------------------------------------------------------------------------


def test_onnx_agrees_with_torch_on_real_texts(sample) -> None:
    texts = sample.real_texts[:24]
    onnx = embed_texts(sample.space, texts, backend="onnx", cache_dir=sample.cache_dir)
    torch = embed_texts(sample.space, texts, backend="torch", cache_dir=sample.cache_dir)
    cos = (onnx * torch).sum(axis=1)
    assert cos.min() >= AGREEMENT and cos.mean() > 0.999
    # and the nearest neighbour of each text is the same under both
    assert ((onnx @ onnx.T - 2 * np.eye(24)).argmax(1) == (torch @ torch.T - 2 * np.eye(24))
            .argmax(1)).all()  # fmt: skip
    meta = json.loads((export_dir(sample.cache_dir, sample.space) / "meta.json").read_text())
    assert meta["fp32"]["min_cosine"] >= AGREEMENT


def _auto_variant(space) -> str:
    """What `auto` runs on a CPU: the measured choice (variants.json), else the fp32 export."""
    from lmsys_tui.core.embed.variants import measured_choice

    measured = measured_choice(space.model)
    return measured[0] if measured else "onnx"


def test_auto_uses_the_measured_variant_on_a_cpu(sample) -> None:
    # CPU machine: auto means the ONNX variant the stored measurement chose (its export's
    # probe cosine holds, as meta.json records)
    assert sample.resumed.backend == _auto_variant(sample.space) != "torch"


def test_unknown_backend_is_a_usage_error(filled, sample) -> None:
    with pytest.raises(UsageError):
        embed_queries(filled, resolve_space(), backend="tensorrt")


# -- reading vectors ---------------------------------------------------------------------------


def test_load_vectors_follows_the_given_order_and_both_read_paths_agree(
    filled, sample, monkeypatch
) -> None:
    all_ids, X = load_vectors(filled, sample.space)
    assert (np.diff(all_ids) > 0).all()  # by query id
    pick = [int(all_ids[9]), int(all_ids[3]), int(all_ids[200]), int(all_ids[3])]
    ids, Y = load_vectors(filled, sample.space, pick)  # few: read one by one
    assert ids.tolist() == pick
    rows = {int(q): i for i, q in enumerate(all_ids)}
    assert np.array_equal(Y, X[[rows[q] for q in pick]])
    # a long id list reads (id, hash) from the index scan instead of id lookups
    monkeypatch.setattr(embed_stage, "_FULL_SCAN_OVER", 2)
    ids2, Y2 = load_vectors(filled, sample.space, pick)
    assert ids2.tolist() == pick and np.array_equal(Y2, Y)


def test_queries_loaded_after_embedding_must_be_embedded_first(filled, sample) -> None:
    info = SourceInfo(source="file", ref="t", default_label="later", detect_language=False)
    run_load(filled, iter([Conversation("n1", "a brand new question about owls")]), info)
    with pytest.raises(MissingVectorsError) as err:
        load_vectors(filled, sample.space)
    assert err.value.code == ExitCode.NOT_FOUND
    (new_id,) = _ids_by_conversation(filled, "n1")
    later = select_query_ids(filled, "later")
    assert later == [new_id]
    done = embed_queries(filled, sample.space, later, cache_dir=sample.cache_dir)
    assert (done.requested, done.embedded) == (1, 1)
    ids, _ = load_vectors(filled, sample.space)
    assert new_id in ids


def test_unknown_ids_and_datasets_are_not_found(filled, sample) -> None:
    with pytest.raises(NotFoundError):
        load_vectors(filled, sample.space, [10**9])
    with pytest.raises(NotFoundError):
        select_query_ids(filled, "no-such-dataset")


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_embed_json_embeds_only_new_texts(sample, home, cli_env) -> None:
    db = sample.copy_to(home)
    store = open_store(db)
    extra = [Conversation(f"x{i}", f"how do I bake bread number {i}?") for i in range(5)]
    info = SourceInfo(source="file", ref="t", default_label="extra", detect_language=False)
    run_load(store, iter(extra), info)
    store.close()
    res = run_cli(["--headless", "embed", "--json", "--embed-batch-size", "2"], cli_env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert (data["embedded"], data["batches"]) == (5, 3)
    assert data["backend"] == _auto_variant(sample.space)
    assert data["space"]["key"] == "sentence-transformers/all-MiniLM-L6-v2/384"
    assert data["already_stored"] == sample.resumed.distinct_texts - 1
    again = json.loads(run_cli(["--headless", "embed", "--json"], cli_env).stdout)
    assert again["embedded"] == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--backend", "tensorrt"], ExitCode.USAGE),
        (["--dataset", "missing"], ExitCode.NOT_FOUND),
        (["--limit", "0"], ExitCode.USAGE),
        (["--embedding-provider", "voyage"], ExitCode.USAGE),
        (["--embedding-provider", "cohere"], ExitCode.NEEDS_KEY),
        (["--embedding-provider", "openai"], ExitCode.NEEDS_KEY),
        (["--embedding-provider", "openai", "--embedding-model", "text-embedding-9"],
         ExitCode.USAGE),
    ],
)  # fmt: skip
def test_cli_embed_errors_are_one_line_with_their_code(sample, home, cli_env, args, code) -> None:
    sample.copy_to(home)
    res = run_cli(["--headless", "embed", *args], cli_env)
    assert res.returncode == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert res.stdout == ""


# -- openai over real HTTP ---------------------------------------------------------------------


def _fake_vector(text: str, dim: int) -> list[float]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dim).tolist()


class _Embeddings(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings like OpenAI, with vectors derived from the text."""

    calls: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(body | {"auth": self.headers.get("Authorization")})
        if not self.path.endswith("/embeddings"):
            self.send_error(404)
            return
        dim = body.get("dimensions") or 1536
        data = [
            {"object": "embedding", "index": i, "embedding": _fake_vector(t, dim)}
            for i, t in enumerate(body["input"])
        ]
        payload = json.dumps(
            {
                "object": "list",
                "data": data[::-1],  # out of order on purpose: the client sorts by index
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def openai_server(monkeypatch) -> Iterator[type[_Embeddings]]:
    _Embeddings.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    yield _Embeddings
    server.shutdown()
    server.server_close()


def test_openai_provider_over_http_embeds_each_text_once(filled, sample, openai_server) -> None:
    space = resolve_space("openai", "text-embedding-3-small", 64)
    assert space.key == "openai/text-embedding-3-small/64"
    subset = select_query_ids(filled, limit=50)
    done = embed_queries(filled, space, subset, batch_size=16)
    assert done.backend == "openai" and done.embedded == done.distinct_texts
    sent = [t for call in openai_server.calls for t in call["input"]]
    assert len(sent) == len(set(sent)) == done.distinct_texts  # each text once
    assert all(len(c["input"]) <= 16 for c in openai_server.calls)
    assert {c["dimensions"] for c in openai_server.calls} == {64}
    assert {c["auth"] for c in openai_server.calls} == {"Bearer sk-test-local"}
    ids, X = load_vectors(filled, space, subset)
    assert X.shape == (50, 64)
    expected = np.asarray(_fake_vector(sent[-1], 64), dtype=np.float32)
    expected /= np.linalg.norm(expected)
    hit = [i for i, q in enumerate(ids) if text_hash(_text(filled, int(q))) == text_hash(sent[-1])]
    assert np.allclose(X[hit[0]], expected, atol=1e-6)  # the server's vector, normalised
    again = embed_queries(filled, space, subset)
    assert again.embedded == 0 and len(openai_server.calls) == done.batches


def _text(store, qid: int) -> str:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute("SELECT query_text FROM queries WHERE id = ?", (qid,)).fetchone()[0]
    finally:
        conn.close()


def test_openai_without_a_key_needs_a_key(filled, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    space = resolve_space("openai")  # resolving needs no key: stored vectors need none
    assert space.dim == 1536
    with pytest.raises(NeedsKeyError) as err:
        embed_queries(filled, space, select_query_ids(filled, limit=3))
    assert err.value.code == ExitCode.NEEDS_KEY and "OPENAI_API_KEY" in err.value.message


def test_space_resolution_is_cheap_and_checks_dimensions(tmp_path) -> None:
    space = resolve_space("sentence-transformers", "sentence-transformers/all-MiniLM-L6-v2")
    assert space == resolve_space() and space.to_dict()["key"] == space.key
    with pytest.raises(UsageError):
        resolve_space(dimensions=128)  # MiniLM gives 384
    with pytest.raises(UsageError):
        resolve_space("openai", "text-embedding-ada-002", 256)
    assert resolve_space("openai", "text-embedding-3-large").dim == 3072
    # a local folder is a model too; its size comes from its config files
    folder = tmp_path / "my-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(
        json.dumps([{"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}])
    )
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 7}))
    assert resolve_space(model=str(folder)).dim == 7


def test_store_reads_are_right_even_when_hashes_share_their_first_8_bytes(store) -> None:
    """The vectorised read matches on the first 8 bytes of a hash, then checks the rest."""
    from lmsys_tui.core.embed.space import Space

    space = Space("sentence-transformers", "synthetic", 4)
    twins = ["ab" * 8 + f"{i:016x}" for i in range(3)]  # same first 8 bytes
    others = [hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest() for i in range(40)]
    hashes = twins + others
    matrix = np.arange(len(hashes) * 4, dtype=np.float32).reshape(-1, 4)
    conn = sqlite3.connect(store.path)
    conn.execute(
        "INSERT INTO datasets (id, label, source, status, query_count, parameters, created_at,"
        " updated_at) VALUES (1, 's', 'file', 'done', 0, '{}', 'x', 'x')"
    )
    rows = [(str(i), f"q{i}", h) for i, h in enumerate([*hashes, twins[1]])]  # twin 1 twice
    conn.executemany(
        "INSERT INTO queries (dataset_id, conversation_id, query_text, text_hash, created_at)"
        " VALUES (1, ?, ?, ?, 'x')",
        rows,
    )
    conn.commit()
    conn.close()
    with EmbeddingStore(embeddings_path(store.path)) as vs:
        sid = vs.ensure_space(space)
        for i in range(0, len(hashes), 7):  # several segments
            assert vs.put(sid, hashes[i : i + 7], matrix[i : i + 7]) == len(hashes[i : i + 7])
        assert vs.put(sid, hashes[:7], matrix[:7] + 100) == 0  # stored once, never replaced
        assert vs.count(sid) == len(hashes)
    ids, X = load_vectors(store, space)  # all: the scan path
    assert ids.tolist() == list(range(1, len(hashes) + 2))
    assert np.array_equal(X[: len(hashes)], matrix) and np.array_equal(X[-1], matrix[1])
    ids2, X2 = load_vectors(store, space, [len(hashes) + 1, 3, 1])  # few: the lookup path
    assert ids2.tolist() == [len(hashes) + 1, 3, 1]
    assert np.array_equal(X2, matrix[[1, 2, 0]])
