"""`Project`: a cargo crate built for hot patching; `Build`: what one build produced.

`Project.build()` compiles through the linker shim (which records the link line and keeps the
crate's codegen-unit objects), prepares the linked module (trampolines, reserved room, exports)
and writes the prepared module and its symbol map under `<crate>/target/rust-hmr/hmr/<profile>/`.
A compile error raises `CompileError` with rustc's diagnostics and leaves the previous build's
files in place: they are replaced only once the new ones are complete.
"""

import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import msgpack

from rust_hmr.cargo_build import BuildError, Profile, build_wasm
from rust_hmr.prepare import (
    DEFAULT_RESERVE_PAGES,
    DEFAULT_SPARE_SLOTS,
    SymbolMap,
    prepare_module,
)
from rust_hmr.shim import (
    ENV_LINKER,
    ENV_MANIFEST,
    ENV_MODE,
    ENV_OBJECT_STORE,
    LinkManifest,
    write_launcher,
)
from rust_hmr.toolchain import Toolchain, find_toolchain
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.sections.linking import SymbolKind

_PREPARE_VERSION = 1  # bump when the rewrite changes, so stale prepared modules are redone


@dataclass(frozen=True)
class Build:
    """One build: the prepared module, its symbol map, and what went into it."""

    crate: str
    profile: Profile
    module_path: Path
    symbols_path: Path
    symbols: SymbolMap
    linked_path: Path
    manifest: LinkManifest
    timings: dict[str, float] = field(default_factory=dict)


def defined_function_names(object_path: Path) -> list[str]:
    """Mangled names of the functions a relocatable object defines."""
    linking = parse(object_path.read_bytes()).decoded("linking")
    if linking is None:
        return []
    return [s.name for s in linking.symbols
            if s.kind is SymbolKind.FUNCTION and s.defined and s.name is not None]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Project:
    """A cargo crate directory, built for hot patching.

    `reserve_pages` (64 KiB each) and `spare_slots` size the room kept for patches; see the
    README for the defaults' reasons.
    """

    def __init__(
        self,
        path: Path | str,
        profile: Profile = "dev",
        *,
        toolchain: Toolchain | None = None,
        reserve_pages: int = DEFAULT_RESERVE_PAGES,
        spare_slots: int = DEFAULT_SPARE_SLOTS,
        verbose: bool = False,
    ) -> None:
        self.path = Path(path).resolve()
        if not (self.path / "Cargo.toml").is_file():
            raise BuildError(f"{self.path} is not a cargo crate (no Cargo.toml)")
        self.profile: Profile = profile
        self.toolchain = toolchain or find_toolchain()
        self.reserve_pages = reserve_pages
        self.spare_slots = spare_slots
        self.verbose = verbose
        self.target_dir = self.path / "target" / "rust-hmr"
        self.out_dir = self.target_dir / "hmr" / profile
        self.manifest_path = self.out_dir / "link-manifest.msgpack"

    def shim_env(self, mode: str = "link") -> dict[str, str]:
        """The environment that tells the linker shim what to do (see `rust_hmr.shim`)."""
        return {
            ENV_MODE: mode,
            ENV_MANIFEST: str(self.manifest_path),
            ENV_OBJECT_STORE: str(self.out_dir / "objects"),
            ENV_LINKER: shlex.join(self.toolchain.wasm_ld_command()),
        }

    def build(self) -> Build:
        """Compile, link through the shim, prepare; raises CompileError on a compile error."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        launcher = write_launcher(self.target_dir / "rust-hmr-linker")
        built = build_wasm(self.path, self.profile, self.toolchain, target_dir=self.target_dir,
                           verbose=self.verbose, linker=launcher, extra_env=self.shim_env())
        timings = {"cargo": built.seconds}
        if not self.manifest_path.exists():
            raise BuildError(
                f"cargo did not call the rust-hmr linker for {built.crate} (a build from "
                f"before rust-hmr?): remove {self.target_dir} and build again")
        start = time.perf_counter()
        symbols = self._prepare(built.path, built.crate)
        timings["prepare"] = time.perf_counter() - start
        return Build(built.crate, self.profile, self.module_path(built.crate),
                     self.symbols_path, symbols, built.path,
                     LinkManifest.load(self.manifest_path), timings)

    def module_path(self, crate: str) -> Path:
        return self.out_dir / f"{crate}.wasm"

    @property
    def symbols_path(self) -> Path:
        return self.out_dir / "symbols.msgpack"

    def _prepare(self, linked: Path, crate: str) -> SymbolMap:
        """Prepare the linked module, or reuse the last result when nothing it depends on
        changed (cargo's no-op builds leave the linked module as it was)."""
        data = linked.read_bytes()
        manifest = LinkManifest.load(self.manifest_path)
        key = blake3.blake3(msgpack.packb([
            _PREPARE_VERSION, blake3.blake3(data).hexdigest(),
            sorted(o.blake3 for o in manifest.objects), self.reserve_pages, self.spare_slots,
        ])).hexdigest()
        stamp = self.out_dir / "prepared.key"
        module_path = self.module_path(crate)
        if (stamp.exists() and stamp.read_text() == key and module_path.exists()
                and self.symbols_path.exists()):
            return SymbolMap.load(self.symbols_path)
        hot = {name for obj in manifest.objects
               for name in defined_function_names(Path(obj.stored))}
        prepared = prepare_module(data, hot, reserve_pages=self.reserve_pages,
                                  spare_slots=self.spare_slots)
        _write_atomic(module_path, prepared.data)
        prepared.symbols.dump(self.symbols_path)
        _write_atomic(stamp, key.encode())
        return prepared.symbols
