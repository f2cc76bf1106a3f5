"""The ar reader and the whole-archive cache of the linker shim, on archives written here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rust_hmr.shim.archive import ArchiveError, read_members
from rust_hmr.shim.link_manifest import LinkManifest
from rust_hmr.shim.whole_archives import members, whole_archives

OBJECT = b"\0asm\x01\0\0\0"


def header(name: str, size: int) -> bytes:
    return f"{name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{size:<10}`\n".encode()


def gnu_archive(files: list[tuple[str, bytes]]) -> bytes:
    """A GNU ar archive with a (dummy) symbol table and a long-name table, like an rlib."""
    long_names = b""
    entries: list[tuple[str, bytes]] = [("/", b"\0\0\0\0")]
    for name, _ in files:
        if len(name) > 15:
            long_names += name.encode() + b"/\n"
    if long_names:
        entries.append(("//", long_names))
    at = 0
    for name, data in files:
        if len(name) > 15:
            entries.append((f"/{at}", data))
            at += len(name) + 2
        else:
            entries.append((f"{name}/", data))
    out = b"!<arch>\n"
    for name, data in entries:
        out += header(name, len(data)) + data + (b"\n" if len(data) & 1 else b"")
    return out


FILES = [
    ("lib.rmeta", b"rust metadata"),
    ("std-0123456789abcdef.std.a1b2c3d4-cgu.0.rcgu.o", OBJECT + b"first"),  # odd: padded
    ("short.o", OBJECT + b"second!"),
    ("notes.txt", b"not an object"),
]


def test_gnu_members_with_long_names_and_padding() -> None:
    archive = gnu_archive(FILES)
    found = read_members(archive)
    assert [m.name for m in found] == [name for name, _ in FILES]
    assert [m.data(archive) for m in found] == [data for _, data in FILES]


def test_bsd_names() -> None:
    name = b"a-long-bsd-member-name.o"
    data = name + OBJECT
    archive = b"!<arch>\n" + header(f"#1/{len(name)}", len(data)) + data
    (member,) = read_members(archive)
    assert member.name == name.decode() and member.data(archive) == OBJECT


@pytest.mark.parametrize(("archive", "message"), [
    (b"not an archive", "not an ar archive"),
    (b"!<thin>\n", "thin archive"),
    (b"!<arch>\n" + header("a.o/", 10)[:30], "truncated member header"),
    (b"!<arch>\n" + header("a.o/", 10) + b"short", "member data cut short"),
    (b"!<arch>\n" + header("a.o/", 4)[:58] + b"xx" + b"data", "does not end in"),
    (b"!<arch>\n" + header("a.o/", 4).replace(b"4 ", b"x "), "is not a decimal"),
    (b"!<arch>\n" + header("/99", 4) + b"data", "not in the `//` table"),
])
def test_malformed(archive: bytes, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_members(archive)


def test_cache_extracts_once_and_follows_content(tmp_path: Path) -> None:
    rlib = tmp_path / "libdemo.rlib"
    rlib.write_bytes(gnu_archive(FILES))
    cache = tmp_path / "archives"
    first = members(rlib, cache)
    assert [Path(p).name for p in first] == [
        "0001-std-0123456789abcdef.std.a1b2c3d4-cgu.0.rcgu.o", "0002-short.o"]
    assert [Path(p).read_bytes() for p in first] == [FILES[1][1], FILES[2][1]]

    os.utime(rlib, ns=(1, 1))  # touched, same content: the same extracted members
    assert members(rlib, cache) == first

    rlib.write_bytes(gnu_archive(FILES[:2]))
    again = members(rlib, cache)
    assert len(again) == 1 and Path(again[0]).parent != Path(first[0]).parent


def test_manifest_links_members_in_the_rlibs_place(tmp_path: Path) -> None:
    rlib = tmp_path / "libdemo.rlib"
    rlib.write_bytes(gnu_archive(FILES))
    args = ["a.o", str(rlib), "libnative.a", "--gc-sections"]
    manifest = LinkManifest("link", "demo", "out.wasm", args=args)
    assert manifest.link_args() == args  # off: the line as rustc gave it
    manifest.whole_archives = whole_archives([str(rlib), "libnative.a"], tmp_path / "archives")
    assert list(manifest.whole_archives) == [str(rlib)]  # native archives stay archives
    objects = manifest.whole_archives[str(rlib)]
    assert manifest.link_args() == ["a.o", *objects, "libnative.a", "--gc-sections",
                                    "--no-gc-sections"]


def test_unreadable_rlib_names_itself(tmp_path: Path) -> None:
    rlib = tmp_path / "libbroken.rlib"
    rlib.write_bytes(b"!<arch>\n" + header("a.o/", 10))
    with pytest.raises(ArchiveError, match=r"libbroken\.rlib: member data cut short"):
        members(rlib, tmp_path / "archives")
    assert not any((tmp_path / "archives").glob(".*.tmp"))  # nothing half-written stays


def test_shim_reports_a_bad_rlib_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rust_hmr.shim.__main__ import main

    rlib = tmp_path / "libbroken.rlib"
    rlib.write_bytes(b"!<arch>\n" + header("a.o/", 10))
    monkeypatch.setenv("RUST_HMR_SHIM_MODE", "capture")
    monkeypatch.setenv("RUST_HMR_SHIM_MANIFEST", str(tmp_path / "link-manifest.msgpack"))
    monkeypatch.setenv("RUST_HMR_SHIM_WHOLE_ARCHIVES", "1")
    assert main(["-o", str(tmp_path / "out.wasm"), str(rlib)]) == 2
    err = capsys.readouterr().err
    assert "cannot link the rlibs whole" in err and "libbroken.rlib" in err
    assert "RUST_HMR_SHIM_WHOLE_ARCHIVES=0" in err and "Traceback" not in err
