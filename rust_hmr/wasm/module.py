"""A wasm binary (core module or relocatable object) as a list of sections.

`parse` splits the file into sections and keeps each payload as bytes: nothing inside a section
is decoded until a stage asks (`WasmFile.decoded`). `WasmFile.to_bytes` writes every section
back, untouched ones byte for byte (the original width of each size field included, since LLVM
pads those to 5 bytes in objects), so an unchanged file round-trips exactly.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.sections import (
    code,
    data,
    elements,
    exports,
    globals,
    imports,
    indices,
    linking,
    name,
    producers,
    reloc,
    tables,
    types,
)
from rust_hmr.wasm.writer import Writer

MAGIC = b"\0asm"
VERSION = 1


class SectionId(IntEnum):
    CUSTOM = 0
    TYPE = 1
    IMPORT = 2
    FUNCTION = 3
    TABLE = 4
    MEMORY = 5
    GLOBAL = 6
    EXPORT = 7
    START = 8
    ELEMENT = 9
    CODE = 10
    DATA = 11
    DATA_COUNT = 12
    TAG = 13


# Standard sections in the order the spec requires (the tag section sits before globals).
STANDARD_ORDER = (
    SectionId.TYPE, SectionId.IMPORT, SectionId.FUNCTION, SectionId.TABLE, SectionId.MEMORY,
    SectionId.TAG, SectionId.GLOBAL, SectionId.EXPORT, SectionId.START, SectionId.ELEMENT,
    SectionId.DATA_COUNT, SectionId.CODE, SectionId.DATA,
)
_RANK = {sid: rank for rank, sid in enumerate(STANDARD_ORDER)}
STANDARD_NAMES = {sid: sid.name.lower().replace("_", "") for sid in STANDARD_ORDER}
STANDARD_NAMES[SectionId.DATA_COUNT] = "datacount"
_IDS_BY_NAME = {text: sid for sid, text in STANDARD_NAMES.items()}

Read = Callable[[Reader], Any]
Write = Callable[[Writer, Any], None]

CODECS: dict[str, tuple[Read, Write]] = {
    "type": (types.read_types, types.write_types),
    "import": (imports.read_imports, imports.write_imports),
    "function": (indices.read_functions, indices.write_functions),
    "table": (tables.read_tables, tables.write_tables),
    "memory": (tables.read_memories, tables.write_memories),
    "tag": (tables.read_tags, tables.write_tags),
    "global": (globals.read_globals, globals.write_globals),
    "export": (exports.read_exports, exports.write_exports),
    "start": (indices.read_start, indices.write_start),
    "element": (elements.read_elements, elements.write_elements),
    "datacount": (indices.read_data_count, indices.write_data_count),
    "code": (code.read_code, code.write_code),
    "data": (data.read_data, data.write_data),
    "name": (name.read_names, name.write_names),
    "linking": (linking.read_linking, linking.write_linking),
    "producers": (producers.read_producers, producers.write_producers),
    "target_features": (producers.read_target_features, producers.write_target_features),
}
RELOC_PREFIX = "reloc."


def codec_for(section_name: str) -> tuple[Read, Write] | None:
    if section_name.startswith(RELOC_PREFIX):
        return reloc.read_reloc, reloc.write_reloc
    return CODECS.get(section_name)


@dataclass
class Section:
    """One section. `name` is the standard name ("code") or the custom section's own name.

    `payload` excludes the custom-section name. `offset` is where the payload sat in the
    source file (0 for new sections), so decode errors and body offsets are absolute.
    """

    id: int
    name: str
    payload: bytes
    offset: int = 0
    size_width: int | None = None
    _value: Any = field(default=None, repr=False, compare=False)

    @property
    def is_custom(self) -> bool:
        return self.id == SectionId.CUSTOM

    def reader(self) -> Reader:
        return Reader(self.payload, base=self.offset)

    def decode(self) -> Any:
        """The decoded value (cached); raises WasmDecodeError for malformed contents."""
        if self._value is None:
            found = codec_for(self.name)
            if found is None:
                raise KeyError(f"no decoder for section {self.name!r}")
            r = self.reader()
            value = found[0](r)
            r.expect_end(f"{self.name} section")
            self._value = value
        return self._value

    def set_value(self, value: Any) -> None:
        """Replace the contents by encoding `value` (the decoder's own type)."""
        found = codec_for(self.name)
        if found is None:
            raise KeyError(f"no encoder for section {self.name!r}")
        w = Writer()
        found[1](w, value)
        self.payload = w.getvalue()
        self._value = value

    def set_payload(self, payload: bytes) -> None:
        self.payload = payload
        self._value = None

    def encoded_size(self) -> int:
        """Size of the section's contents as its header counts it (custom name included)."""
        if self.is_custom:
            raw_name = self.name.encode()
            return len(encode_unsigned(len(raw_name))) + len(raw_name) + len(self.payload)
        return len(self.payload)

    def header(self) -> bytes:
        """The bytes before the payload: id, size and, for a custom section, its name."""
        size = self.encoded_size()
        width = self.size_width
        if width is not None and size >= 1 << (7 * width):
            width = None
        head = bytes([self.id]) + encode_unsigned(size, width)
        if self.is_custom:
            raw_name = self.name.encode()
            head += encode_unsigned(len(raw_name)) + raw_name
        return head

    def write(self, out: bytearray) -> None:
        out += self.header()
        out += self.payload


@dataclass
class WasmFile:
    sections: list[Section]

    @property
    def kind(self) -> str:
        """"object" for a relocatable object (it has a `linking` section), else "module".

        A main module linked with `--emit-relocs` keeps a `linking` section too, but it has
        no `env.__linear_memory` import and defines a memory; it counts as a module.
        """
        if self.get("linking") is None:
            return "module"
        return "module" if self.get("memory") is not None else "object"

    def get(self, section_name: str) -> Section | None:
        for section in self.sections:
            if section.name == section_name:
                return section
        return None

    def custom(self, prefix: str = "") -> Iterator[Section]:
        return (s for s in self.sections if s.is_custom and s.name.startswith(prefix))

    def decoded(self, section_name: str, default: Any = None) -> Any:
        """The decoded contents of a section, or `default` when the file has none."""
        section = self.get(section_name)
        return default if section is None else section.decode()

    def set(self, section_name: str, value: Any) -> Section:
        """Encode `value` into the named section, adding it at its standard place if needed."""
        section = self.get(section_name)
        if section is None:
            section = self._insert(section_name)
        section.set_value(value)
        return section

    def _insert(self, section_name: str) -> Section:
        sid = _IDS_BY_NAME.get(section_name, SectionId.CUSTOM)
        section = Section(sid, section_name, b"")
        if sid == SectionId.CUSTOM:
            self.sections.append(section)
            return section
        rank = _RANK[sid]
        position = len(self.sections)
        for i, other in enumerate(self.sections):
            if not other.is_custom and _RANK[SectionId(other.id)] > rank:
                position = i
                break
        self.sections.insert(position, section)
        return section

    def index_of(self, section: Section) -> int:
        return next(i for i, s in enumerate(self.sections) if s is section)

    def to_bytes(self) -> bytes:
        """The whole file, each payload copied once."""
        parts = [MAGIC, VERSION.to_bytes(4, "little")]
        for section in self.sections:
            parts += (section.header(), section.payload)
        return b"".join(parts)


def parse(data: bytes) -> WasmFile:
    """Split `data` into sections; raises WasmDecodeError on a malformed file."""
    data = bytes(data)
    r = Reader(data)
    if r.remaining < 8:
        raise WasmDecodeError("not a wasm file: shorter than the 8-byte header", 0)
    if r.raw(4) != MAGIC:
        raise WasmDecodeError("not a wasm file: expected the magic bytes \\0asm", 0)
    version = int.from_bytes(r.raw(4), "little")
    if version != VERSION:
        raise WasmDecodeError(
            f"unsupported wasm version {version:#x} (expected 1: a core module; components "
            "are not supported)", 4)
    sections: list[Section] = []
    last_rank = -1
    while not r.at_end():
        start = r.offset
        sid = r.u8("section id")
        size_at = r.pos
        size = r.u32("section size")
        width = r.pos - size_at
        body = r.sub(size, "section contents")
        if sid == SectionId.CUSTOM:
            section_name = body.name("custom section name")
        elif sid in _RANK:
            rank = _RANK[SectionId(sid)]
            if rank <= last_rank:
                raise WasmDecodeError(
                    f"section {STANDARD_NAMES[SectionId(sid)]} out of order or repeated", start)
            last_rank = rank
            section_name = STANDARD_NAMES[SectionId(sid)]
        else:
            raise WasmDecodeError(f"unknown section id {sid}", start)
        sections.append(Section(sid, section_name, data[body.pos : body.end], body.offset, width))
    return WasmFile(sections)


def decode_all(wasm: WasmFile) -> None:
    """Decode every section this toolkit knows and check they agree with each other.

    Used by `inspect` and the robustness tests; stages decode only what they need.
    """
    for section in wasm.sections:
        if codec_for(section.name) is not None:
            section.decode()
    functions = wasm.decoded("function", [])
    bodies = wasm.get("code")
    if bodies is not None and len(bodies.decode()) != len(functions):
        raise WasmDecodeError(
            f"code section has {len(bodies.decode())} bodies for {len(functions)} functions",
            bodies.offset)
    if bodies is None and functions:
        raise WasmDecodeError(f"{len(functions)} functions declared but no code section", 0)
