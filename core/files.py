"""Crash-safe writes: a file appears whole or not at all, readable by colleagues (mode 0644)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import HarnessError, one_line

FILE_MODE = 0o644


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write all of `data` or nothing (temp file + fsync + rename). Unwritable targets are one-line errors."""
    path = Path(path)
    if path.is_dir():
        raise HarnessError(f"{path}: is a folder, expected a file path")
    if path.exists() and not path.is_file():   # /dev/null, a FIFO, a socket: never replaced by our file
        raise HarnessError(f"{path}: not a regular file; give a file path to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise HarnessError(f"{path}: cannot write here ({one_line(e.strerror or e)})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise HarnessError(f"{path}: cannot write here ({one_line(e.strerror or e)})") from None
        raise


def ensure_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create a folder (or accept an existing one); a file in the way or a read-only place is one line."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise HarnessError(f"{what} {str(p)!r} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HarnessError(f"{what} {str(p)!r}: cannot create it ({one_line(e.strerror or e)})") from None
    if not os.access(p, os.W_OK):
        raise HarnessError(f"{what} {str(p)!r} is not writable")
    return p
