"""`rust-hmr inspect` against independent readers: wasm-tools and wasmtime."""

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import wasmtime

WASM_TOOLS = shutil.which("wasm-tools", path=str(Path(sys.executable).parent)) or "wasm-tools"

# wasm-tools objdump names sections in the plural; ours are the spec's singular names.
OBJDUMP_NAMES = {
    "types": "type",
    "imports": "import",
    "functions": "function",
    "tables": "table",
    "memories": "memory",
    "globals": "global",
    "exports": "export",
    "elements": "element",
    "code": "code",
    "data": "data",
    "data count": "datacount",
    "start": "start",
    "tags": "tag",
}
OBJDUMP_COUNTS = {
    "type": "types",
    "import": "imports",
    "function": "functions",
    "table": "tables",
    "memory": "memories",
    "global": "globals",
    "export": "exports",
    "element": "elements",
    "data": "data",
}


def inspect_json(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "rust_hmr", "inspect", "--json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def objdump(path: Path) -> list[tuple[str, int, int]]:
    """(section name, size, count) per section, as wasm-tools objdump reports them."""
    out = subprocess.run(
        [WASM_TOOLS, "objdump", str(path)], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r'\s*(custom "(.*)"|[a-z ]+?)\s*\|.*\|\s*(\d+) bytes \| (\d+) count', line)
        if m:
            name = m.group(2) if m.group(2) is not None else OBJDUMP_NAMES[m.group(1).strip()]
            rows.append((name, int(m.group(3)), int(m.group(4))))
    return rows


SYMBOL_LINE = re.compile(
    r"\| (Func|Data|Global|Section|Table|Tag|Event) \{ flags: SymbolFlags\(([^)]*)\)"
    r'(?:.*?name: (?:Some\("([^"]*)"\)|None|"([^"]*)"))?'
)
RELOC_LINE = re.compile(r"RelocationEntry \{ ty: (\w+),")
KINDS = {
    "Func": "function",
    "Data": "data",
    "Global": "global",
    "Section": "section",
    "Table": "table",
    "Tag": "tag",
    "Event": "tag",
}


def dump_symbols_and_relocs(
    path: Path,
) -> tuple[list[tuple[str, str | None, set[str]]], dict[str, Counter]]:
    out = subprocess.run(
        [WASM_TOOLS, "dump", str(path)], capture_output=True, text=True, check=True
    ).stdout
    symbols: list[tuple[str, str | None, set[str]]] = []
    relocs: dict[str, Counter] = {}
    section = None
    for line in out.splitlines():
        if m := re.search(r'\| name: "(reloc\.[^"]*)"', line):
            section = m.group(1)
            relocs[section] = Counter()
        elif (m := RELOC_LINE.search(line)) and section:
            relocs[section]["R_WASM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", m.group(1)).upper()] += 1
        elif m := SYMBOL_LINE.search(line):
            flags = {f.strip() for f in m.group(2).split("|") if f.strip() and f.strip() != "0x0"}
            symbols.append((KINDS[m.group(1)], m.group(3) or m.group(4), flags))
    return symbols, relocs


def test_sections_and_counts_agree_with_wasm_tools(request: pytest.FixtureRequest) -> None:
    paths = [
        request.getfixturevalue("counter_debug_wasm"),
        request.getfixturevalue("counter_release_wasm"),
        *request.getfixturevalue("counter_objects")[:6],
    ]
    for path in paths:
        ours = inspect_json(path)
        theirs = objdump(path)
        assert [(s["name"], s["size"]) for s in ours["sections"]] == [(n, s) for n, s, _ in theirs]
        for name, _, count in theirs:
            if name in OBJDUMP_COUNTS:
                assert ours["counts"][OBJDUMP_COUNTS[name]] == count, (path.name, name)


def test_imports_and_exports_agree_with_wasmtime(request: pytest.FixtureRequest) -> None:
    engine = wasmtime.Engine()
    paths = [
        request.getfixturevalue("counter_debug_wasm"),
        request.getfixturevalue("counter_release_wasm"),
        *request.getfixturevalue("counter_objects")[:4],
    ]
    for path in paths:
        ours = inspect_json(path)
        module = wasmtime.Module.from_file(engine, str(path))
        assert ours["counts"]["imports"] == len(module.imports)
        assert ours["counts"]["exports"] == len(module.exports)


def test_symbols_and_relocations_agree_with_wasm_tools(counter_objects: list[Path]) -> None:
    assert counter_objects
    for path in counter_objects[:8]:
        ours = inspect_json(path)
        assert ours["kind"] == "object"
        symbols, relocs = dump_symbols_and_relocs(path)
        assert len(ours["symbols"]) == len(symbols)
        for mine, (kind, name, flags) in zip(ours["symbols"], symbols, strict=True):
            assert mine["kind"] == kind
            assert set(mine["flags"]) == flags
            assert mine["defined"] == ("UNDEFINED" not in flags)
            if name is not None:
                assert mine["name"] == name
        assert {k: dict(v) for k, v in relocs.items()} == ours["relocations"]


def test_symbols_are_demangled(counter_objects: list[Path]) -> None:
    rows = [s for p in counter_objects[:8] for s in inspect_json(p)["symbols"]]
    names = {s["name"]: s["demangled"] for s in rows}
    render = [d for n, d in names.items() if n.startswith("_ZN7counter5label6render")]
    assert render and render[0].startswith("counter::label::render::h")


def test_text_output_reads_like_a_summary(counter_objects: list[Path]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rust_hmr", "inspect", str(counter_objects[0])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "wasm object" in out
    assert "sections:" in out and "linking" in out
    assert "relocations:" in out and "reloc.CODE" in out
    assert re.search(r"symbols: \d+ \(", out)


@pytest.mark.parametrize("content", [b"", b"\0asm\x01\0\0\0\x01\x09\x01", b"not wasm at all"])
def test_malformed_file_one_line_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "rust_hmr", "inspect", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "malformed wasm" in lines[0] and "offset 0x" in lines[0]
    assert "Traceback" not in proc.stderr
