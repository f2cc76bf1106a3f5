"""What a compile read: every file and environment variable, from cargo's and rustc's own
records of the build, so that no stage is up to date when one of them changed.

    inputs = compile_inputs(cargo_json_stdout, crate_dir)   after a cargo build
    inputs.files  every file read: sources, `include_str!`/`include_bytes!` targets, `#[path]`
                  modules, build scripts and their `rerun-if-changed` paths, of the crate and of
                  each path dependency (cargo's dep-info beside the artifact)
    inputs.env    every variable read: `env!`/`option_env!` (rustc's `# env-dep:` lines) and
                  build scripts' `rerun-if-env-changed`

The records come from cargo's JSON messages, which name each unit's artifacts (and so its
dep-info files) and each build script's output directory. Registry crates are left out: their
sources never change under a version that Cargo.lock pins.

Dep-info is Makefile syntax: `target: dep dep...`, a space inside a path escaped as `\\ `;
rustc adds `# env-dep:NAME=value` (or `# env-dep:NAME` when unset).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CompileInputs", "compile_inputs", "parse_dep_info", "workspace_root"]

_ENV_DEP = "# env-dep:"
_RERUN_IF_ENV = "cargo:rerun-if-env-changed="
_LIB_SUFFIXES = (".rlib", ".rmeta")


@dataclass(frozen=True)
class CompileInputs:
    """The files (absolute) and environment variables a build read."""

    files: tuple[Path, ...] = ()
    env: tuple[str, ...] = ()

    def to_json(self, base: Path) -> bytes:
        """The list with paths relative to `base` (`..` where outside), the same in every
        checkout of the crate."""
        files = [Path(os.path.relpath(path, base)).as_posix() for path in self.files]
        return json.dumps({"files": files, "env": list(self.env)}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, base: Path) -> CompileInputs:
        """The list `to_json` wrote; ValueError when it is not one."""
        try:
            raw = json.loads(data)
            files = tuple(sorted({base / name for name in _strings(raw["files"])}))
            env = tuple(sorted(set(_strings(raw["env"]))))
        except (TypeError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"not a list of compile inputs: {err}") from None
        return cls(files, env)

    def env_values(self, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
        """Each variable's value now (None: unset)."""
        environ = os.environ if environ is None else environ
        return {name: environ.get(name) for name in self.env}

    def merged(self, other: CompileInputs) -> CompileInputs:
        return CompileInputs(tuple(sorted({*self.files, *other.files})),
                             tuple(sorted({*self.env, *other.env})))


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return value


def parse_dep_info(text: str) -> tuple[list[str], list[str]]:
    """The prerequisites of every rule, and the names of the `# env-dep:` lines."""
    files: list[str] = []
    env: list[str] = []
    for line in text.splitlines():
        if line.startswith(_ENV_DEP):
            env.append(line[len(_ENV_DEP):].split("=", 1)[0])
            continue
        target, sep, deps = _split_rule(line)
        if sep and target:
            files.extend(_split_paths(deps))
    return files, env


def _split_rule(line: str) -> tuple[str, bool, str]:
    """`target: deps` at the first colon not escaped and not a Windows drive's."""
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == ":" and not (i == 1 and line[0].isalpha()):
            return line[:i], True, line[i + 1:]
        i += 1
    return line, False, ""


def _split_paths(deps: str) -> Iterator[str]:
    """Paths separated by spaces, `\\ ` being a space inside one."""
    current: list[str] = []
    i = 0
    while i < len(deps):
        char = deps[i]
        if char == "\\" and i + 1 < len(deps) and deps[i + 1] in " #\\":
            current.append(deps[i + 1])
            i += 2
            continue
        if char.isspace():
            if current:
                yield "".join(current)
            current = []
        else:
            current.append(char)
        i += 1
    if current:
        yield "".join(current)


def compile_inputs(cargo_stdout: str, crate_dir: Path) -> CompileInputs:
    """What the build whose `--message-format json` output is `cargo_stdout` read, for the
    crate at `crate_dir` and its path dependencies."""
    files: set[Path] = set()
    env: set[str] = set()
    for message in _messages(cargo_stdout):
        if not _is_local(message):
            continue
        if message.get("reason") == "compiler-artifact":
            for dep_info, base in _dep_info_files(message):
                found, names = parse_dep_info(_read_text(dep_info))
                files.update(_absolute(name, base) for name in found)
                env.update(names)
        elif message.get("reason") == "build-script-executed" and message.get("out_dir"):
            output = Path(message["out_dir"]).parent / "output"
            env.update(line[len(_RERUN_IF_ENV):].strip()
                       for line in _read_text(output).splitlines()
                       if line.startswith(_RERUN_IF_ENV))
    files = {path for path in files if path.suffix != ".d"}
    return CompileInputs(tuple(sorted(files)), tuple(sorted(env)))


def _messages(stdout: str) -> Iterator[dict[str, Any]]:
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(message, dict):
                yield message


def _is_local(message: Mapping[str, Any]) -> bool:
    """A unit of a path package (the crate, a workspace member, a path dependency)."""
    return "(path+file://" in str(message.get("package_id", ""))


def _dep_info_files(message: Mapping[str, Any]) -> Iterable[tuple[Path, Path]]:
    """(dep-info file, directory its relative paths start from) of one artifact: cargo's
    beside an uplifted artifact (absolute paths), rustc's in `deps/` (paths relative to the
    workspace root, where cargo runs rustc)."""
    package_dir = workspace_root(Path(message.get("manifest_path", "./Cargo.toml")).parent)
    for name in message.get("filenames", []):
        artifact = Path(name)
        stem = artifact.stem
        if artifact.suffix in _LIB_SUFFIXES and stem.startswith("lib"):
            stem = stem[3:]
        if artifact.parent.name == "deps":
            yield artifact.parent / f"{stem}.d", package_dir
        else:
            yield artifact.with_suffix(".d"), package_dir
            yield artifact.parent / "deps" / f"{stem}.d", package_dir


def workspace_root(package_dir: Path) -> Path:
    """The nearest folder at or above the package whose Cargo.toml has a `[workspace]` table
    (cargo looks as far up as it must: folders between may have no Cargo.toml), else the
    package's own folder."""
    for place in (package_dir, *package_dir.parents):
        manifest = place / "Cargo.toml"
        if manifest.is_file() and re.search(r"^\s*\[workspace\]", _read_text(manifest), re.M):
            return place
    return package_dir


def _absolute(name: str, base: Path) -> Path:
    return Path(os.path.normpath(base / name))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="surrogateescape")
    except OSError:
        return ""
