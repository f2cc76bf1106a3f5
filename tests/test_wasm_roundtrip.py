"""Reading and writing real wasm files: byte-exact round trips, re-encoding, edits that validate."""

from pathlib import Path

import pytest
import wasmtime

from rust_hmr.wasm.module import codec_for, decode_all, parse
from rust_hmr.wasm.sections.common import Limits
from rust_hmr.wasm.sections.exports import Export
from rust_hmr.wasm.sections.imports import ExternKind
from rust_hmr.wasm.writer import Writer


def real_files(request: pytest.FixtureRequest) -> list[Path]:
    objects = request.getfixturevalue("counter_objects")
    return [
        request.getfixturevalue("counter_debug_wasm"),
        request.getfixturevalue("counter_release_wasm"),
        *objects,
    ]


def test_unchanged_files_round_trip_byte_identical(request: pytest.FixtureRequest) -> None:
    files = real_files(request)
    assert len(files) >= 5
    for path in files:
        data = path.read_bytes()
        assert parse(data).to_bytes() == data, path.name


def test_every_known_section_re_encodes_to_the_same_bytes(request: pytest.FixtureRequest) -> None:
    """Decoding and encoding again gives the original payload: the encoders are exact."""
    checked: set[str] = set()
    for path in real_files(request):
        wasm = parse(path.read_bytes())
        decode_all(wasm)
        for section in wasm.sections:
            codec = codec_for(section.name)
            if codec is None:
                continue
            w = Writer()
            codec[1](w, section.decode())
            assert w.getvalue() == section.payload, f"{path.name}: {section.name}"
            checked.add(section.name.split(".")[0])
    assert {
        "type",
        "import",
        "function",
        "code",
        "data",
        "export",
        "linking",
        "reloc",
        "name",
        "producers",
        "target_features",
        "global",
        "element",
        "memory",
    } <= checked


def test_objects_are_objects_and_linked_modules_are_modules(
    counter_debug_wasm: Path, counter_objects: list[Path]
) -> None:
    assert parse(counter_debug_wasm.read_bytes()).kind == "module"
    for path in counter_objects:
        wasm = parse(path.read_bytes())
        assert wasm.kind == "object"
        assert wasm.decoded("linking").symbols


def test_edited_module_validates_and_runs(counter_debug_wasm: Path, tmp_path: Path) -> None:
    """Grow the memory, add an export of an existing function: wasmtime accepts the result
    and the app still counts."""
    wasm = parse(counter_debug_wasm.read_bytes())
    memory = wasm.decoded("memory")[0]
    wasm.set("memory", [Limits(memory.minimum + 16, memory.maximum, memory.flags)])
    exports = list(wasm.decoded("export"))
    increment = next(e for e in exports if e.name == "increment")
    exports.append(Export("hmr_increment_again", ExternKind.FUNCTION, increment.index))
    wasm.set("export", exports)
    out = tmp_path / "edited.wasm"
    out.write_bytes(wasm.to_bytes())

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, str(out))
    page = [wasmtime.Func(store, i.type, lambda *args: None) for i in module.imports]  # type: ignore[arg-type]
    instance = wasmtime.Instance(store, module, page)
    ex = instance.exports(store)
    exported_memory, increment_func, again = (
        ex["memory"], ex["increment"], ex["hmr_increment_again"])
    assert isinstance(exported_memory, wasmtime.Memory)
    assert isinstance(increment_func, wasmtime.Func) and isinstance(again, wasmtime.Func)
    assert exported_memory.size(store) == memory.minimum + 16
    assert increment_func(store) == 1
    assert again(store) == 2


def test_code_bodies_are_slices_at_their_file_offsets(counter_debug_wasm: Path) -> None:
    data = counter_debug_wasm.read_bytes()
    bodies = parse(data).decoded("code")
    assert len(bodies) > 1000
    for body in bodies[:: max(1, len(bodies) // 50)]:
        assert data[body.offset : body.offset + len(body.data)] == body.data
