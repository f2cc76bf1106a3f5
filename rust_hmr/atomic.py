"""Atomic writes: a file is replaced whole or not at all.

    write_atomic(path, data)        bytes or text; `executable=True` sets the x bits

The bytes go to a temporary file beside `path` (same file system, so the rename is atomic),
which is renamed onto `path`; a reader sees the old file or the new one, never a part. A write
that fails removes its temporary file and raises.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes | str, *, executable: bool = False) -> None:
    """Replace `path` with `data` (text is written as UTF-8)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        if executable:
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
