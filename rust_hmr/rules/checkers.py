"""doit's up-to-date checks by content: a file dependency changed when its blake3 changed, and
a stage's flags changed when the blake3 of their canonical JSON did.

doit's own checkers are `md5` and `timestamp`; the rule set passes ours, the class itself, as
`check_file_uptodate` in DOIT_CONFIG. No modification time is trusted: a file saved with the
same bytes is unchanged, a file whose bytes changed is changed, whatever its mtime says.

A file of a content-addressed store, named by its own blake3 (`<64 hex digits>.o`, the
captured objects of `rust_hmr.shim.capture`), is not read: its name is its digest. The hot
path depends on every codegen unit's object this way, so a save hashes no object twice.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import blake3
from doit.dependency import FileChangedChecker
from doit.tools import config_changed

__all__ = ["Blake3Checker", "file_blake3", "flags_changed"]

_CHUNK = 1 << 20
_CONTENT_NAMED = re.compile(r"[0-9a-f]{64}\.o")


def _named_digest(path: str) -> str | None:
    """The blake3 a content-addressed file is named by, or None for any other file."""
    name = os.path.basename(path)
    return name[:64] if _CONTENT_NAMED.fullmatch(name) else None


def file_blake3(path: str | os.PathLike[str]) -> str:
    """The blake3 (hex) of a file's bytes."""
    hasher = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


class Blake3Checker(FileChangedChecker):
    """Content checker: the state of a file is `[size, blake3]`.

    A different size is a change without reading the file; otherwise the bytes are hashed.
    """

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
        """True when the file's content differs from the saved state."""
        try:
            size, digest = state
        except (TypeError, ValueError):  # a state saved by another checker
            return True
        if file_stat.st_size != size:
            return True
        return bool((_named_digest(file_path) or file_blake3(file_path)) != digest)

    def get_state(self, dep: str, current_state: Any) -> list[Any] | None:
        """`[size, blake3]` of `dep`, or None when it equals `current_state` (no DB write)."""
        state = [os.path.getsize(dep), _named_digest(dep) or file_blake3(dep)]
        if current_state is not None and list(current_state) == state:
            return None
        return state


class flags_changed(config_changed):
    """doit's `config_changed` (lowercase like doit's own uptodate helpers) for a dict of
    flags and settings, digested with blake3: the task runs again when any value changes."""

    def _calc_digest(self) -> str:
        data = json.dumps(self.config, sort_keys=True, separators=(",", ":"), default=str)
        return blake3.blake3(data.encode()).hexdigest()
