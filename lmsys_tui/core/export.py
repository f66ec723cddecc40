"""Export a run, one row per query, streamed: csv, json, jsonl or parquet.

Rows are read with a cursor in batches and written as they come, so memory does not grow with
the run (1M rows export in the memory of one batch). The file is written under a temporary name
beside the target and renamed at the end: an interrupted export never leaves a half file at the
path you asked for. CSV cells a spreadsheet would run as formulas are escaped unless `raw_csv`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lmsys_tui.core.options import Options, option
from lmsys_tui.core.read.runs import get_run, run_total
from lmsys_tui.core.store.sql import reader
from lmsys_tui.errors import Cancelled, LmsysError, UsageError, no_room
from lmsys_tui.stage import CancelCheck, Progress, never_cancelled, no_progress

FORMATS = ("csv", "json", "jsonl", "parquet")
COLUMNS = (
    "run_id",
    "cluster_id",
    "distance",
    "confidence_score",
    "query_id",
    "conversation_id",
    "model",
    "language",
    "query_text",
)
_SQL = (
    "SELECT qc.run_id, qc.cluster_id, qc.distance, qc.confidence_score, qc.query_id,"
    " q.conversation_id, q.model, q.language, q.query_text"
    " FROM query_clusters qc JOIN queries q ON q.id = qc.query_id"
    " WHERE qc.run_id = ? ORDER BY qc.query_id"
)


STDOUT = Path("-")  # --output -: the export goes to stdout (the headless door passes it)
# A CSV cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +cmd|...)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportOptions(Options):
    output: Path = option(Path("export.csv"))
    format: str = option("csv", choices=FORMATS, lower=True)
    batch_size: int = option(10_000, minimum=1)  # rows read and written per batch
    raw_csv: bool = option(False)  # keep CSV cells as stored, formula-like ones too


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with ' so it shows as text
    (the OWASP advice for CSV injection); any other value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@dataclass
class ExportSummary:
    run_id: str
    format: str
    output: str
    rows: int
    bytes: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(cursor: Any, size: int) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield [tuple(r) for r in rows]


class _Writer:
    def __init__(self, fmt: str, path: Path, raw_csv: bool = False) -> None:
        self.fmt = fmt
        self.raw_csv = raw_csv
        self.path = path
        self.first = True
        self.fh: Any = None
        self.pq: Any = None
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema(
                [
                    ("run_id", pa.string()),
                    ("cluster_id", pa.int32()),
                    ("distance", pa.float64()),
                    ("confidence_score", pa.float64()),
                    ("query_id", pa.int64()),
                    ("conversation_id", pa.string()),
                    ("model", pa.string()),
                    ("language", pa.string()),
                    ("query_text", pa.string()),
                ]
            )
            self.pq = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        else:
            self.fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
            if fmt == "csv":
                self.csv = csv.writer(self.fh)
                self.csv.writerow(COLUMNS)
            elif fmt == "json":
                self.fh.write("[")

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa

            columns = list(zip(*rows, strict=True))
            self.pq.write_table(
                pa.Table.from_arrays(
                    [
                        pa.array(col, type=f.type)
                        for col, f in zip(columns, self.schema, strict=True)
                    ],
                    schema=self.schema,
                )
            )
        elif self.fmt == "csv":
            self.csv.writerows(rows if self.raw_csv else ([csv_cell(v) for v in r] for r in rows))
        else:
            parts = [
                json.dumps(dict(zip(COLUMNS, r, strict=True)), ensure_ascii=False) for r in rows
            ]
            if self.fmt == "jsonl":
                self.fh.write("\n".join(parts) + "\n")
            else:
                self.fh.write(("\n" if self.first else ",\n") + ",\n".join(parts))
        self.first = False

    def close(self) -> None:
        """Finish the file; a second call (on the error path) does nothing."""
        if self.pq is not None:
            self.pq.close()
        if self.fh is not None:
            if self.fmt == "json":
                self.fh.write("\n]\n" if not self.first else "]\n")
            self.fh.close()
        self.pq = self.fh = None


def export_run(
    db: Path,
    run_id: str,
    opts: ExportOptions,
    *,
    stdout: BinaryIO | None = None,
    progress: Progress = no_progress,
    cancelled: CancelCheck = never_cancelled,
) -> ExportSummary:
    """Write every query of `run_id` with its cluster to `opts.output` in `opts.format`.

    `--output -` writes to `stdout` (a caller without one, the TUI, is told to name a file):
    the export is made in a temporary file first, so an interrupted one writes nothing there.
    """
    to_stdout = opts.output == STDOUT
    if to_stdout and stdout is None:
        raise UsageError("--output - (stdout) works only headless; give a file path")
    output = opts.output.expanduser()
    if not to_stdout and output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file path")
    if not to_stdout and not output.parent.is_dir():
        raise UsageError(f"--output folder {output.parent} does not exist")
    started = time.perf_counter()
    if to_stdout:
        handle, name = tempfile.mkstemp(prefix="lmsys-tui-export-", suffix=f".{opts.format}")
        os.close(handle)
        tmp = Path(name)
    else:
        tmp = output.with_name(f".{output.name}.part-{os.getpid()}")
    rows = 0
    with reader(db) as conn:
        run = get_run(conn, run_id)
        total = run_total(conn, run_id)
        writer = _Writer(opts.format, tmp, opts.raw_csv)
        try:
            cursor = conn.execute(_SQL, (run["run_id"],))
            for batch in _batches(cursor, opts.batch_size):
                if cancelled():
                    raise Cancelled("export cancelled; nothing was written to " + str(output))
                writer.write(batch)
                rows += len(batch)
                progress(rows, total, f"exported {rows:,}")
            writer.close()
            size = tmp.stat().st_size
            if to_stdout and stdout is not None:
                with tmp.open("rb") as fh:
                    shutil.copyfileobj(fh, stdout)
                stdout.flush()
                tmp.unlink()
            else:
                os.replace(tmp, output)
        except BaseException as exc:
            with contextlib.suppress(OSError):  # flushing the rest may fail the same way
                writer.close()
            tmp.unlink(missing_ok=True)
            if (cause := no_room(exc)) is not None:
                msg = f"no room to write {output} ({cause}); nothing was written"
                raise LmsysError(msg) from None
            raise
    return ExportSummary(
        run_id=run_id,
        format=opts.format,
        output=str(output),
        rows=rows,
        bytes=size,
        seconds=round(time.perf_counter() - started, 3),
    )
