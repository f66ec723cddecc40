"""Hugging Face datasets (`--hf ID`, a hub id or a local dataset folder) through the column map.

Rows come from `datasets` as Arrow tables and go through the same `Mapper` as local files.
Opening pulls the first batch eagerly: a gated, missing or unreachable dataset fails here, as
one line and exit 4, before the load stage writes anything. With no network the hub client
retries for ~25 s, so a quick connection probe answers "no network" first.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lmsys_tui.core.sources.base import Item, SourceInfo
from lmsys_tui.core.sources.mapping import Mapper, resolve
from lmsys_tui.core.sources.spec import SourceSpec
from lmsys_tui.errors import LmsysError, NeedsKeyError, UsageError

BATCH_ROWS = 4096
PROBE_SECONDS = 5.0
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
# huggingface_hub >= 1.0 ships the `hf` command; older releases (and most docs) name the other
LOGIN_ADVICE = "run `hf auth login` (or `huggingface-cli login` on older huggingface_hub)"


class SourceReadError(LmsysError):
    """The dataset opened but failed part-way; committed batches stay, a re-run continues."""


def open_hf(spec: SourceSpec) -> tuple[SourceInfo, Iterator[Item]]:
    if not spec.hf:
        raise UsageError("--source hf needs --hf ID (a Hugging Face dataset id or folder)")
    return open_dataset(spec.hf, spec, source="hf", advice=_hf_advice)


def _hf_advice(ds_id: str, reason: str) -> str:
    return (
        f"cannot open Hugging Face dataset {ds_id!r} ({reason}); check the id, "
        f"{LOGIN_ADVICE} if it is gated, and check the network"
    )


def open_dataset(
    ds_id: str,
    spec: SourceSpec,
    *,
    source: str,
    advice: Callable[[str, str], str],
    require_lmsys: bool = False,
    label: str | None = None,
) -> tuple[SourceInfo, Iterator[Item]]:
    """Open `ds_id` (hub id or local folder), read its first batch, resolve the column map."""
    local = Path(ds_id).expanduser()
    if local.is_file():  # one data file: read it directly, same mapping
        from lmsys_tui.core.sources.files import open_file

        return open_file(replace(spec, file=local), lmsys=require_lmsys)
    is_local = local.exists()
    if not is_local and ds_id.startswith(("/", ".", "~")):
        raise UsageError(f"no such dataset folder: {ds_id}")
    if not is_local:
        _probe_hub(ds_id, advice)
    try:
        ds, total = _load(str(local) if is_local else ds_id, spec)
        batches = iter(ds.with_format("arrow").iter(batch_size=BATCH_ROWS))
        first = next(batches, None)
    except (KeyboardInterrupt, LmsysError):
        raise
    except Exception as exc:
        if is_local:
            raise UsageError(f"cannot read dataset folder {ds_id}: {_reason(exc)}") from None
        if isinstance(exc, ValueError) and "split" in str(exc).lower():  # the hub answered
            raise UsageError(f"dataset {ds_id!r}: {_reason(exc)}") from None
        raise NeedsKeyError(advice(ds_id, _reason(exc))) from None
    if first is None:
        raise UsageError(f"dataset {ds_id!r} split {spec.split!r} has no rows")
    plan = resolve(
        first.schema.names,
        spec.columns,
        max_chars=spec.skip_above,
        require_lmsys=require_lmsys,
        where=f"dataset {ds_id!r}",
    )
    from lmsys_tui.core.sources.arrowrows import batch_items

    tables = _guarded(chain([first], batches), ds_id)
    items = batch_items(tables, Mapper(plan), where="row")
    info = SourceInfo(
        source=source,
        ref=str(local.resolve()) if is_local else ds_id,
        default_label=label or (local.resolve().name if is_local else ds_id),
        total=total,
        detect_language=True,  # only rows without a language are detected (see core.load)
        parameters={"split": spec.split, "streaming": spec.streaming, "columns": plan.describe()},
    )
    return info, items


def _datasets() -> Any:
    """`datasets`, imported without torch when torch is not loaded yet.

    Streaming datasets subclass torch's IterableDataset when torch is importable, which costs
    ~3 s of start-up for nothing here (rows are read as Arrow). USE_TORCH is set only for the
    import, so libraries imported later still see torch.
    """
    if "datasets" in sys.modules or "torch" in sys.modules:
        import datasets
    else:
        saved = os.environ.get("USE_TORCH")
        os.environ["USE_TORCH"] = "0"
        try:
            import datasets
        finally:
            if saved is None:
                os.environ.pop("USE_TORCH", None)
            else:
                os.environ["USE_TORCH"] = saved
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(logging.CRITICAL)  # failures are reported as one line
    _settle_arrow_at_exit()
    return datasets


@functools.cache
def _settle_arrow_at_exit() -> None:
    """Let Arrow's threads drop their Python buffers before the interpreter finalizes.

    datasets hands pyarrow Python file objects; Arrow threads release the buffers read from
    them asynchronously, and a release during finalization aborts the process on CPython
    3.11 ("terminate called without an active exception", exit 134 instead of ours; seen in
    about one exit in three after reading a local dataset). Collecting garbage at exit while
    Python still runs, then yielding the GIL briefly, lets those releases finish first.
    """

    def settle() -> None:
        gc.collect()
        time.sleep(0.05)

    atexit.register(settle)


def _load(path: str, spec: SourceSpec) -> tuple[Any, int | None]:
    datasets = _datasets()
    ds = datasets.load_dataset(path, split=spec.split, streaming=spec.streaming)
    total: int | None = None
    if not spec.streaming:
        total = len(ds)
    else:
        splits = getattr(ds.info, "splits", None) or {}
        split = splits.get(spec.split) if hasattr(splits, "get") else None
        total = getattr(split, "num_examples", None) or None
    return ds, total


def _guarded(tables: Iterator[Any], ds_id: str) -> Iterator[Any]:
    """Batches after the first; a failure part-way becomes one line (exit 1), not a traceback."""
    rows = 0
    while True:
        try:
            table = next(tables)
        except StopIteration:
            return
        except (KeyboardInterrupt, LmsysError):
            raise
        except Exception as exc:
            raise SourceReadError(
                f"reading {ds_id!r} failed after {rows:,} rows ({_reason(exc)}); committed "
                "batches are kept, run the same command again to continue"
            ) from None
        rows += table.num_rows
        yield table


def _reason(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _probe_hub(ds_id: str, advice: Callable[[str, str], str]) -> None:
    """Fail in seconds when the hub cannot be reached (its client retries with backoff).

    Skipped in offline mode (the client fails at once) and behind a proxy (a direct connection
    says nothing about the proxy route).
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or any(os.environ.get(v) for v in _PROXY_VARS):
        return
    url = urlparse(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=connect, daemon=True)  # DNS lookups ignore timeouts
    worker.start()
    worker.join(PROBE_SECONDS)
    if not outcome:
        raise NeedsKeyError(advice(ds_id, f"no answer from {host} in {PROBE_SECONDS:.0f}s"))
    if outcome[0] is not None:
        raise NeedsKeyError(advice(ds_id, f"cannot reach {host}: {_reason(outcome[0])}"))
