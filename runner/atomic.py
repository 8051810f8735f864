"""Write a file all or nothing: a temporary file beside it, renamed over it only on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator


class WriteError(Exception):
    """The file could not be written; the message is one line ready to print."""


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file beside `path`; it replaces `path` when the block ends without an error.

    A failure anywhere (in the block, or in the rename) removes the temporary file and
    leaves an existing `path` untouched. OS errors come out as `WriteError`.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WriteError(f"cannot write {path}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise WriteError(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as sink:
            yield sink
        try:
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the usual mode
            os.replace(temporary, path)
        except OSError as error:
            raise WriteError(f"cannot write {path}: {error.strerror}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_bytes(path: Path, data: bytes) -> None:
    """`path` holds exactly `data` afterwards, or is unchanged and `WriteError` says why."""
    with replacing(path) as sink:
        try:
            sink.write(data)
        except OSError as error:
            raise WriteError(f"cannot write {path}: {error.strerror}") from None


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    current = os.umask(0)
    os.umask(current)
    return current
