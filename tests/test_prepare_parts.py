"""The prepare step's bulk helpers on small made-up inputs: each agrees with the plain,
one-at-a-time computation it replaces."""

from __future__ import annotations

import random

import msgpack
import pytest

from rust_hmr.prepare import symbols as found
from rust_hmr.prepare.symbol_map import DataInfo, FunctionInfo, Reserved, SymbolMap, instances
from rust_hmr.prepare.trampolines import Calls, Plan
from rust_hmr.wasm.leb128 import encode_unsigned
from rust_hmr.wasm.module import Section, SectionId, WasmFile


def code_section(sizes: list[int]) -> tuple[WasmFile, list[int]]:
    """A module whose code section has bodies of these sizes; and where each body begins."""
    payload = bytearray(encode_unsigned(len(sizes)))
    starts = []
    for size in sizes:
        payload += encode_unsigned(size)
        starts.append(len(payload))
        payload += bytes(size)
    return WasmFile([Section(SectionId.CODE, "code", bytes(payload))]), starts


@pytest.mark.parametrize("shuffled", [False, True])
def test_direct_callers_are_each_bodys_calls(shuffled: bool) -> None:
    rng = random.Random(7)
    wasm, starts = code_section([rng.randrange(1, 300) for _ in range(200)])
    bodies = list(zip(starts, [*starts[1:], 10**9], strict=True))
    sites = sorted(rng.sample(range(starts[0], len(wasm.sections[0].payload)), 500))
    callees = [rng.randrange(0, 40) for _ in sites]
    order = list(range(len(sites)))
    if shuffled:
        rng.shuffle(order)
    calls = Calls([sites[k] for k in order], [callees[k] for k in order])
    wanted = set(range(0, 40, 3))
    expected: dict[int, set[int]] = {}
    for site, callee in zip(sites, callees, strict=True):
        if callee in wanted:
            body = next(i for i, (lo, hi) in enumerate(bodies) if lo <= site < hi)
            expected.setdefault(callee, set()).add(body)
    got = found.direct_callers(wasm, calls, wanted)
    assert got == {callee: tuple(sorted(bs)) for callee, bs in expected.items()}


def function_row(i: int) -> tuple[object, ...]:
    return (i, f"f{i}", i % 3, ("i32",) * (i % 2), (), (f"alias{i}",) if i % 5 == 0 else (),
            i < 2, i % 2 == 1, 100 + i if i % 2 else None, 50 + i if i % 2 else None,
            i if i % 4 == 0 else None, (i - 1,) if i % 2 else ())


def test_instances_equal_what_the_constructor_builds() -> None:
    rows = [function_row(i) for i in range(50)]
    built = instances(FunctionInfo, rows, len(rows))
    assert built == [FunctionInfo(*row) for row in rows]  # type: ignore[arg-type]
    assert all(type(f) is FunctionInfo for f in built)
    assert "demangled" not in vars(built[3])
    assert built[3].demangled == "f3"
    with pytest.raises(ValueError, match="fewer than 51"):
        instances(FunctionInfo, rows, 51)


def test_symbol_map_rows_of_the_wrong_width_are_refused() -> None:
    data = [DataInfo("d", 16, 4, ".data", False)]
    symbols = SymbolMap(instances(FunctionInfo, [function_row(1)], 1), data,
                        Reserved(0, 65536, 10, 4), "t", "m", "sp")
    blob = symbols.to_bytes()
    assert SymbolMap.from_bytes(blob) == symbols
    record = msgpack.unpackb(blob)
    record["functions"][0].pop()
    with pytest.raises(ValueError, match="FunctionInfo rows must have 12 fields"):
        SymbolMap.from_bytes(msgpack.packb(record, use_bin_type=True))


def test_a_plans_slots_and_trampolines_are_consecutive() -> None:
    plan = Plan([3, 8, 9], first_slot=20, first_index=100)
    assert len(plan) == 3
    assert list(plan.slots) == [20, 21, 22]
    assert plan.trampoline_of == {3: 100, 8: 101, 9: 102}
