"""Atomic writes: a file is replaced whole or not at all.

    write_atomic(path, data)        bytes or text; `executable=True` sets the x bits

The bytes go to a temporary file beside `path` (same file system, so the rename is atomic),
which is renamed onto `path`; a reader sees the old file or the new one, never a part. A write
that fails removes its temporary file and raises.

Each write has a temporary of its own (`.<name>.<pid>.<random>.tmp`, created exclusively), so
writers of the same `path` in several threads or processes never share one: the last rename
wins, and each reader still sees one whole file. The file's mode is the one `open` gives a new
file (0o666 less the umask), as if `path` had been written directly.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes | str, *, executable: bool = False) -> None:
    """Replace `path` with `data` (text is written as UTF-8)."""
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    out = tmp.open("xb")  # outside the try: a name already taken is not ours to remove
    try:
        with out:
            out.write(payload)
        if executable:
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
