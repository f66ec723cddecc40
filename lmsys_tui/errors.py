"""Exit codes and the errors that carry them.

Both front doors share one enum so an agent can branch on `$?` without parsing text.
Core code raises `LmsysError` subclasses; the CLI prints their message as one line on stderr.
"""

from __future__ import annotations

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
