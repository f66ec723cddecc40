"""Reads of `queries` that several stages start from: a selection's ids, and texts cut in SQL.

The embedding and clustering stages select queries the same way (a dataset, the first N by id);
keywords and summaries read texts cut to a length by SQLite, so a 100 kB prompt never crosses
into Python whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql
from lmsys_tui.errors import NotFoundError

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store

TEXT_CHUNK = 20_000  # ids per statement when reading texts


def dataset_id(conn: Any, label: str) -> int:
    """The id of the dataset labelled `label` (NotFoundError if there is none)."""
    found = sql.scalar(conn, "SELECT id FROM datasets WHERE label = ?", (label,))
    if found is None:
        raise NotFoundError(f"no dataset labelled {label!r} in the store (see `datasets`)")
    return int(found)


def select_query_ids(
    store: Store, dataset: str | None = None, limit: int | None = None
) -> list[int] | None:
    """The queries a stage covers: a dataset's (or all), the first `limit` by id; None means
    every query (no list of a million ids is built for that)."""
    if dataset is None and limit is None:
        return None
    with sql.connection(store) as conn:
        where, args = "", []
        if dataset is not None:
            where, args = " WHERE dataset_id = ?", [dataset_id(conn, dataset)]
        if limit is not None:
            args.append(limit)
        found = sql.tuples(
            conn,
            f"SELECT id FROM queries{where} ORDER BY id"
            + (" LIMIT ?" if limit is not None else ""),
            args,
        )
    return [int(r[0]) for r in found]


def count_queries(store: Store) -> int:
    with sql.connection(store) as conn:
        return int(sql.scalar(conn, "SELECT COUNT(*) FROM queries", default=0))


def clipped_texts(conn: Any, ids: Sequence[int], clip: int) -> dict[int, tuple[str, str]]:
    """id -> (its text cut to `clip` characters, its text hash); unknown ids are left out."""
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), TEXT_CHUNK):
        for qid, text, digest in sql.tuples(
            conn,
            f"SELECT id, substr(query_text, 1, ?), text_hash FROM queries WHERE id {sql.IN_IDS}",
            (clip, sql.id_list(ids[start : start + TEXT_CHUNK])),
        ):
            out[int(qid)] = (text, digest)
    return out
