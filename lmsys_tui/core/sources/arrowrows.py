"""Arrow record batches (parquet files, Hugging Face datasets) through the shared `Mapper`.

Turning LMSYS rows into Python objects whole costs more than everything else in a load: each
row carries every turn of the conversation and a moderation record per turn. So the heavy
columns are reduced column-wise with pyarrow first (first user turn, user-turn count, any
turn flagged), and only the slim result is converted per row. Columns of any other shape take
the plain per-row path, so the result is the same either way; only the speed differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any

from lmsys_tui.core.sources.base import (
    _CONTENT_KEYS,
    _ROLE_KEYS,
    _USER_ROLES,
    BadReason,
    BadRow,
    Item,
    RowError,
)
from lmsys_tui.core.sources.mapping import Mapper


def batch_items(
    batches: Iterable[Any], mapper: Mapper, *, where: str = "row", start: int = 0
) -> Iterator[Item]:
    """Items of `batches` (pyarrow RecordBatch or Table), rows numbered from `start`."""
    plan = mapper.plan
    build, text_of = mapper.build, mapper.text_of
    index = start
    for piece in _utf8_pieces(batches):
        if piece is None:
            yield BadRow(BadReason.INVALID_UTF8, f"{where} {index}")
            index += 1
            continue
        batch = piece
        names = set(batch.schema.names)
        firsts = None
        if plan.text in names:
            firsts = _first_turns(batch.column(plan.text), plan.text_format, plan.max_chars)
        texts = firsts if firsts is not None else _values(batch, names, plan.text)
        flags = None
        if plan.moderation in names:
            flags = _any_flagged(batch.column(plan.moderation))
        columns = [
            flags if flags is not None and name == plan.moderation else _values(batch, names, name)
            for name in mapper.fields
        ]
        for text, *rest in zip(texts, *columns, strict=True):
            try:
                if firsts is None:
                    first = text_of(text)
                elif isinstance(text, BadReason):
                    raise RowError(text)
                else:
                    first = text
                yield build(index, first, *rest)
            except RowError as err:
                yield BadRow(err.reason, f"{where} {index}")
            index += 1


def _utf8_pieces(batches: Iterable[Any]) -> Iterator[Any]:
    """Non-empty batches, cut around rows whose strings are not UTF-8 (None in their place).

    Parquet and Arrow do not check UTF-8 on read, and one bad string would fail the whole
    batch's conversion; the full check is fast (~6 GB/s) and the row-by-row search only runs
    for a batch that failed it.
    """
    import pyarrow as pa

    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        try:
            batch.validate(full=True)
            yield batch
            continue
        except pa.ArrowInvalid:
            pass
        start = 0
        for row in range(n):
            try:
                batch.slice(row, 1).to_pylist()  # validate() would check a slice's whole child
                continue
            except UnicodeDecodeError:
                pass
            if row > start:
                yield batch.slice(start, row - start)
            yield None
            start = row + 1
        if start < n:
            yield batch.slice(start, n - start)


def _values(batch: Any, names: set[str], name: str | None) -> Any:
    """A column as Python values; an absent one as Nones."""
    return batch.column(name).to_pylist() if name in names else repeat(None, batch.num_rows)


def _combined(column: Any) -> Any:
    """A ChunkedArray (from a Table) as one Array."""
    return column.combine_chunks() if hasattr(column, "combine_chunks") else column


def _first_turns(column: Any, text_format: str, max_chars: int | None) -> list[Any] | None:
    """Per row: (first user turn, user-turn count) or the BadReason; None = use the row path.

    Only a list of structs with string role and content fields is reduced here (LMSYS, most
    chat datasets); anything else (content parts, odd types) goes through `first_user_turn`.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from lmsys_tui.core.sources.base import check_text

    if text_format == "plain":
        return None
    arr = _combined(column)
    typ = arr.type
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        return None
    item = typ.value_type
    if not pa.types.is_struct(item):
        return None
    fields = [item.field(i).name for i in range(item.num_fields)]
    role_key = next((k for k in _ROLE_KEYS if k in fields), None)
    content_key = next((k for k in _CONTENT_KEYS if k in fields), None)
    if role_key is None or content_key is None:
        return None
    if not all(_is_text(item.field(k).type) for k in (role_key, content_key)):
        return None
    flat = arr.flatten()
    if flat.null_count:
        return None  # a null message is a wrong_type row: let the row path say so
    n = len(arr)
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    roles = pc.utf8_lower(flat.field(role_key))
    is_user = pc.fill_null(pc.is_in(roles, value_set=pa.array(sorted(_USER_ROLES))), False)
    user_pos = np.flatnonzero(is_user.to_numpy(zero_copy_only=False))
    user_parent = parents[user_pos]
    counts = np.bincount(user_parent, minlength=n)
    lengths = pc.fill_null(pc.list_value_length(arr), -1).to_numpy(zero_copy_only=False)
    starts = np.ones(len(user_pos), dtype=bool)
    starts[1:] = user_parent[1:] != user_parent[:-1]
    first_pos = user_pos[starts]
    first_parent = user_parent[starts]
    texts = flat.field(content_key).take(pa.array(first_pos)).to_pylist()
    out: list[Any] = [None] * n
    for row, text in zip(first_parent.tolist(), texts, strict=True):
        try:
            out[row] = (check_text(text, max_chars), int(counts[row]))
        except RowError as err:
            out[row] = err.reason
    for row in np.flatnonzero(counts == 0).tolist():
        out[row] = BadReason.NO_USER_TURN if lengths[row] > 0 else BadReason.MISSING_TEXT
    return out


def _is_text(typ: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def _any_flagged(column: Any) -> list[bool | None] | None:
    """LMSYS `openai_moderation` (list of {flagged, ...}) as one bool per row; None = row path."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _combined(column)
    typ = arr.type
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        return None
    item = typ.value_type
    if not pa.types.is_struct(item) or item.get_field_index("flagged") < 0:
        return None
    if not pa.types.is_boolean(item.field("flagged").type):
        return None
    flat = arr.flatten()
    flagged = pc.fill_null(flat.field("flagged"), False)
    if flat.null_count:
        flagged = pc.and_(flagged, pc.is_valid(flat))
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    hits = np.bincount(parents[flagged.to_numpy(zero_copy_only=False)], minlength=len(arr)) > 0
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return [bool(h) if v else None for h, v in zip(hits.tolist(), valid.tolist(), strict=True)]
