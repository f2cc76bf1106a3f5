"""Quick reads of the two big sections of a dev module that describing needs a little of.

A dev main module exports ~10,000 functions and defines as many bodies. Describing looks up a
few thousand exports by name and reads the bodies of the describe functions only; decoding
every export and body into objects (`WasmFile.decoded`) would cost more than describing. These
readers keep to plain dicts and offsets, and remember the last section they read (by identity:
section payloads are immutable bytes), since the describe step and the planner both ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from rust_hmr.wasm import WasmDecodeError, WasmFile
from rust_hmr.wasm.sections.code import FunctionBody

_FUNCTION, _GLOBAL = 0, 3


def _u32(data: bytes, pos: int, what: str, base: int) -> tuple[int, int]:
    result = shift = 0
    try:
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7
            if shift > 28:
                raise WasmDecodeError(f"{what}: LEB128 longer than 5 bytes", base + pos)
    except IndexError:
        raise WasmDecodeError(f"{what}: section ends inside a LEB128", base + pos) from None


_last_exports: tuple[bytes, dict[int, dict[str, int]]] | None = None


def function_exports(wasm: WasmFile) -> dict[str, int]:
    """Every exported function's index, by export name."""
    return _exports(wasm).get(_FUNCTION, {})


def global_exports(wasm: WasmFile) -> dict[str, int]:
    """Every exported global's index, by export name."""
    return _exports(wasm).get(_GLOBAL, {})


def _exports(wasm: WasmFile) -> dict[int, dict[str, int]]:
    """Export indices by kind, then name."""
    global _last_exports
    section = wasm.get("export")
    if section is None:
        return {}
    payload = section.payload
    if _last_exports is not None and _last_exports[0] is payload:
        return _last_exports[1]
    found = _read_exports(payload, section.offset)
    _last_exports = (payload, found)
    return found


def _read_exports(payload: bytes, base: int) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {_FUNCTION: {}}
    functions = found[_FUNCTION]
    count, pos = _u32(payload, 0, "export count", base)
    end = len(payload)
    for _ in range(count):
        size = payload[pos] if pos < end else 0x80  # LEB128s are mostly short: inline them
        if size < 0x80:
            pos += 1
        else:
            size, pos = _u32(payload, pos, "export name length", base)
        stop = pos + size
        if stop + 1 >= end:
            raise WasmDecodeError("export section ends inside an export", base + stop)
        kind, index = payload[stop], payload[stop + 1]
        if index < 0x80:
            after = stop + 2
        elif stop + 2 < end and payload[stop + 2] < 0x80:
            index, after = index & 0x7F | payload[stop + 2] << 7, stop + 3
        else:
            index, after = _u32(payload, stop + 1, "export index", base)
        try:
            name = payload[pos:stop].decode()
        except UnicodeDecodeError:
            raise WasmDecodeError("export name is not UTF-8", base + after) from None
        if kind == _FUNCTION:
            functions[name] = index
        else:
            found.setdefault(kind, {})[name] = index
        pos = after
    return found


def function_types(wasm: WasmFile) -> list[int]:
    """The type index of each defined function, as `wasm.decoded("function")`; straight from
    the bytes when each index is one byte (the usual case: fewer than 128 types)."""
    section = wasm.get("function")
    if section is None:
        return []
    count, pos = _u32(section.payload, 0, "function count", section.offset)
    rest = section.payload[pos:]
    if len(rest) == count and rest.isascii():
        return list(rest)
    return wasm.decoded("function", [])  # type: ignore[no-any-return]


@dataclass(frozen=True)
class CodeIndex:
    """Where each body sits in the code section; a body's bytes are sliced when asked for."""

    payload: bytes
    base: int  # the section's file offset
    starts: tuple[int, ...]  # of each body's data (locals first), in the payload
    ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.starts)

    def data(self, k: int) -> bytes:
        """The k-th body's bytes (locals and instructions), as `FunctionBody.data`."""
        return self.payload[self.starts[k]:self.ends[k]]

    def body(self, k: int) -> FunctionBody:
        return FunctionBody(self.base + self.starts[k], self.data(k))


_last_code: CodeIndex | None = None


def code_index(wasm: WasmFile) -> CodeIndex:
    """The bodies of `wasm`'s code section (none without one)."""
    global _last_code
    section = wasm.get("code")
    if section is None:
        return CodeIndex(b"", 0, (), ())
    payload = section.payload
    if _last_code is not None and _last_code.payload is payload:
        return _last_code
    base = section.offset
    count, pos = _u32(payload, 0, "function body count", base)
    starts, ends = [], []
    end = len(payload)
    for _ in range(count):
        size = payload[pos] if pos + 1 < end else 0x80  # one or two bytes, mostly: inline them
        if size < 0x80:
            pos += 1
        elif payload[pos + 1] < 0x80:
            size, pos = size & 0x7F | payload[pos + 1] << 7, pos + 2
        else:
            size, pos = _u32(payload, pos, "function body size", base)
        if pos + size > end:
            raise WasmDecodeError("function body runs past the code section", base + pos)
        starts.append(pos)
        pos += size
        ends.append(pos)
    _last_code = CodeIndex(payload, base, tuple(starts), tuple(ends))
    return _last_code
