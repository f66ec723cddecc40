"""Local chat files: `.jsonl`, `.json` (a top-level array), `.parquet` and `.csv`.

Every format is read as a stream (line by line, element by element, record batch by record
batch), so memory stays flat whatever the file size. `open_file` checks the file, its format
and the column map before returning the iterator, so a wrong path or column name exits 2
without a dataset row. Each unusable row becomes a `BadRow` with its place in the file.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from lmsys_tui.core.sources.base import (
    BadReason,
    BadRow,
    Item,
    RowError,
    SourceInfo,
    has_bad_bytes,
)
from lmsys_tui.core.sources.mapping import Mapper, Plan, resolve
from lmsys_tui.core.sources.spec import SourceSpec
from lmsys_tui.errors import UsageError, first_line

EXTENSIONS = (".jsonl", ".json", ".parquet", ".csv")
_PEEK_ROWS = 200  # rows looked at up front to learn the column names of JSON sources
_PARQUET_BATCH = 8192


def open_file(spec: SourceSpec, *, lmsys: bool = False) -> tuple[SourceInfo, Iterator[Item]]:
    """Validate `spec.file` and its column map, then return its lazily read items.

    With `lmsys`, the file must have LMSYS-Chat-1M's columns and is recorded as that source.
    """
    path = spec.file
    if path is None:
        raise UsageError(f"--source {spec.source} needs --file PATH")
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"cannot read {ext or 'a file without extension'}: use {_exts()}")
    opener = {".jsonl": _open_jsonl, ".json": _open_json, ".parquet": _open_parquet}
    try:
        plan, items, total = opener.get(ext, _open_csv)(path, spec, lmsys)
    except OSError as exc:  # unreadable: permissions, a vanished file, an I/O error
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    info = SourceInfo(
        source="lmsys" if lmsys else "file",
        ref=str(path.resolve()),
        default_label=path.stem,
        total=total,
        detect_language=True,  # only rows without a language are detected (see core.load)
        parameters={"format": ext[1:], "columns": plan.describe() if plan else "sharegpt"},
    )
    return info, items


def _exts() -> str:
    return ", ".join(EXTENSIONS)


def _plan(columns: list[str], spec: SourceSpec, lmsys: bool, path: Path, **kw: Any) -> Plan:
    return resolve(
        columns,
        spec.columns,
        max_chars=spec.skip_above,
        require_lmsys=lmsys,
        where=path.name,
        **kw,
    )


# --- JSON Lines -------------------------------------------------------------------------------


def _jsonl_rows(fh: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value or BadReason) for every non-blank line."""
    for number, raw in enumerate(fh, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig")  # -sig: a byte-order mark on the first line is fine
        except UnicodeDecodeError:
            yield number, BadReason.INVALID_UTF8
            continue
        try:
            yield number, json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to decode
            yield number, BadReason.INVALID_JSON


def _columns(values: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, dict):
            seen.update(dict.fromkeys(value))
    return list(seen)


def _open_jsonl(
    path: Path, spec: SourceSpec, lmsys: bool
) -> tuple[Plan | None, Iterator[Item], None]:
    fh = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    rows = _jsonl_rows(fh)
    head = list(islice(rows, _PEEK_ROWS))
    return _json_items(path, spec, lmsys, head, rows, fh, where="line")


def _open_json(
    path: Path, spec: SourceSpec, lmsys: bool
) -> tuple[Plan | None, Iterator[Item], None]:
    """A top-level array (read incrementally); a file of one object per line is JSON Lines."""
    from lmsys_tui.core.sources.jsonstream import iter_json_array

    # surrogateescape: bytes that are not UTF-8 stay recognisable, and their record is skipped
    fh = open(path, encoding="utf-8-sig", errors="surrogateescape")  # noqa: SIM115 - closed below
    start = fh.read(4096).lstrip(" \t\r\n")[:1]
    fh.seek(0)
    if start == "{":
        fh.close()
        return _open_jsonl(path, spec, lmsys)
    if start != "[":
        fh.close()
        raise UsageError(f"{path.name} is neither a JSON array nor JSON Lines")
    rows = iter_json_array(fh)
    head = list(islice(rows, _PEEK_ROWS))
    return _json_items(path, spec, lmsys, head, rows, fh, where="record")


def _json_items(
    path: Path,
    spec: SourceSpec,
    lmsys: bool,
    head: list[tuple[int, Any]],
    rest: Iterator[tuple[int, Any]],
    fh: IO[Any],
    *,
    where: str,
) -> tuple[Plan | None, Iterator[Item], None]:
    values = [value for _, value in head]
    try:
        if not lmsys and _is_sharegpt(values, spec):
            return None, _sharegpt_items(chain(head, rest), fh, where, spec.skip_above), None
        columns = _columns(values)
        if not columns:
            raise UsageError(f"{path.name} has no JSON object rows to read")
        plan = _plan(columns, spec, lmsys, path)
    except BaseException:
        fh.close()
        raise
    mapper = Mapper(plan, check_unicode=True)
    return plan, _mapped(chain(head, rest), mapper, fh, where), None


def _mapped(
    rows: Iterator[tuple[int, Any]], mapper: Mapper, fh: IO[Any], where: str
) -> Iterator[Item]:
    with fh:
        for index, (number, value) in enumerate(rows):
            if isinstance(value, BadReason):
                yield BadRow(value, f"{where} {number}")
            elif not isinstance(value, dict):
                yield BadRow(BadReason.WRONG_TYPE, f"{where} {number}")
            else:
                try:
                    yield mapper.convert(value, index)
                except RowError as err:
                    yield BadRow(err.reason, f"{where} {number}")


def _is_sharegpt(values: list[Any], spec: SourceSpec) -> bool:
    """ShareGPT records ({id, conversations: [{from, value}]}) keep ShareGPT's own rules."""
    cmap = spec.columns
    if any((cmap.text_column, cmap.conversation_id_column, cmap.model_column)):
        return False
    first = next((v for v in values if isinstance(v, dict)), None)
    if not first or "id" not in first or "conversations" not in first:
        return False
    turns = first["conversations"]
    return (
        isinstance(turns, list)
        and bool(turns)
        and isinstance(turns[0], dict)
        and ("from" in turns[0])
    )


def _sharegpt_items(
    rows: Iterator[tuple[int, Any]], fh: IO[Any], where: str, max_chars: int | None
) -> Iterator[Item]:
    from lmsys_tui.core.sources import sharegpt

    with fh:
        for number, record in rows:
            if isinstance(record, BadReason):
                yield BadRow(record, f"{where} {number}")
                continue
            try:
                conv = sharegpt.convert(record)
                if conv is not None and max_chars is not None and len(conv.text) > max_chars:
                    raise RowError(BadReason.TOO_LONG)
            except RowError as err:
                yield BadRow(err.reason, f"{where} {number}")
                continue
            if conv is not None:
                yield conv


# --- Parquet ----------------------------------------------------------------------------------


def _open_parquet(path: Path, spec: SourceSpec, lmsys: bool) -> tuple[Plan, Iterator[Item], int]:
    import pyarrow.parquet as pq

    from lmsys_tui.core.sources.arrowrows import batch_items

    try:
        # no pre-buffering: one column chunk at a time keeps the Arrow pool at ~50 MB, not ~160
        pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a broken file
        raise UsageError(f"cannot read {path.name} as parquet: {first_line(exc)}") from None
    plan = _plan(list(pf.schema_arrow.names), spec, lmsys, path)
    batches = pf.iter_batches(batch_size=_PARQUET_BATCH, columns=plan.columns())
    return plan, batch_items(batches, Mapper(plan), where="row"), pf.metadata.num_rows


# --- CSV ---------------------------------------------------------------------------------------


def _open_csv(path: Path, spec: SourceSpec, lmsys: bool) -> tuple[Plan, Iterator[Item], None]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long texts are too_long rows, not errors
    # surrogateescape: bytes that are not UTF-8 stay recognisable, and their row is skipped
    fh = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
    try:
        lines = _Lines(fh)
        reader = csv.reader(lines, strict=True)  # strict: a stray quote is an error, not a merge
        header = next(reader, None)
        if not header:
            raise UsageError(f"{path.name} has no header row")
        plan = _plan(header, spec, lmsys, path, json_cells=True)
    except csv.Error as exc:
        fh.close()
        raise UsageError(f"{path.name}: malformed CSV header ({exc})") from None
    except BaseException:
        fh.close()
        raise
    return plan, _csv_items(reader, lines, header, Mapper(plan), fh), None


class _Lines:
    """The file's physical lines for `csv.reader`, able to give back what a bad record took.

    An unclosed quote makes the reader swallow the lines after it until the next quote or the
    end of the file; in strict mode that ends in csv.Error, and the swallowed lines (all but the
    record's first) are read again as records of their own, so only the broken line is lost.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self._again: list[str] = []  # given-back lines, next one last
        self.taken: list[str] = []  # lines of the record being read
        self.line_num = 0  # last line handed out, counting given-back lines once

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.pop() if self._again else next(self._fh)
        self.taken.append(line)
        self.line_num += 1
        return line

    def give_back(self) -> None:
        rest = self.taken[1:]
        self._again.extend(reversed(rest))
        self.line_num -= len(rest)


def _csv_items(
    reader: Any, lines: _Lines, header: list[str], mapper: Mapper, fh: IO[str]
) -> Iterator[Item]:
    with fh:
        index = 0
        while True:
            lines.taken.clear()
            where = f"line {lines.line_num + 1}"
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:  # broken quoting: counted, never merged into the next lines
                lines.give_back()
                yield BadRow(BadReason.MALFORMED_CSV, where)
                index += 1
                continue
            if not cells:
                continue
            if len(cells) > len(header):
                yield BadRow(BadReason.MALFORMED_CSV, where)  # cells without a column
            elif any(has_bad_bytes(cell) for cell in cells):
                yield BadRow(BadReason.INVALID_UTF8, where)
            else:
                try:
                    yield mapper.convert(dict(zip(header, cells, strict=False)), index)
                except RowError as err:
                    yield BadRow(err.reason, where)
            index += 1
