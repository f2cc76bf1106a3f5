"""Read and re-write the counter example's debug main module, beside `wasm-tools validate`.

    .venv/bin/python bench/wasm_io.py [--runs 5]

Builds examples/counter (dev profile, HMR link arguments: about 9 MB with `--emit-relocs` and
DWARF) in a temporary copy, then times, median of N runs each:
  split + write   parse into sections and write back unchanged (what every stage pays)
  stage read      parse, decode what the prepare stage needs (code bodies, exports, name,
                  linking symbol table, reloc.CODE) and write back with those sections
                  re-encoded from their decoded form
  decode all      every section this toolkit knows, debug relocations included
  wasm-tools      `wasm-tools validate` on the same file (a compiled Rust reader and validator)
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import median_seconds

from rust_hmr.cargo_build import build_wasm
from rust_hmr.toolchain import find_toolchain
from rust_hmr.wasm.module import decode_all, parse

ROOT = Path(__file__).resolve().parent.parent
STAGE_SECTIONS = ("code", "export", "name", "linking", "reloc.CODE")


def split_and_write(data: bytes) -> None:
    assert parse(data).to_bytes() == data


def stage_read_write(data: bytes) -> None:
    wasm = parse(data)
    for name in STAGE_SECTIONS:
        section = wasm.get(name)
        if section is not None:
            section.set_value(section.decode())
    assert wasm.to_bytes() == data


def decode_everything(data: bytes) -> None:
    decode_all(parse(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    wasm_tools = shutil.which("wasm-tools", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as tmp:
        crate = Path(shutil.copytree(ROOT / "examples" / "counter", Path(tmp) / "counter",
                                     ignore=shutil.ignore_patterns("target")))
        module = build_wasm(crate, "dev", find_toolchain()).path
        data = module.read_bytes()
        print(f"counter debug main module: {len(data) / 1e6:.1f} MB, median of {args.runs}")
        rows = [
            ("split + write", median_seconds(lambda: split_and_write(data), args.runs)),
            ("stage read + write", median_seconds(lambda: stage_read_write(data), args.runs)),
            ("decode all", median_seconds(lambda: decode_everything(data), args.runs)),
        ]
        if wasm_tools:
            cmd = [wasm_tools, "validate", str(module)]
            rows.append(("wasm-tools validate", median_seconds(
                lambda: subprocess.run(cmd, check=True), args.runs)))
    for label, seconds in rows:
        print(f"  {label:<22} {seconds * 1000:8.1f} ms")
    goal = dict(rows)["stage read + write"]
    print(f"goal: stage read + write under 300 ms: {'met' if goal < 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
