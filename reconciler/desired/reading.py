"""Read one desired-state file as text: regular files only, never blocking, never more than the size limit.

A path can name something that is not a file: a named pipe (FIFO) would block a plain `open()`
until a writer appears, and `/dev/zero` never ends. The file is opened non-blocking, checked with
`fstat` on the open descriptor (so it cannot be swapped between the check and the read), and read
only when it is a regular file of at most `max_bytes` bytes (`EAS_GITOPS_MAX_FILE_BYTES`). Every
refusal is one file-level problem that says what the path is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from reconciler.desired.limits import Limits
from reconciler.errors import Problem

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))
_NOT_REGULAR_HINT = "give a regular *.yaml file: pipes, devices and sockets are never read"


def kind_of(mode: int) -> str:
    """What a file mode says the path is, in words ('a named pipe (FIFO)', ..., 'a regular file')."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file" if not stat.S_ISREG(mode)
                else "a regular file")


def read_text(path: Path, max_bytes: int) -> tuple[str | None, list[Problem]]:
    """The UTF-8 text of `path` (None and one problem when it cannot or must not be read)."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, [Problem(file, 0, 0, f"cannot read the file: {exc.strerror or exc}",
                              "check that it exists and that you may read it")]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [Problem(file, 0, 0, f"is {kind_of(info.st_mode)}, not a regular file", _NOT_REGULAR_HINT)]
        if info.st_size > max_bytes:
            return None, [_too_big(file, info.st_size, max_bytes)]
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(max_bytes + 1)  # +1: a file that grew since fstat is still caught
    except OSError as exc:
        return None, [Problem(file, 0, 0, f"cannot read the file: {exc.strerror or exc}",
                              "check that you may read it")]
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        return None, [_too_big(file, len(raw), max_bytes)]
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), []
    except UnicodeDecodeError as exc:
        return None, [Problem(file, 0, 0, f"cannot read the file: not UTF-8 text ({exc.reason} at byte {exc.start})",
                              "save it as UTF-8 text")]


def _too_big(file: str, size: int, max_bytes: int) -> Problem:
    return Problem(file, 0, 0, f"the file is {size} bytes, over the limit of {max_bytes} bytes",
                   f"a group file is a few kilobytes; split it, or raise {Limits.variable('max_file_bytes')}")
