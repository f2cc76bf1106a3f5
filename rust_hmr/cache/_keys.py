"""Content addresses: blob hashes, action keys, and the action record stored under a key.

An action key is the blake3 of a msgpack array, so the same action gives the same key in every
process and on every machine: flags that are mappings are sorted by key, input names are
sorted, tuples become lists. `version` 1 and "1" give different keys (msgpack keeps the type).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import blake3
import msgpack

from rust_hmr.cache._errors import CorruptEntry

# Bumped when the encoding of keys or records changes: every old key then misses.
_KEY_FORMAT = "rust-hmr action key 1"
_RECORD_FORMAT = 1
# Above this size blake3 hashes on several threads; below it the threads cost more than they save.
_THREADED_HASH_BYTES = 1 << 20


def blob_hash(data: bytes) -> str:
    """The blake3 (64 hex digits) that names `data` in the store."""
    if len(data) >= _THREADED_HASH_BYTES:
        return blake3.blake3(data, max_threads=blake3.blake3.AUTO).hexdigest()
    return blake3.blake3(data).hexdigest()


def action_key(
    stage: str,
    version: int | str,
    toolchain: str,
    flags: Sequence[str] | Mapping[str, Any],
    inputs: Mapping[str, str],
) -> str:
    """The key of one action: blake3 over (stage, version, toolchain fingerprint, flags,
    input blob hashes by name).

    `flags` is a sequence of strings or a mapping of msgpack-able values (nested mappings are
    sorted too); a bare string is refused, since its characters would pass for flags.
    """
    if isinstance(flags, str | bytes):
        raise TypeError("flags must be a sequence of strings or a mapping, not a string")
    for name, digest in inputs.items():
        if not isinstance(name, str) or not isinstance(digest, str):
            raise TypeError(f"inputs map names to blob hashes (str -> str), got {name!r}")
    payload = [
        _KEY_FORMAT,
        stage,
        version,
        toolchain,
        _canonical(flags),
        sorted(inputs.items()),
    ]
    return blake3.blake3(msgpack.packb(payload, use_bin_type=True)).hexdigest()


def _canonical(value: Any) -> Any:
    """`value` with mappings sorted by key and tuples as lists: one encoding per meaning."""
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"flag names must be strings, got {sorted(map(repr, value))}")
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    raise TypeError(f"a flag value must be msgpack data, got {type(value).__name__}")


@dataclass(frozen=True)
class ActionRecord:
    """What an action produced: its outputs by name (each a blob hash), each output's size
    in bytes (so a download can be refused as soon as it runs past it), and free-form
    metadata (timings, sizes, diagnostics; anything msgpack holds).

    `sizes` may be empty: records stored before it existed have none, and still decode.
    """

    outputs: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def to_msgpack(self) -> bytes:
        """The record as stored under its action key."""
        payload = {"format": _RECORD_FORMAT, "outputs": self.outputs, "meta": self.meta}
        if self.sizes:
            payload["sizes"] = self.sizes
        try:
            packed: bytes = msgpack.packb(payload, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as err:
            raise TypeError(f"the record's meta is not msgpack data: {err}") from None
        return packed

    def size_of(self, digest: str) -> int | None:
        """The size the record gives the blob `digest`, or None when it gives none."""
        for name, output in self.outputs.items():
            if output == digest and name in self.sizes:
                return self.sizes[name]
        return None

    @classmethod
    def from_msgpack(cls, data: bytes, *, key: str = "?", where: str = "record") -> ActionRecord:
        """The record in `data`; `CorruptEntry` (naming `key` and `where`) when it is not one."""
        try:
            payload = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, TypeError, msgpack.UnpackException) as err:
            raise CorruptEntry("ac", key, where, f"not msgpack ({err})") from None
        if not isinstance(payload, dict) or payload.get("format") != _RECORD_FORMAT:
            raise CorruptEntry("ac", key, where, "not an action record of this version")
        outputs, meta = payload.get("outputs"), payload.get("meta")
        sizes = payload.get("sizes", {})
        if not isinstance(outputs, dict) or not isinstance(meta, dict):
            raise CorruptEntry("ac", key, where, "outputs or meta is not a map")
        for name, digest in outputs.items():
            if not (isinstance(name, str) and isinstance(digest, str) and is_hash(digest)):
                raise CorruptEntry("ac", key, where, f"output {name!r} has no valid blob hash")
        if not isinstance(sizes, dict) or not all(
            name in outputs and type(size) is int and size >= 0 for name, size in sizes.items()
        ):
            raise CorruptEntry("ac", key, where, "sizes is not a map of outputs to sizes")
        return cls(outputs, meta, sizes)


def is_hash(text: str) -> bool:
    """Whether `text` can name an entry: 64 lowercase hex digits (a blake3 or a sha256)."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
