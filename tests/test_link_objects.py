"""The patch linker's view of an object, and its msgpack cache."""

from pathlib import Path

from rust_hmr.link.objects import load_object, load_object_cached


def same_view(a, b) -> bool:
    return (a.types == b.types and a.function_imports == b.function_imports
            and a.global_imports == b.global_imports and a.defined == b.defined
            and a.bodies == b.bodies and a.linking.symbols == b.linking.symbols
            and a.linking.segments == b.linking.segments and a.code_relocs == b.code_relocs
            and a.data_relocs == b.data_relocs
            and [s.data for s in a.segments] == [s.data for s in b.segments])


def test_cached_view_equals_a_fresh_parse(counter_objects: list[Path], tmp_path: Path) -> None:
    import blake3

    for path in counter_objects[:10]:
        digest = blake3.blake3(path.read_bytes()).hexdigest()
        fresh = load_object(path.name, path.read_bytes())
        first = load_object_cached(path.name, path, digest, tmp_path)
        assert (tmp_path / f"{digest}.msgpack").exists()
        again = load_object_cached(path.name, path, digest, tmp_path)
        assert same_view(fresh, first) and same_view(fresh, again)


def test_damaged_cache_entry_is_parsed_again(counter_objects: list[Path], tmp_path: Path) -> None:
    path = counter_objects[0]
    load_object_cached(path.name, path, "feed", tmp_path)
    (tmp_path / "feed.msgpack").write_bytes(b"\xc1 not msgpack")
    view = load_object_cached(path.name, path, "feed", tmp_path)
    assert same_view(view, load_object(path.name, path.read_bytes()))
    assert (tmp_path / "feed.msgpack").read_bytes() != b"\xc1 not msgpack"


def test_relocations_point_inside_their_bodies(counter_objects: list[Path]) -> None:
    for path in counter_objects[:10]:
        view = load_object(path.name, path.read_bytes())
        spans = [(b.offset - view.code_base, b.offset - view.code_base + len(b.data))
                 for b in view.bodies]
        for rel in view.code_relocs:
            assert any(start <= rel.offset < end for start, end in spans)
