"""The published modules as files, so that responses stream them from disk.

A response made from bytes hands all of them to the socket's write buffer at once: a client
that asks for the 7 MB main module and does not read keeps 7 MB of the server's memory, and 30
such clients kept 130 MiB that the allocator did not give back after they left. A file goes
out with sendfile (aiohttp's FileResponse) straight from the page cache, and what waits for a
slow reader is the kernel's socket buffer, nothing in the process.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

from rust_hmr.atomic import write_atomic


class Spool:
    """A private temporary folder holding one file per published module, written when a
    request first needs it and never changed after (its name carries the build id and, for a
    patch, its number). `clear()` when a build is published: a rebuild may give the same
    build id with other patches. The folder goes with `close()`, or with the object."""

    def __init__(self, prefix: str = "rust-hmr-dev-") -> None:
        self._prefix = prefix
        self._root: Path | None = None
        self._finalizer: weakref.finalize[..., Spool] | None = None

    def file(self, name: str, data: bytes) -> Path:
        """The file `name` (a relative path) holding `data`, written now if missing."""
        path = self._folder() / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)  # a request never streams a file half written
        return path

    def clear(self) -> None:
        """Drop every file (responses that already opened one still send it whole)."""
        if self._root is not None:
            for entry in self._root.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._root = self._finalizer = None

    def _folder(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix=self._prefix))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._root, True)
        return self._root
