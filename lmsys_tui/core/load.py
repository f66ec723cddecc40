"""The load stage: a source's conversations into the store, batch by batch.

Each batch is one transaction, so Ctrl-C or a kill keeps every committed batch; running the same
load again skips what is stored (conversation ids are unique per dataset) and continues. The
dataset row is written with the first batch, so a source that fails to open leaves nothing.
The source is read (and its texts hashed) ahead in a thread while SQLite writes.

A large load keyword-indexes each batch in bulk and builds the store's secondary indexes once
after its rows (store/index_backlog.py: 1.95-2.05x the row-by-row load on 1M rows); the load
ends by building them, whatever its outcome, and a killed load's backlog is finished by the next
load.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

from lmsys_tui.core.language import detect_languages
from lmsys_tui.core.sources.base import BadRow, Conversation, Item, SourceInfo
from lmsys_tui.core.sources.prefetch import CHUNK, DEPTH, prefetch
from lmsys_tui.core.sources.spec import LoadOptions
from lmsys_tui.core.store import index_backlog
from lmsys_tui.core.store.db import Store
from lmsys_tui.core.store.sql import connection, db_timestamp, utcnow
from lmsys_tui.core.text import text_hash
from lmsys_tui.errors import Cancelled
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

LOAD_CACHE_KIB = 64 * 1024  # SQLite page cache while loading (fixed: memory stays flat)
LOAD_CHECKPOINT_PAGES = 10_000  # WAL pages between automatic checkpoints while loading
# --build-indexes auto builds them after the rows from this many rows on, when the load is no
# smaller than the store (rebuilding an index covers every stored row, not only the new ones)
AUTO_AFTER_ROWS = 50_000
# The GIL's switch interval while a big load writes (Python's default is 5 ms): after each
# INSERT, which runs without the GIL, the writing thread gets it back from the read-ahead thread
# sooner (1M rows: the insert's wall time 10.5 s -> 7.5 s for the same CPU time, measured). Not
# for small loads: ShareGPT's, whose language detection is Python too, lost ~20% with it.
LOAD_SWITCH_INTERVAL = 0.0005
MAX_DEPTH = 64  # chunks of CHUNK items read ahead at most, whatever the batch size

_COLUMNS = (
    "dataset_id, conversation_id, query_text, text_hash, model, language, turn_count, redacted,"
    " moderation_flagged, timestamp, extra_metadata, created_at, label"
)
# The read-ahead thread prepares each row's values but the dataset id and the load's time, which
# _statement writes into the SQL (numbered parameters, ?1 for all rows, bound ~30% slower here);
# so that text is only ever our own timestamp:
_TIMESTAMP = re.compile(r"[0-9: .+-]+")
# Many rows per INSERT statement, not one statement per row (executemany): triggers on queries
# (the FTS index) then run inside one statement, and FTS5 writes its postings once per
# statement instead of flushing a tiny segment per row (measured ~2.5x faster with FTS).
ROWS_PER_STATEMENT = 1000  # 11,002 parameters; SQLite allows 32,766
_KEEP = " ON CONFLICT(dataset_id, conversation_id) DO NOTHING"
_REPLACE = (
    " ON CONFLICT(dataset_id, conversation_id) DO UPDATE SET query_text = excluded.query_text,"
    " text_hash = excluded.text_hash, model = excluded.model, language = excluded.language,"
    " turn_count = excluded.turn_count, redacted = excluded.redacted,"
    " moderation_flagged = excluded.moderation_flagged, timestamp = excluded.timestamp,"
    " extra_metadata = excluded.extra_metadata, label = excluded.label"
)


@dataclass
class LoadSummary:
    dataset: str
    dataset_id: int | None
    source: str
    status: str = "done"
    loaded: int = 0
    replaced: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_total: int = 0
    languages_detected: int = 0
    indexes: str = "during"  # "after": built once after the rows (see index_backlog)
    index_seconds: float = 0.0  # building the indexes at the end
    seconds: float = 0.0
    rows_per_second: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _values(c: Conversation, digest: str) -> tuple[Any, ...]:
    """One row's values in _statement's order: conversation id, text, text hash, model,
    language, turns, redacted, flagged, timestamp, extra metadata, label."""
    return (
        c.conversation_id,
        c.text,
        digest,
        c.model,
        c.language,
        c.turn_count,
        c.redacted,
        c.moderation_flagged,
        db_timestamp(c.timestamp) if c.timestamp else None,
        json.dumps(c.extra, ensure_ascii=False, default=str) if c.extra else None,
        c.label,
    )


def _prepare(item: Item) -> tuple[Any, ...] | None:
    """Run in the read-ahead thread, so hashing and building rows overlap SQLite's writing."""
    return _values(item, text_hash(item.text)) if isinstance(item, Conversation) else None


@lru_cache(maxsize=16)
def _statement(rows: int, conflict: str, dataset_id: int, now: str) -> str:
    """INSERT of `rows` prepared rows; the same text for every full statement of a load, so
    SQLite prepares it once."""
    if not _TIMESTAMP.fullmatch(now):  # it is written into SQL: only our own timestamps
        raise ValueError(f"not a store timestamp: {now!r}")
    row = f"({int(dataset_id)}, {', '.join('?' * 10)}, '{now}', ?)"
    return f"INSERT INTO queries ({_COLUMNS}) VALUES {', '.join([row] * rows)}{conflict}"


def _dataset_id(cur: Any, label: str, info: SourceInfo, now: str) -> int:
    """The label's dataset row, made or marked running in ONE statement: two loads of a new
    label started at once both get its id (a read then an insert would race)."""
    row = cur.execute(
        "INSERT INTO datasets (label, source, source_ref, status, query_count, parameters,"
        " created_at, updated_at) VALUES (?, ?, ?, 'running', 0, ?, ?, ?)"
        " ON CONFLICT (label) DO UPDATE SET status = 'running', error = NULL,"
        " updated_at = excluded.updated_at RETURNING id",
        (label, info.source, info.ref, json.dumps(info.parameters, default=str), now, now),
    ).fetchone()
    return int(row[0])


def _existing_ids(cur: Any, dataset_id: int, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in cur.execute(
                f"SELECT conversation_id FROM queries WHERE dataset_id = ?"
                f" AND conversation_id IN ({marks})",
                (dataset_id, *chunk),
            )
        )
    return found


def run_load(
    store: Store,
    items: Iterator[Item],
    info: SourceInfo,
    *,
    label: str | None = None,
    limit: int | None = None,
    force_reload: bool = False,
    batch_size: int = LoadOptions.batch_size,
    build_indexes: str = LoadOptions.build_indexes,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> LoadSummary:
    """Store `items` as dataset `label`. `limit` counts good conversations read from the source."""
    label = label or info.default_label
    summary = LoadSummary(dataset=label, dataset_id=None, source=info.source)
    skipped: Counter[str] = Counter()
    started = time.perf_counter()
    total = min(x for x in (limit, info.total) if x is not None) if (limit or info.total) else None
    seen_good = 0
    processed = 0
    conflict = _REPLACE if force_reload else _KEEP
    now = db_timestamp(utcnow())  # every row of this load is stored at its start
    switch = sys.getswitchinterval()
    with connection(store) as raw:
        cur = raw.cursor()
        # the text_hash index takes random inserts: a page cache that holds it saves re-reads;
        # checkpointing the WAL every ~40 MB instead of 4 MB saves fsyncs and rewrites of hot pages
        cur.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
        cur.execute(f"PRAGMA wal_autocheckpoint = {LOAD_CHECKPOINT_PAGES}")

        def build_after() -> None:
            index_backlog.begin(raw)
            summary.indexes = "after"
            sys.setswitchinterval(min(switch, LOAD_SWITCH_INTERVAL))

        # (a backlog a killed load left is carried on: its indexes are gone already)
        carried = index_backlog.from_id(cur) is not None
        switch_at = None if carried else _switch_at(cur, build_indexes, total)
        if carried or switch_at == 0:
            build_after()
        # read ahead up to two batches, so the source is read while SQLite writes a whole one
        depth = max(DEPTH, min(2 * batch_size // CHUNK + 1, MAX_DEPTH))
        ahead = prefetch(items, _prepare, depth=depth)

        def finish(status: str, error: str | None = None) -> None:
            summary.status = status
            try:
                _build_indexes(raw, summary, progress, processed, total)
            except Exception:
                if status == "done":
                    raise
                # (the load failed already: its error is the one to report; the marker stays)
            if summary.dataset_id is not None:
                cur.execute(
                    "UPDATE datasets SET status = ?, error = ?, updated_at = ?, query_count ="
                    " (SELECT COUNT(*) FROM queries WHERE dataset_id = ?) WHERE id = ?",
                    (status, error, db_timestamp(utcnow()), summary.dataset_id, summary.dataset_id),
                )
                raw.commit()

        try:
            exhausted = False
            while not exhausted and (limit is None or seen_good < limit):
                if cancelled():
                    raise Cancelled("cancelled")
                good: list[Conversation] = []
                prepared: list[tuple[Any, ...]] = []
                batch_seen: set[str] = set()
                taken = 0
                for item, values in ahead:
                    taken += 1
                    if isinstance(item, BadRow):
                        skipped[item.reason.value] += 1
                    else:
                        seen_good += 1
                        if item.conversation_id in batch_seen:
                            summary.duplicates += 1
                        else:
                            batch_seen.add(item.conversation_id)
                            good.append(item)
                            prepared.append(values)
                    if taken >= batch_size or (limit is not None and seen_good >= limit):
                        break
                else:
                    exhausted = True
                processed += taken
                if good:
                    _store_batch(
                        cur, conflict, good, prepared, info, label, summary, now, force_reload
                    )
                    if summary.indexes == "after":
                        index_backlog.catch_up(cur)
                    raw.commit()
                    if summary.indexes == "during" and switch_at and summary.loaded >= switch_at:
                        build_after()  # a source of unknown size turned out big enough
                progress(processed, total, f"{summary.loaded:,} loaded")
            finish("done")
        except (KeyboardInterrupt, Cancelled):
            raw.rollback()
            finish("cancelled")
            raise Cancelled(
                f"load of {label!r} cancelled after {summary.loaded:,} new rows; "
                "committed batches are kept, run the same command again to continue"
            ) from None
        except Exception as exc:
            raw.rollback()
            finish("failed", str(exc))
            raise
        finally:
            ahead.close()  # stops the read-ahead thread
            summary.skipped = dict(sorted(skipped.items()))
            summary.skipped_total = sum(skipped.values())
            summary.seconds = round(time.perf_counter() - started, 3)
            seconds = summary.seconds
            summary.rows_per_second = round(processed / seconds, 1) if seconds else 0.0
            # SQLite's defaults again, for the pooled connection
            cur.execute("PRAGMA cache_size = -2000")
            cur.execute("PRAGMA wal_autocheckpoint = 1000")
            cur.close()
            sys.setswitchinterval(switch)
    summary.message = _message(summary)
    return summary


def _switch_at(cur: Any, mode: str, expected: int | None) -> int | None:
    """After how many loaded rows this load builds the indexes after its rows: 0 from the
    start, None never (see AUTO_AFTER_ROWS). Of a source of unknown size, `auto` loads the
    first rows with the indexes kept up and switches once it has loaded as many rows as that
    threshold and as the store held (the rows before stay indexed; the marker starts after)."""
    if mode != "auto":
        return 0 if mode == "after" else None
    if expected is not None and expected < AUTO_AFTER_ROWS:
        return None
    stored = int(cur.execute("SELECT COUNT(*) FROM queries").fetchone()[0])
    if expected is None:
        return max(AUTO_AFTER_ROWS, stored)
    return 0 if expected >= stored else None


def _build_indexes(
    raw: Any, summary: LoadSummary, progress: Progress, done: int, total: int | None
) -> None:
    """Finish any backlog, this load's or one a killed load left (the caller's transaction is
    committed or rolled back already)."""
    if index_backlog.from_id(raw) is None:
        return
    progress(done, total, f"{summary.loaded:,} loaded; building the search indexes")
    started = time.perf_counter()
    index_backlog.finish(raw)
    summary.index_seconds = round(time.perf_counter() - started, 3)


def _store_batch(
    cur: Any,
    conflict: str,
    good: list[Conversation],
    prepared: list[tuple[Any, ...]],
    info: SourceInfo,
    label: str,
    summary: LoadSummary,
    now: str,
    force_reload: bool,
) -> None:
    if summary.dataset_id is None:
        summary.dataset_id = _dataset_id(cur, label, info, now)
    detect = info.detect_language
    need_lang = [i for i, c in enumerate(good) if c.language is None] if detect else []
    if need_lang:
        found = detect_languages([good[i].text for i in need_lang])
        for i, lang in zip(need_lang, found, strict=True):
            good[i].language = lang
            prepared[i] = _values(good[i], prepared[i][2])
        summary.languages_detected += len(need_lang)
    existing = (
        _existing_ids(cur, summary.dataset_id, [c.conversation_id for c in good])
        if force_reload
        else set()
    )
    inserted = _insert(cur, conflict, summary.dataset_id, now, prepared)
    if force_reload:
        summary.replaced += len(existing)
        summary.loaded += len(good) - len(existing)
    else:
        summary.loaded += inserted
        summary.duplicates += len(good) - inserted


def _insert(cur: Any, conflict: str, dataset_id: int, now: str, rows: list[tuple[Any, ...]]) -> int:
    """Insert prepared `rows` with multi-row statements; the number of rows written."""
    written = 0
    for i in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[i : i + ROWS_PER_STATEMENT]
        sql = _statement(len(part), conflict, dataset_id, now)
        cur.execute(sql, list(chain.from_iterable(part)))
        written += cur.rowcount
    return written


def _message(s: LoadSummary) -> str:
    parts = [f"{s.loaded:,} loaded into {s.dataset!r}"]
    if s.replaced:
        parts.append(f"{s.replaced:,} replaced")
    if s.duplicates:
        parts.append(f"{s.duplicates:,} already stored")
    if s.skipped_total:
        reasons = ", ".join(f"{k} {v:,}" for k, v in s.skipped.items())
        parts.append(f"{s.skipped_total:,} skipped ({reasons})")
    if s.loaded == 0 and s.replaced == 0 and s.duplicates:
        parts.append("nothing new: this data was loaded before (use --force-reload to replace)")
    return "; ".join(parts) + f" in {s.seconds:.1f}s"
