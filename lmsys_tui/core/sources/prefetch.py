"""Read a source ahead in a background thread while the load stage writes to SQLite.

Parsing rows and hashing texts is Python work that holds the GIL; SQLite releases the GIL for
each statement it runs. With multi-row INSERT statements (one GIL release per thousand rows)
the two overlap on two cores. Order is kept and a source error reaches the consumer at the
point it happened, after every item read before it, so a failed load keeps the same batches
as a load without read-ahead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

CHUNK = 256  # items per hand-over
DEPTH = 8  # chunks read ahead at most: memory stays bounded


class _End:
    pass


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(
    items: Iterator[T], prepare: Callable[[T], U], *, chunk: int = CHUNK, depth: int = DEPTH
) -> Iterator[tuple[T, U]]:
    """(item, prepare(item)) for every item of `items`, read and prepared in a thread.

    Close the returned generator (or drop it) to stop the thread; the source is closed in
    the thread that iterates it.
    """
    handover: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                handover.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        buffer: list[tuple[T, U]] = []
        try:
            for item in items:
                buffer.append((item, prepare(item)))
                if len(buffer) >= chunk:
                    if not put(buffer):
                        return
                    buffer = []
            if (not buffer or put(buffer)) and put(_End()):
                return
        except BaseException as exc:  # handed to the consumer, raised there in order
            if not buffer or put(buffer):
                put(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="load-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            got = handover.get()
            if isinstance(got, _End):
                return
            if isinstance(got, _Failure):
                raise got.error
            yield from got
    finally:
        stop.set()
