"""The `__wasm_bindgen_unstable` custom section: a run of records, one per `#[wasm_bindgen]` item.

Each record, as wasm-bindgen 0.2.83's macro writes it (and the linker concatenates them):

    u32 LE   length of the prefix
    bytes    the prefix: JSON {"schema_version": "0.2.83", "version": "0.2.83"}
    u32 LE   length of the program
    bytes    the program, encoded as `_codec` describes

The prefix is JSON so that a reader of another schema can still read the version and say so;
we check it on every record before decoding the program behind it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from rust_hmr.bindgen._codec import reader_for
from rust_hmr.bindgen._errors import SchemaVersionError, SectionDecodeError
from rust_hmr.bindgen.schema import SCHEMA_VERSION, Program
from rust_hmr.wasm import WasmFile
from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.reader import Reader

SECTION_NAME = "__wasm_bindgen_unstable"

# Decoded programs by their bytes, for the process: a dev session reads the same web-sys
# programs (hundreds of KB, most of a module's records) on every full build. A program is
# immutable, so records share them.
_PROGRAMS: dict[bytes, Program] = {}
_MAX_PROGRAMS = 4096


@dataclass(frozen=True)
class Record:
    """One program and where it sat: `offset` is its first byte in the wasm file."""

    schema_version: str
    version: str  # the wasm-bindgen crate's version, informative
    program: Program
    offset: int


def read_records(wasm: WasmFile) -> list[Record]:
    """Every record of every `__wasm_bindgen_unstable` section, in file order.

    A module without the section has no records (it does not use wasm-bindgen).
    """
    sections = [s for s in wasm.custom(SECTION_NAME) if s.name == SECTION_NAME]
    return [rec for s in sections for rec in decode_records(s.payload, s.offset)]


def decode_records(payload: bytes, base: int = 0) -> Iterator[Record]:
    """The records in one section's payload; `base` is its file offset, for error messages."""
    r = Reader(payload, base=base)
    try:
        while not r.at_end():
            yield _read_record(r)
    except WasmDecodeError as err:
        raise SectionDecodeError(err.message, err.offset) from None


def _read_record(r: Reader) -> Record:
    prefix_at = r.offset
    prefix = _length_prefixed(r, "record prefix")
    schema_version, version = _versions(prefix.raw(prefix.remaining), prefix_at)
    if schema_version != SCHEMA_VERSION:
        raise SchemaVersionError(schema_version, SCHEMA_VERSION)
    body = _length_prefixed(r, "program")
    offset = body.offset
    raw = body.data[body.pos:body.end]
    program = _PROGRAMS.get(raw)
    if program is None:
        program = reader_for(Program)(body)
        body.expect_end("program")
        if len(_PROGRAMS) >= _MAX_PROGRAMS:
            _PROGRAMS.clear()
        _PROGRAMS[raw] = program
    return Record(schema_version, version, program, offset)


def _length_prefixed(r: Reader, what: str) -> Reader:
    size = int.from_bytes(r.raw(4, f"{what} length"), "little")
    return r.sub(size, what)


def _versions(raw: bytes, offset: int) -> tuple[str, str]:
    try:
        prefix = json.loads(raw)
        schema_version, version = prefix["schema_version"], prefix.get("version", "")
    except (ValueError, TypeError, KeyError):
        raise WasmDecodeError(
            "record prefix is not the JSON {\"schema_version\": ...} wasm-bindgen writes", offset
        ) from None
    if not isinstance(schema_version, str):
        raise WasmDecodeError(f"schema_version {schema_version!r} is not a string", offset)
    return schema_version, str(version)
