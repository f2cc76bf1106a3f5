"""write_atomic: whole files only, a temporary of its own per write, nothing left behind."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from rust_hmr.atomic import write_atomic


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    write_atomic(path, b"first")
    write_atomic(path, "second, as text")
    assert path.read_bytes() == b"second, as text"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_executable_sets_the_x_bits(tmp_path: Path) -> None:
    path = tmp_path / "run"
    write_atomic(path, "#!/bin/sh\n", executable=True)
    assert path.stat().st_mode & stat.S_IXUSR


def test_a_failed_write_removes_its_temporary(tmp_path: Path) -> None:
    path = tmp_path / "folder"
    path.mkdir()
    (path / "inside").write_text("a folder is not replaced by a file")
    with pytest.raises(OSError):
        write_atomic(path, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_threads_writing_one_file_never_share_a_temporary(tmp_path: Path) -> None:
    path = tmp_path / "shared.bin"
    blobs = [bytes([n]) * 200_000 for n in range(8)]
    errors: list[BaseException] = []

    def writer(blob: bytes) -> None:
        try:
            for _ in range(5):
                write_atomic(path, blob)
        except BaseException as err:  # reported below: a thread's exception is lost otherwise
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(blob,)) for blob in blobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert path.read_bytes() in blobs  # one writer's whole file
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]
