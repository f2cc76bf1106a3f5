"""Action keys, blob hashes and action records; the cache package's public names."""

from __future__ import annotations

import subprocess
import sys

import blake3
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rust_hmr.cache
from rust_hmr.cache import ActionRecord, CorruptEntry, action_key, blob_hash

H1 = blob_hash(b"one")
H2 = blob_hash(b"two")
ARGS = ("prepare", 3, "rustc 1.63 wasm32", ["-C", "opt-level=0"], {"main.wasm": H1, "b": H2})


def test_blob_hash_is_blake3_hex() -> None:
    assert blob_hash(b"abc") == blake3.blake3(b"abc").hexdigest()
    big = bytes(range(256)) * 8192  # 2 MiB: hashed on several threads, same digest
    assert blob_hash(big) == blake3.blake3(big).hexdigest()


def test_action_key_is_pinned() -> None:
    """The encoding is part of the cache's format: changing it silently would make every
    machine miss (or worse, mix formats). Bump _KEY_FORMAT and this value together."""
    key = action_key(*ARGS)
    assert len(key) == 64
    assert key == "125f27ad67870dcbe822db49d3941debb7860bd9bf5d575ddc78bd1c0fa24b77"


def test_action_key_is_the_same_in_another_process() -> None:
    code = (
        "from rust_hmr.cache import action_key, blob_hash as b\n"
        "print(action_key('prepare', 3, 'rustc 1.63 wasm32', ['-C', 'opt-level=0'],"
        " {'b': b(b'two'), 'main.wasm': b(b'one')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == action_key(*ARGS)


@pytest.mark.parametrize("change", [
    ("stage", "compile"), ("version", 4), ("version", "3"), ("toolchain", "rustc 1.64"),
    ("flags", ["-C", "opt-level=1"]), ("flags", ["opt-level=0", "-C"]),
    ("inputs", {"main.wasm": H2, "b": H1}), ("inputs", {"main.wasm": H1}),
    ("inputs", {"main2.wasm": H1, "b": H2}),
])
def test_every_part_changes_the_key(change: tuple[str, object]) -> None:
    names = ["stage", "version", "toolchain", "flags", "inputs"]
    args = list(ARGS)
    args[names.index(change[0])] = change[1]
    assert action_key(*args) != action_key(*ARGS)  # type: ignore[arg-type]


def test_mapping_flags_are_canonical() -> None:
    a = action_key("s", 1, "", {"b": [1, (2, 3)], "a": {"y": 1, "x": None}}, {})
    b = action_key("s", 1, "", {"a": {"x": None, "y": 1}, "b": [1, [2, 3]]}, {})
    assert a == b
    assert a != action_key("s", 1, "", {"a": {"x": None, "y": 2}, "b": [1, [2, 3]]}, {})


@pytest.mark.parametrize("flags", ["-O", b"-O", [object()], {"a": {1, 2}}, {1: "x"}])
def test_bad_flags_are_refused(flags: object) -> None:
    with pytest.raises(TypeError):
        action_key("s", 1, "", flags, {})  # type: ignore[arg-type]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(TypeError):
        action_key("s", 1, "", [], {"a": b"not a hex str"})  # type: ignore[dict-item]


@given(st.dictionaries(st.text(max_size=8), st.sampled_from([H1, H2]), max_size=6),
       st.randoms())
def test_input_order_does_not_matter(inputs: dict[str, str], rnd: object) -> None:
    items = list(inputs.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert action_key("s", 1, "t", [], dict(items)) == action_key("s", 1, "t", [], inputs)


def test_record_round_trip() -> None:
    meta = {"seconds": 1.5, "warnings": ["w"], 3: None}  # 3: no str, and msgpack keeps it
    record = ActionRecord({"a.wasm": H1, "b": H2}, meta)  # type: ignore[arg-type]
    again = ActionRecord.from_msgpack(record.to_msgpack())
    assert again == record
    assert ActionRecord({}).meta == {}


def test_record_sizes_round_trip_and_old_records_have_none() -> None:
    record = ActionRecord({"a.wasm": H1, "b": H2}, {}, {"a.wasm": 10, "b": 0})
    again = ActionRecord.from_msgpack(record.to_msgpack())
    assert again.sizes == {"a.wasm": 10, "b": 0}
    assert again.size_of(H1) == 10 and again.size_of("c" * 64) is None
    old = msgpack.packb({"format": 1, "outputs": {"a": H1}, "meta": {}})  # before sizes
    assert ActionRecord.from_msgpack(old).sizes == {}


def test_record_with_unencodable_meta_is_refused() -> None:
    with pytest.raises(TypeError, match="msgpack"):
        ActionRecord({"a": H1}, {"when": object()}).to_msgpack()


@pytest.mark.parametrize("data", [
    b"", b"\xc1", b"garbage that is not msgpack at all \xff\xfe",
    msgpack.packb([1, 2]), msgpack.packb({"format": 99, "outputs": {}, "meta": {}}),
    msgpack.packb({"format": 1, "outputs": {"a": "not-a-hash"}, "meta": {}}),
    msgpack.packb({"format": 1, "outputs": [], "meta": {}}),
    msgpack.packb({"format": 1, "outputs": {"a": H1}, "meta": {}})[:-3],
    msgpack.packb({"format": 1, "outputs": {"a": H1}, "meta": {}, "sizes": {"a": -1}}),
    msgpack.packb({"format": 1, "outputs": {"a": H1}, "meta": {}, "sizes": {"b": 1}}),
    msgpack.packb({"format": 1, "outputs": {"a": H1}, "meta": {}, "sizes": {"a": True}}),
])
def test_garbage_is_not_a_record(data: bytes) -> None:
    with pytest.raises(CorruptEntry) as caught:
        ActionRecord.from_msgpack(data, key="k" * 64, where="somewhere")
    assert caught.value.kind == "ac"
    assert "somewhere" in str(caught.value)


def test_all_is_sorted_and_complete() -> None:
    names = rust_hmr.cache.__all__
    # ruff's isort-style order (RUF022): CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    public = {n for n in vars(rust_hmr.cache) if not n.startswith("_")}
    assert public == set(names)
    for name in names:
        assert getattr(rust_hmr.cache, name) is not None
