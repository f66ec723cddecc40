"""`verify sync`: SQLite and a real Chroma folder, by ids and by content, and `--fix`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from search_fixtures import BACKEND, Seed, private_copy

from lmsys_tui.core.embed import load_vectors, resolve_space
from lmsys_tui.core.search.verify import verify_sync
from lmsys_tui.core.store import vectors
from lmsys_tui.core.store.db import Store
from lmsys_tui.errors import ExitCode, NotFoundError


@pytest.fixture
def seed(home: Path) -> Seed:
    return private_copy(home)


def _verify(seed: Seed, fix: bool = False) -> dict:
    return verify_sync(seed.db, seed.run_id, chroma_path=seed.chroma, fix=fix, backend=BACKEND)


def _queries(seed: Seed):  # type: ignore[no-untyped-def]
    return vectors.queries_collection(vectors.open_chroma(seed.chroma), resolve_space())


def _exec(seed: Seed, sql: str, args: tuple = ()) -> None:
    conn = sqlite3.connect(seed.db)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def _in_sync(seed: Seed) -> dict:
    """Summaries are not in Chroma until someone puts them there: --fix does."""
    first = _verify(seed)
    assert first["status"] == "mismatch"
    assert first["chroma"]["missing_queries"] == 0 and first["chroma"]["summary_count"] == 0
    assert any("summaries" in issue for issue in first["issues"])
    fixed = _verify(seed, fix=True)
    assert fixed["status"] == "ok", fixed["issues"]
    assert fixed["fixed"]["summaries_written"] == fixed["sqlite"]["summary_count"] > 0
    return fixed


def test_a_deleted_chroma_row_is_detected_and_fix_restores_it(seed: Seed) -> None:
    report = _in_sync(seed)
    assert report["chroma"]["queries_present"] == report["sqlite"]["queries_with_vectors"] > 0
    qid = int(
        sqlite3.connect(seed.db)
        .execute("SELECT MIN(query_id) FROM query_clusters WHERE run_id = ?", (seed.run_id,))
        .fetchone()[0]
    )
    doc = vectors.query_doc_id(qid)
    _queries(seed).delete(ids=[doc])
    broken = _verify(seed)
    assert broken["status"] == "mismatch"
    assert broken["chroma"]["missing_queries"] == 1
    assert any(str(qid) in issue for issue in broken["issues"])
    repaired = _verify(seed, fix=True)
    assert repaired["status"] == "ok" and repaired["fixed"]["queries_written"] == 1
    got = _queries(seed).get(ids=[doc], include=["embeddings", "metadatas"])
    _, stored = load_vectors(Store(seed.db, None), resolve_space(), [qid])
    assert np.allclose(np.asarray(got["embeddings"][0]), stored[0], atol=1e-6)
    assert got["metadatas"][0]["query_id"] == qid


def test_content_drift_is_detected_and_repaired(seed: Seed) -> None:
    _in_sync(seed)
    qid, cid, srid = (
        sqlite3.connect(seed.db)
        .execute(
            "SELECT qc.query_id, qc.cluster_id, s.summary_run_id FROM query_clusters qc"
            " JOIN cluster_summaries s ON s.run_id = qc.run_id AND s.cluster_id = qc.cluster_id"
            " WHERE qc.run_id = ? ORDER BY qc.query_id LIMIT 1",
            (seed.run_id,),
        )
        .fetchone()
    )
    # metadata: the row changed in SQLite after Chroma got it
    _exec(seed, "UPDATE queries SET model = 'gpt-x' WHERE id = ?", (qid,))
    # summary version: a curated title, and a query moved out of the cluster (its size)
    _exec(seed, "UPDATE cluster_summaries SET title = 'Renamed' WHERE summary_run_id = ?"
          " AND cluster_id = ?", (srid, cid))  # fmt: skip
    _exec(seed, "UPDATE clusters SET size = size - 1 WHERE run_id = ? AND cluster_id = ?",
          (seed.run_id, cid))  # fmt: skip
    # a document for a query SQLite no longer has
    _queries(seed).upsert(
        ids=["query_99999999"],
        embeddings=np.ones((1, 384), dtype=np.float32) / np.sqrt(384),
        metadatas=[{"query_id": 99999999}],
    )
    report = _verify(seed)
    chroma = report["chroma"]
    assert (chroma["metadata_mismatch"], chroma["stale_summaries"], chroma["extra_queries"]) == (
        1, 1, 1,
    )  # fmt: skip
    assert chroma["vector_mismatch"] == 0 and chroma["missing_queries"] == 0
    repaired = _verify(seed, fix=True)
    assert repaired["status"] == "ok", repaired["issues"]
    summaries = vectors.summaries_collection(vectors.open_chroma(seed.chroma), resolve_space())
    got = summaries.get(ids=[vectors.summary_doc_id(seed.run_id, cid, srid)],
                        include=["documents", "metadatas"])  # fmt: skip
    assert got["documents"][0].startswith("Renamed\n")
    assert got["metadatas"][0]["summary_run_id"] == srid
    assert _queries(seed).get(ids=[vectors.query_doc_id(qid)])["metadatas"][0]["model"] == "gpt-x"


def test_a_changed_text_is_a_stale_vector(seed: Seed) -> None:
    from lmsys_tui.core.text import text_hash

    _in_sync(seed)
    qid = (
        sqlite3.connect(seed.db)
        .execute("SELECT MAX(query_id) FROM query_clusters WHERE run_id = ?", (seed.run_id,))
        .fetchone()[0]
    )
    new = "a text that was never embedded"
    _exec(seed, "UPDATE queries SET query_text = ?, text_hash = ? WHERE id = ?",
          (new, text_hash(new), qid))  # fmt: skip
    report = _verify(seed)
    assert report["chroma"]["vector_mismatch"] == 1
    assert report["sqlite"]["queries_without_vectors"] == 1
    repaired = _verify(seed, fix=True)
    # the stale document is gone; the new text has no vector until `embed` runs
    assert repaired["status"] == "ok" and repaired["fixed"]["queries_deleted"] == 1
    assert not _queries(seed).get(ids=[vectors.query_doc_id(qid)])["ids"]


def test_no_chroma_at_all_is_a_mismatch_and_fix_builds_it(home: Path) -> None:
    seed = private_copy(home, with_chroma=False)
    report = _verify(seed)
    assert report["status"] == "mismatch" and report["chroma"]["queries_collection"] is None
    assert not seed.chroma.exists()  # checking never creates anything
    repaired = _verify(seed, fix=True)
    assert repaired["status"] == "ok"
    assert repaired["chroma"]["queries_present"] == repaired["sqlite"]["queries_with_vectors"]


def test_unknown_run_is_not_found(seed: Seed) -> None:
    with pytest.raises(NotFoundError):
        verify_sync(seed.db, "nope", chroma_path=seed.chroma)


def test_cli_report_keeps_the_reference_keys(seed: Seed, cli_env: dict[str, str]) -> None:
    args = ["--headless", "verify", "sync", seed.run_id, "--db-path", str(seed.db),
            "--chroma-path", str(seed.chroma), "--json"]  # fmt: skip
    res = run_cli(args, cli_env)
    assert res.returncode == ExitCode.FAILED, res.stderr  # a mismatch (the report is printed)
    out = json.loads(res.stdout)
    assert {"run_id", "space", "sqlite", "chroma", "status", "issues"} <= set(out)
    assert {"embedding_provider", "embedding_model", "embedding_dimension"} <= set(out["space"])
    assert "summary_count" in out["sqlite"]
    assert {"summary_count", "runs_in_summaries", "summaries_collection"} <= set(out["chroma"])
    assert out["status"] == "mismatch"  # the summaries are not in Chroma yet
    missing = run_cli([*args[:3], "no-such-run", *args[4:]], cli_env)
    assert missing.returncode == ExitCode.NOT_FOUND and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1
