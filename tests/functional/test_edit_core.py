"""Curation edits on a real store (ShareGPT, MiniLM, a real Chroma folder): each edit keeps
sizes, hierarchy roll-ups and Chroma in step (`verify sync` passes after every one), undo puts
the rows back exactly, and bad ids change nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from search_fixtures import BACKEND, Seed, private_copy

from lmsys_tui.core.curate import labels, membership
from lmsys_tui.core.curate.frame import Chroma
from lmsys_tui.core.curate.snapshot import TABLES
from lmsys_tui.core.curate.undo import undo
from lmsys_tui.core.search.verify import verify_sync
from lmsys_tui.errors import NotFoundError, UsageError


@pytest.fixture
def seed(home: Path) -> Seed:
    s = private_copy(home)
    assert _verify(s, fix=True)["status"] == "ok"  # summaries into Chroma, as --use-chroma does
    return s


def _verify(seed: Seed, fix: bool = False) -> dict:
    return verify_sync(seed.db, seed.run_id, chroma_path=seed.chroma, fix=fix, backend=BACKEND)


def _chroma(seed: Seed) -> Chroma:
    return Chroma(path=seed.chroma, backend=BACKEND)


def _q(seed: Seed, sql: str, *args: Any) -> list[tuple]:
    conn = sqlite3.connect(seed.db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table an edit may change, in id order."""
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}
    finally:
        conn.close()


def assert_consistent(seed: Seed) -> None:
    """Sizes equal memberships; every hierarchy leaf equals its cluster; parents sum children."""
    run = seed.run_id
    assert _q(seed, "SELECT c.cluster_id, c.size, (SELECT COUNT(*) FROM query_clusters qc WHERE"
              " qc.run_id = c.run_id AND qc.cluster_id = c.cluster_id) FROM clusters c WHERE"
              " c.run_id = ? AND c.size != (SELECT COUNT(*) FROM query_clusters qc WHERE"
              " qc.run_id = c.run_id AND qc.cluster_id = c.cluster_id)", run) == []  # fmt: skip
    assert _q(seed, "SELECT qc.cluster_id FROM query_clusters qc WHERE qc.run_id = ? AND NOT"
              " EXISTS (SELECT 1 FROM clusters c WHERE c.run_id = qc.run_id AND"
              " c.cluster_id = qc.cluster_id)", run) == []  # fmt: skip
    leaves = _q(seed, "SELECT h.cluster_id, h.query_count, c.size FROM cluster_hierarchies h"
                " LEFT JOIN clusters c ON c.run_id = h.run_id AND c.cluster_id = h.cluster_id"
                " WHERE h.run_id = ? AND h.level = 0", run)  # fmt: skip
    assert leaves and all(count == size for _, count, size in leaves), leaves
    parents = _q(seed, "SELECT p.cluster_id, p.query_count, (SELECT SUM(c.query_count) FROM"
                 " cluster_hierarchies c WHERE c.hierarchy_run_id = p.hierarchy_run_id AND"
                 " c.parent_cluster_id = p.cluster_id), json_array_length(p.children_ids),"
                 " (SELECT COUNT(*) FROM cluster_hierarchies c WHERE c.hierarchy_run_id ="
                 " p.hierarchy_run_id AND c.parent_cluster_id = p.cluster_id)"
                 " FROM cluster_hierarchies p WHERE p.run_id = ? AND p.level > 0", run)  # fmt: skip
    assert parents and all(p[1] == p[2] and p[3] == p[4] for p in parents), parents
    total = _q(seed, "SELECT SUM(size) FROM clusters WHERE run_id = ?", run)[0][0]
    orphans = _q(seed, "SELECT COUNT(*) FROM orphaned_queries WHERE run_id = ?", run)[0][0]
    assert total + orphans == _q(seed, "SELECT COUNT(*) FROM query_clusters WHERE run_id = ?",
                                 run)[0][0] + orphans  # fmt: skip


def _members(seed: Seed, cid: int) -> list[int]:
    rows = _q(seed, "SELECT query_id FROM query_clusters WHERE run_id = ? AND cluster_id = ?"
              " ORDER BY query_id", seed.run_id, cid)  # fmt: skip
    return [r[0] for r in rows]


def _clusters(seed: Seed) -> list[int]:
    """Leaf clusters of the hierarchy, largest first (noise left out)."""
    rows = _q(seed, "SELECT cluster_id FROM clusters WHERE run_id = ? AND cluster_id >= 0"
              " ORDER BY size DESC, cluster_id", seed.run_id)  # fmt: skip
    return [r[0] for r in rows]


def _ops(seed: Seed) -> dict[str, Callable[[], Any]]:
    db, run, ch = seed.db, seed.run_id, _chroma(seed)
    a, b, c, d = _clusters(seed)[:4]
    return {
        "move_query": lambda: membership.move_queries(db, run, _members(seed, a)[:1], b, chroma=ch),
        "move_queries": lambda: membership.move_queries(
            db, run, _members(seed, a)[:3], c, reason="wrong topic", chroma=ch
        ),
        "rename": lambda: labels.rename_cluster(db, run, b, title="Renamed by hand", chroma=ch),
        "tag": lambda: labels.tag_cluster(
            db, run, b, coherence=2, quality="LOW", notes="n", chroma=ch
        ),
        "flag": lambda: labels.flag_cluster(db, run, c, "language_mixing", chroma=ch),
        "split": lambda: membership.split_cluster(
            db, run, a, _members(seed, a)[:2], new_title="Split off", chroma=ch
        ),
        "merge": lambda: membership.merge_clusters(
            db, run, [c, d], b, new_title="Merged topic", chroma=ch
        ),
        "delete_orphan": lambda: membership.delete_cluster(db, run, d, orphan=True, chroma=ch),
        "delete_move": lambda: membership.delete_cluster(db, run, c, move_to=a, chroma=ch),
    }


def test_every_edit_keeps_sizes_rollups_and_chroma_in_step(seed: Seed) -> None:
    ops = _ops(seed)
    for name in ("move_query", "move_queries", "rename", "tag", "flag", "split", "merge"):
        result = ops[name]()
        assert result.chroma.get("status") == "done", (name, result.chroma)
        assert_consistent(seed)
        report = _verify(seed)
        assert report["status"] == "ok", (name, report["issues"])
    a = _clusters(seed)[0]
    membership.delete_cluster(seed.db, seed.run_id, a, orphan=True, chroma=_chroma(seed))
    assert_consistent(seed)
    assert _verify(seed)["status"] == "ok"
    kinds = [r[0] for r in _q(seed, "SELECT edit_type FROM cluster_edits ORDER BY id")]
    assert kinds == ["move_query", "move_queries", "rename", "tag", "flag", "split", "merge",
                     "delete"]  # fmt: skip


@pytest.mark.parametrize(
    "op",
    ["move_query", "move_queries", "rename", "tag", "flag", "split", "merge", "delete_orphan",
     "delete_move"],
)  # fmt: skip
def test_undo_restores_the_rows_exactly(seed: Seed, op: str) -> None:
    before = dump(seed.db)
    done = _ops(seed)[op]()
    assert dump(seed.db) != before
    undone = undo(seed.db, chroma=_chroma(seed))
    assert undone.new_value == {"undid": done.edit_id, "edit_type": done.edit_type}
    assert dump(seed.db) == before
    assert _verify(seed)["status"] == "ok"
    edits = _q(seed, "SELECT id, edit_type, undone_by FROM cluster_edits ORDER BY id")
    assert edits == [(done.edit_id, done.edit_type, undone.edit_id), (undone.edit_id, "undo", None)]
    with pytest.raises(NotFoundError):
        undo(seed.db)  # nothing left to undo


def test_an_edit_under_a_later_one_is_not_undone(seed: Seed) -> None:
    ops = _ops(seed)
    first, _second = ops["rename"](), ops["tag"]()
    before = dump(seed.db)
    with pytest.raises(UsageError, match="came after"):
        undo(seed.db, first.edit_id)
    assert dump(seed.db) == before


BAD: list[tuple[str, type, Callable[[Seed, list[int]], Any]]] = [
    ("no such run", NotFoundError,
     lambda s, c: labels.rename_cluster(s.db, "nope", c[0], title="x")),
    ("no such cluster", NotFoundError,
     lambda s, c: labels.tag_cluster(s.db, s.run_id, 9999, coherence=3)),
    ("no such query", NotFoundError,
     lambda s, c: membership.move_queries(s.db, s.run_id, [10**9], c[0])),
    ("same cluster", UsageError,
     lambda s, c: membership.move_queries(s.db, s.run_id, _members(s, c[0])[:1], c[0])),
    ("merge into itself", UsageError,
     lambda s, c: membership.merge_clusters(s.db, s.run_id, [c[0], c[1]], c[0])),
    ("split with no queries", UsageError,
     lambda s, c: membership.split_cluster(s.db, s.run_id, c[0], [], new_title="x")),
    ("split a query of another cluster", UsageError,
     lambda s, c: membership.split_cluster(s.db, s.run_id, c[0], _members(s, c[1])[:1],
                                           new_title="x")),
    ("delete with neither", UsageError,
     lambda s, c: membership.delete_cluster(s.db, s.run_id, c[0])),
    ("coherence out of range", UsageError,
     lambda s, c: labels.tag_cluster(s.db, s.run_id, c[0], coherence=6)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "error", "call"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(seed: Seed, case: str, error: type, call: Callable) -> None:
    before = dump(seed.db)
    edits = _q(seed, "SELECT COUNT(*) FROM cluster_edits")
    with pytest.raises(error) as raised:
        call(seed, _clusters(seed))
    assert "\n" not in raised.value.message
    assert dump(seed.db) == before
    assert _q(seed, "SELECT COUNT(*) FROM cluster_edits") == edits


def test_an_edit_chroma_refused_is_finished_by_the_next_edit(seed: Seed) -> None:
    """Chroma unreachable during an edit: the edit stands, its Chroma update is owed (a
    chroma_pending row), and the next edit with Chroma back pays it along with its own."""
    a, b = _clusters(seed)[:2]
    down = Chroma(host="127.0.0.1", port=9, backend=BACKEND)  # nothing listens on port 9
    refused = labels.rename_cluster(
        seed.db, seed.run_id, a, title="Renamed, Chroma down", chroma=down
    )
    assert refused.chroma["status"] == "failed"
    assert _q(seed, "SELECT run_id, clusters FROM chroma_pending") == [(seed.run_id, f"[{a}]")]
    assert _verify(seed)["status"] != "ok"  # the old title is still in Chroma
    done = labels.rename_cluster(
        seed.db, seed.run_id, b, title="Renamed again", chroma=_chroma(seed)
    )
    assert done.chroma["status"] == "done" and done.chroma["written"] >= 2  # a's and b's
    assert _q(seed, "SELECT COUNT(*) FROM chroma_pending") == [(0,)]
    assert _verify(seed)["status"] == "ok"
