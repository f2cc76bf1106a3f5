"""Capture mode in the launcher's sh: the link line and the objects are kept without starting
Python, and the dev process reads them into the manifest the Python shim would have written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rust_hmr.shim import ENV_CAPTURE, ENV_MANIFEST, ENV_MODE, write_launcher
from rust_hmr.shim.__main__ import build_manifest
from rust_hmr.shim.capture import (
    CaptureError,
    ObjectHashes,
    captured,
    open_capture,
    read_capture,
)


@pytest.fixture
def link_line(tmp_path: Path) -> list[str]:
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in ("app.a.rcgu.o", "app.b.rcgu.o"):
        (deps / name).write_bytes(b"\0asm\1\0\0\0" + name.encode())
    return ["-flavor", "wasm", "--export", "f", str(deps / "app.a.rcgu.o"),
            str(deps / "app.b.rcgu.o"), "/sysroot/libstd-1.rlib", "-L", "/sysroot",
            "-o", str(tmp_path / "app.wasm"), "--gc-sections", "with space"]


def run_launcher(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """The launcher on `args`, as cargo runs it in the build the dev process opened the
    capture for (`ENV_CAPTURE` given: the folder made empty, as `open_capture` does)."""
    if ENV_CAPTURE in env and not Path(env[ENV_CAPTURE]).exists():
        open_capture(Path(env[ENV_CAPTURE]))
    launcher = write_launcher(tmp_path / "rust-hmr-linker")
    return subprocess.run([str(launcher), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, ENV_MODE: "capture", **env})


def test_the_launcher_captures_in_sh_with_hard_links(tmp_path: Path,
                                                     link_line: list[str]) -> None:
    capture = tmp_path / "capture"
    done = run_launcher(tmp_path, link_line, **{ENV_CAPTURE: str(capture)})
    assert done.returncode == 0, done.stderr
    assert (capture / "args").read_text().splitlines() == link_line
    for arg in (a for a in link_line if a.endswith(".o")):
        assert (capture / Path(arg).name).stat().st_ino == Path(arg).stat().st_ino  # no copy
    assert captured(capture)


def test_objects_with_any_name_and_past_the_ninth_argument_are_captured(
        tmp_path: Path) -> None:
    """The sh picks objects by position (`${12}`), so a name with quotes, `$`, backquotes or
    spaces is never read as shell text, and positions past 9 are not `$1` followed by a
    digit."""
    deps = tmp_path / "d $HOME `id` \"q\""
    deps.mkdir()
    names = [f"u{i}.rcgu.o" for i in range(12)] + ["it's $(id).rcgu.o", 'a "b".rcgu.o']
    for name in names:
        (deps / name).write_bytes(name.encode())
    line = ["-flavor", "wasm", "--export", "f", *(str(deps / n) for n in names),
            "-o", str(tmp_path / "app.wasm")]
    capture = tmp_path / "capture"
    done = run_launcher(tmp_path, line, **{ENV_CAPTURE: str(capture)})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in capture.iterdir()) == sorted([*names, "args", "done"])
    for name in names:
        assert (capture / name).stat().st_ino == (deps / name).stat().st_ino
        assert (capture / name).read_bytes() == name.encode()


def test_the_read_capture_is_the_manifest_the_python_shim_writes(tmp_path: Path,
                                                                 link_line: list[str]) -> None:
    (tmp_path / "objects-shim").mkdir()
    expected = build_manifest(link_line[2:], "capture", tmp_path / "objects-shim")
    capture = tmp_path / "capture"
    run_launcher(tmp_path, link_line, **{ENV_CAPTURE: str(capture)})
    for arg in link_line:  # rustc deletes its objects after the link
        if arg.endswith(".o"):
            Path(arg).unlink()
    manifest = read_capture(capture, tmp_path / "objects", "app")
    assert manifest.args == expected.args and manifest.flags == expected.flags
    assert manifest.rlibs == expected.rlibs == ["/sysroot/libstd-1.rlib"]
    assert [(o.path, o.blake3, o.size) for o in manifest.objects] == \
        [(o.path, o.blake3, o.size) for o in expected.objects]
    for obj in manifest.objects:
        assert Path(obj.stored).read_bytes().endswith(Path(obj.path).name.encode())


def test_a_response_file_goes_to_the_python_shim(tmp_path: Path, link_line: list[str]) -> None:
    response = tmp_path / "args.rsp"
    response.write_text(" ".join(link_line[2:]))
    capture = tmp_path / "capture"
    manifest = tmp_path / "manifest.msgpack"
    done = run_launcher(tmp_path, [f"@{response}"],
                        **{ENV_CAPTURE: str(capture), ENV_MANIFEST: str(manifest)})
    assert done.returncode == 0, done.stderr
    assert not capture.exists() and manifest.exists()  # the Python shim read the file


def test_a_second_link_in_one_build_goes_to_the_python_shim_and_the_first_is_not_read(
        tmp_path: Path, link_line: list[str]) -> None:
    capture, manifest = tmp_path / "capture", tmp_path / "manifest.msgpack"
    env = {ENV_CAPTURE: str(capture), ENV_MANIFEST: str(manifest)}
    assert run_launcher(tmp_path, link_line, **env).returncode == 0
    assert captured(capture) and not manifest.exists()
    second = [a if a != str(tmp_path / "app.wasm") else str(tmp_path / "bin.wasm")
              for a in link_line]
    done = run_launcher(tmp_path, second, **env)
    assert done.returncode == 0, done.stderr
    assert not captured(capture) and manifest.exists()  # the last link's, as cargo made it


def test_without_a_folder_made_for_the_build_the_python_shim_captures(
        tmp_path: Path, link_line: list[str]) -> None:
    capture, manifest = tmp_path / "capture", tmp_path / "manifest.msgpack"
    launcher = write_launcher(tmp_path / "rust-hmr-linker")
    done = subprocess.run([str(launcher), *link_line], capture_output=True, text=True,
                          check=False, env={**os.environ, ENV_MODE: "capture",
                                            ENV_CAPTURE: str(capture),
                                            ENV_MANIFEST: str(manifest)})
    assert done.returncode == 0, done.stderr
    assert not captured(capture) and manifest.exists()


def test_two_objects_of_one_name_go_to_the_python_shim(tmp_path: Path,
                                                         link_line: list[str]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "app.a.rcgu.o").write_bytes(b"\0asm\1\0\0\0other")
    capture, manifest = tmp_path / "capture", tmp_path / "manifest.msgpack"
    done = run_launcher(tmp_path, [*link_line, str(other / "app.a.rcgu.o")],
                        **{ENV_CAPTURE: str(capture), ENV_MANIFEST: str(manifest)})
    assert done.returncode == 0, done.stderr
    assert not capture.exists()
    assert manifest.exists()


def test_unchanged_objects_are_not_hashed_again(tmp_path: Path) -> None:
    obj = tmp_path / "a.o"
    obj.write_bytes(b"one")
    hashes = ObjectHashes()
    first = hashes.digest("a.o", obj)
    assert hashes.digest("a.o", obj) == first and len(hashes.known) == 1
    obj.write_bytes(b"two")
    assert hashes.digest("a.o", obj) != first and len(hashes.known) == 2


def test_a_missing_or_unfinished_capture_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no captured link"):
        read_capture(tmp_path / "nothing", tmp_path / "objects", "app")
    open_capture(tmp_path / "half")
    (tmp_path / "half" / "args").write_text("-o\napp.wasm\n")  # the launcher was stopped
    with pytest.raises(CaptureError, match="no captured link"):
        read_capture(tmp_path / "half", tmp_path / "objects", "app")
