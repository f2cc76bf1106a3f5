"""Property: any mutation of a real module or object gives the toolkit's own error, or parses.

Every reader and `summarize` (names, demangling, relocation counts) runs on the mutated bytes.
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rust_hmr.wasm.errors import WasmDecodeError
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.summary import summarize

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, bytes]]:
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "big-leb"])
        )
        at = draw(st.integers(0, max(0, size - 1)))
        ops.append((kind, at, draw(st.binary(min_size=1, max_size=6))))
    return ops


def apply(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, at, payload in ops:
        at = min(at, max(0, len(buf) - 1))
        if kind == "flip" and buf:
            buf[at] ^= payload[0] or 0xFF
        elif kind == "overwrite":
            buf[at : at + len(payload)] = payload
        elif kind == "insert":
            buf[at:at] = payload
        elif kind == "delete":
            del buf[at : at + len(payload)]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "big-leb":
            buf[at : at + 5] = b"\xff\xff\xff\xff\x0f"
    return bytes(buf)


def check(data: bytes) -> None:
    try:
        summarize(parse(data), len(data))
    except WasmDecodeError as exc:
        assert exc.offset >= 0
        assert "(at offset 0x" in str(exc)


@pytest.fixture(scope="module")
def samples(counter_release_wasm: Path, counter_objects: list[Path]) -> list[bytes]:
    return [counter_release_wasm.read_bytes()] + [p.read_bytes() for p in counter_objects[:5]]


@SETTINGS
@given(data=st.data())
def test_mutated_files_raise_only_the_toolkit_error(
    samples: list[bytes], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(samples))
    check(apply(original, data.draw(mutations(len(original)))))


@SETTINGS
@given(data=st.data())
def test_mutations_near_the_metadata_sections(samples: list[bytes], data: st.DataObject) -> None:
    """Concentrate on the linking, reloc and name sections of objects, where most fields are."""
    original = data.draw(st.sampled_from(samples[1:]))
    wasm = parse(original)
    section = data.draw(
        st.sampled_from(
            [
                s
                for s in wasm.sections
                if s.name
                in ("linking", "reloc.CODE", "reloc.DATA", "import", "data", "code", "type")
            ]
        )
    )
    ops = data.draw(mutations(len(section.payload)))
    shifted = [(k, section.offset + at, p) for k, at, p in ops]
    check(apply(original, shifted))
