"""A relocatable object decoded for the patch linker: only the sections it needs."""

from dataclasses import dataclass, field

from rust_hmr.wasm.module import WasmFile, parse
from rust_hmr.wasm.sections.code import FunctionBody
from rust_hmr.wasm.sections.data import DataSegment
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import Linking
from rust_hmr.wasm.sections.reloc import Relocation
from rust_hmr.wasm.sections.types import FuncType


@dataclass
class ObjectView:
    """`code_base`/`data_base`: file offsets of those sections' payloads, which relocation
    offsets count from."""

    name: str
    types: list[FuncType]
    function_imports: list[Import]
    global_imports: list[Import]
    defined: list[int]  # type index of each defined function
    bodies: list[FunctionBody]
    code_base: int
    segments: list[DataSegment]
    data_base: int
    linking: Linking
    code_relocs: list[Relocation] = field(default_factory=list)
    data_relocs: list[Relocation] = field(default_factory=list)

    @property
    def first_defined(self) -> int:
        return len(self.function_imports)


def _relocs_for(wasm: WasmFile, section_name: str) -> list[Relocation]:
    section = wasm.get(section_name)
    if section is None:
        return []
    target = wasm.index_of(section)
    for reloc in wasm.custom("reloc."):
        value = reloc.decode()
        if value.target == target:
            return value.entries
    return []


def load_object(name: str, data: bytes) -> ObjectView:
    """Decode what the linker needs of one object; debug sections and their relocations are
    left undecoded (patches carry no DWARF)."""
    wasm = parse(data)
    imports: list[Import] = wasm.decoded("import", [])
    code = wasm.get("code")
    data_section = wasm.get("data")
    linking = wasm.decoded("linking")
    if linking is None:
        raise ValueError(f"{name} is not a relocatable object (no linking section)")
    return ObjectView(
        name=name,
        types=wasm.decoded("type", []),
        function_imports=[i for i in imports if i.kind is ExternKind.FUNCTION],
        global_imports=[i for i in imports if i.kind is ExternKind.GLOBAL],
        defined=wasm.decoded("function", []),
        bodies=code.decode() if code else [],
        code_base=code.offset if code else 0,
        segments=data_section.decode() if data_section else [],
        data_base=data_section.offset if data_section else 0,
        linking=linking,
        code_relocs=_relocs_for(wasm, "code"),
        data_relocs=_relocs_for(wasm, "data"),
    )
