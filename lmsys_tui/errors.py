"""Exit codes and the errors that carry them.

Both front doors share one enum so an agent can branch on `$?` without parsing text.
Core code raises `LmsysError` subclasses; the CLI prints their message as one line on stderr.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    NEEDS_KEY = 4
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # stdout closed early (`| head`): 128 + SIGPIPE, as Unix tools report


class LmsysError(Exception):
    """An expected failure with a one-line message for the user."""

    code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(LmsysError):
    """Bad input: options, files, or a store this version cannot open."""

    code = ExitCode.USAGE


class NotFoundError(LmsysError):
    code = ExitCode.NOT_FOUND


class NeedsKeyError(LmsysError):
    """A key, a login or the network is needed and is not there."""

    code = ExitCode.NEEDS_KEY


class Cancelled(LmsysError):
    """A stage stopped because its caller asked it to; committed work is kept."""

    code = ExitCode.INTERRUPTED


def first_line(exc: BaseException, limit: int = 300) -> str:
    """What an exception says, cut to one line for a one-line error message (a library's
    message may run to pages); its type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


_NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_SQLITE_NO_ROOM = ("database or disk is full", "disk i/o error")


def no_room(exc: BaseException) -> str | None:
    """The cause, when `exc` is a write that failed for want of room (a full disk, a quota, a
    file-size limit; SQLite reports the last as a disk I/O error), else None."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps sqlite3's errors
    if isinstance(orig, OSError) and orig.errno in _NO_ROOM:
        return orig.strerror or first_line(orig)
    text = str(orig).strip().lower()
    if type(orig).__name__ == "OperationalError" and text.startswith(_SQLITE_NO_ROOM):
        return first_line(orig)
    return None
