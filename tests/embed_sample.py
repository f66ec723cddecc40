"""One embedded sample of real ShareGPT queries, built once per test process.

Embedding with the real model is the slow part of these tests, so the sample is embedded once
(the ONNX export too) and each test copies the two SQLite files into its own home. The build
itself is the cancel-and-resume scenario: it cancels after CANCEL_AFTER committed batches and
runs the stage again, and keeps both outcomes for the tests to check.

Besides real first turns the sample holds the edge cases the stage must handle: the same text
twice (differing only in whitespace), a whitespace-only text, a text of zero-width characters
(nothing for the tokenizer) and a 60,000-character text past the model's 256-token limit.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from lmsys_tui.core.embed import Space, embed_queries, resolve_space
from lmsys_tui.core.load import run_load
from lmsys_tui.core.sources import sharegpt
from lmsys_tui.core.sources.base import Conversation, SourceInfo
from lmsys_tui.core.store.db import open_store
from lmsys_tui.errors import Cancelled

REAL = 220
BATCH = 32
CANCEL_AFTER = 3
EDGE_LABEL = "edge"


@dataclass
class Sample:
    folder: Path
    space: Space
    real_texts: list[str]
    long_text: str
    first_error: Cancelled | None = None
    stored_after_cancel: int = 0
    segments_after_cancel: list[bytes] = field(default_factory=list)
    resumed: Any = None

    @property
    def db(self) -> Path:
        return self.folder / "queries.db"

    @property
    def cache_dir(self) -> Path:
        return self.folder / "cache"

    def copy_to(self, home: Path) -> Path:
        """Put the embedded store in `home` (and the ONNX export beside it); returns the db."""
        home.mkdir(parents=True, exist_ok=True)
        for name in ("queries.db", "embeddings.db"):
            shutil.copy2(self.folder / name, home / name)
        cache = home / "cache"
        if not cache.exists():
            cache.symlink_to(self.cache_dir, target_is_directory=True)
        return home / "queries.db"


def real_conversations(n: int) -> list[Conversation]:
    return [c for c in islice(sharegpt.read(), n * 2) if isinstance(c, Conversation)][:n]


def edge_conversations(real: list[Conversation]) -> list[Conversation]:
    base = real[0].text
    long_text = " ".join(c.text for c in real[1:40])
    long_text = (long_text * (60_000 // max(len(long_text), 1) + 1))[:60_000]
    return [
        Conversation("dup-a", base),
        Conversation("dup-b", "  " + base.replace(" ", "   ") + "\n"),
        Conversation("blank", " \n\t "),
        Conversation("zero-width", "\u200b\u200b\u200b"),
        Conversation("long", long_text),
    ]


def segments(db_folder: Path) -> list[bytes]:
    import sqlite3

    conn = sqlite3.connect(db_folder / "embeddings.db")
    try:
        return [r[0] for r in conn.execute("SELECT vectors FROM seg_1 ORDER BY id")]
    finally:
        conn.close()


def build(folder: Path) -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(folder / "queries.db")
    real = real_conversations(REAL)
    run_load(store, iter(real), sharegpt.info())
    edge = edge_conversations(real)
    info = SourceInfo(source="file", ref="edge cases", default_label=EDGE_LABEL)
    run_load(store, iter(edge), info)
    space = resolve_space()
    sample = Sample(folder, space, [c.text for c in real], edge[-1].text)
    calls = 0

    def cancel_after_batches() -> bool:
        nonlocal calls
        calls += 1
        return calls > CANCEL_AFTER

    try:
        embed_queries(
            store,
            space,
            batch_size=BATCH,
            cancelled=cancel_after_batches,
            cache_dir=sample.cache_dir,
        )
    except Cancelled as err:
        sample.first_error = err
    sample.segments_after_cancel = segments(folder)
    sample.stored_after_cancel = _count(folder)
    sample.resumed = embed_queries(store, space, batch_size=BATCH, cache_dir=sample.cache_dir)
    store.close()
    return sample


def _count(folder: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(folder / "embeddings.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM idx_1").fetchone()[0]
    finally:
        conn.close()


_BUILT: dict[str, Sample] = {}


def get(tmp_path_factory: Any) -> Sample:
    if "sample" not in _BUILT:
        _BUILT["sample"] = build(tmp_path_factory.mktemp("embedded-sample"))
    return _BUILT["sample"]
