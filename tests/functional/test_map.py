"""`map RUN`: the 2-D layout of a real clustered ShareGPT run (400 queries, MiniLM vectors).

The layout is checked against what it must be, not against stored figures: PCA coordinates
are the projection numpy's SVD gives (up to sign and the unit-square scaling), queries of one
cluster sit closer together than queries of different clusters, the layout is stored once and
reused (and recomputed when the run's members change), and the images are valid files.
"""

from __future__ import annotations

import json
import struct
import zlib
from xml.etree import ElementTree

import numpy as np
import pytest
import summary_fixtures as fx
from conftest import db_rows, run_cli

from lmsys_tui.core.insights.layout import pca_2d, run_layout
from lmsys_tui.core.insights.map_image import render_png, render_svg
from lmsys_tui.errors import NotFoundError, UsageError


def _vectors(db) -> np.ndarray:  # type: ignore[no-untyped-def]
    from lmsys_tui.core.insights.layout import _members, _vectors

    space, members = _members(db, fx.RUN_ID, lambda: False)
    vectors, keep = _vectors(db, space, members)
    assert len(keep) == len(members)
    return vectors


def test_pca_layout_is_the_svd_projection_and_keeps_clusters_together(db) -> None:
    layout = run_layout(db, fx.RUN_ID)
    assert layout.computed and len(layout.query_ids) == fx.N_QUERIES
    assert layout.xy.min() >= 0 and layout.xy.max() <= 1
    vectors = _vectors(db)
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    expected = centred @ vt[:2].T
    for axis in range(2):  # same direction as the SVD's components, up to sign
        r = np.corrcoef(pca_2d(vectors)[:, axis], expected[:, axis])[0, 1]
        assert abs(r) > 0.999
    # members of one cluster are nearer each other on the map than random pairs are
    labels = layout.cluster_ids
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(labels), (2, 4000))
    same, other = labels[a] == labels[b], labels[a] != labels[b]
    dist = np.linalg.norm(layout.xy[a] - layout.xy[b], axis=1)
    assert dist[same & (a != b)].mean() < 0.8 * dist[other].mean()


def test_the_layout_is_stored_once_and_recomputed_when_members_change(db) -> None:
    first = run_layout(db, fx.RUN_ID)
    again = run_layout(db, fx.RUN_ID)
    assert first.computed and not again.computed
    assert np.array_equal(first.xy, again.xy) and np.array_equal(first.query_ids, again.query_ids)
    assert db_rows(db, "SELECT COUNT(*), MAX(points) FROM run_layouts") == [(1, fx.N_QUERIES)]
    # a query leaves the run (as an edit or a re-assignment would): the stored map is stale
    conn_rows = db_rows(db, "SELECT query_id FROM query_clusters WHERE run_id = ? LIMIT 1",
                        fx.RUN_ID)  # fmt: skip
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM query_clusters WHERE query_id = ?", conn_rows[0])
    conn.commit()
    conn.close()
    fresh = run_layout(db, fx.RUN_ID)
    assert fresh.computed and len(fresh.query_ids) == fx.N_QUERIES - 1
    assert db_rows(db, "SELECT COUNT(*), MAX(points) FROM run_layouts") == [(1, fx.N_QUERIES - 1)]


def test_images_are_valid_and_labels_are_escaped(db) -> None:
    layout = run_layout(db, fx.RUN_ID)
    evil = '<script>alert(1)</script> & "quotes" \x1b[31m'
    svg = render_svg(layout, {0: evil, 1: "plain title"})
    tree = ElementTree.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    assert len(tree.findall(f"{ns}circle")) == fx.N_QUERIES
    labels = [t.text for t in tree.findall(f"{ns}text")]
    assert "plain title" in labels
    assert not tree.findall(f".//{ns}script") and "<script>" not in svg
    assert any(t and t.startswith("<script>alert(1)") for t in labels)  # as text, not markup
    assert "\x1b" not in svg
    png = render_png(layout, highlight={0})
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
    pixels = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width * 3 + 1)
    rgb = pixels[:, 1:].reshape(height, width, 3)
    assert (rgb != 255).any(axis=2).sum() > fx.N_QUERIES  # dots drawn
    assert (rgb == (0, 114, 178)).all(axis=2).any()  # cluster 0, lit, in its own colour


def test_map_command_json_and_image_files(db, cli_env, tmp_path) -> None:
    out = run_cli(["--headless", "map", fx.RUN_ID, "--json", "-o", str(tmp_path / "m.svg")],
                  cli_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["points"] == fx.N_QUERIES and data["method"] == "pca" and data["computed"]
    assert sum(c["size"] for c in data["clusters"]) == fx.N_QUERIES
    assert len(data["clusters"]) == fx.N_CLUSTERS
    assert all(c["title"] for c in data["clusters"])
    assert (tmp_path / "m.svg").read_text().startswith("<svg")
    png = run_cli(["--headless", "map", fx.RUN_ID, "--json", "-o", str(tmp_path / "m.png")],
                  cli_env)  # fmt: skip
    assert png.returncode == 0, png.stderr
    assert not json.loads(png.stdout)["computed"]  # reused
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-o", "x.gif"], 2, "map images are svg or png"),
        (["--method", "tsne"], 2, "--method must be one of pca, umap"),
        (["--node", "999"], 3, "has no node 999"),
        (["-o", "/no/such/dir/m.svg"], 2, "does not exist"),
    ],
)
def test_bad_map_arguments_are_one_line_errors(db, cli_env, args, code, message) -> None:
    out = run_cli(["--headless", "map", fx.RUN_ID, *args], cli_env)
    assert out.returncode == code, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_unknown_run_is_not_found(db) -> None:
    with pytest.raises(NotFoundError):
        run_layout(db, "no-such-run")


def test_umap_without_the_extra_says_how_to_get_it(db) -> None:
    import importlib.util

    if importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed here")
    with pytest.raises(UsageError, match=r"lmsys-tui\[umap\]"):
        run_layout(db, fx.RUN_ID, "umap")
