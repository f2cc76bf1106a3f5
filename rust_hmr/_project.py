"""`Project`: a cargo crate built for hot patching; `Build`: what one build produced.

`Project.build()` compiles through the linker shim (which records the link line and keeps the
crate's codegen-unit objects), prepares the linked module (trampolines, reserved room, exports)
and writes the prepared module and its symbol map under `<crate>/target/rust-hmr/hmr/<profile>/`.
A compile error raises `CompileError` with rustc's diagnostics and leaves the previous build's
files in place: they are replaced only once the new ones are complete.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rust_hmr.cargo_build import BuildError, CompileError, Profile, build_wasm
from rust_hmr.compile_inputs import CompileInputs
from rust_hmr.link import (
    FullReload,
    Ledger,
    ObjectView,
    Patch,
)
from rust_hmr.link.objects import function_fingerprints, load_object_cached
from rust_hmr.link.sources import Snapshots
from rust_hmr.prepare import (
    DEFAULT_RESERVE_PAGES,
    DEFAULT_SPARE_SLOTS,
    SymbolMap,
)
from rust_hmr.shim import (
    ENV_CAPTURE,
    ENV_LINKER,
    ENV_MANIFEST,
    ENV_MODE,
    ENV_OBJECT_STORE,
    ENV_WHOLE_ARCHIVES,
    HMR_LINK_ARGS,
    LinkManifest,
    ObjectFile,
    write_launcher,
)
from rust_hmr.shim.archive import ArchiveError
from rust_hmr.shim.capture import (
    CaptureError,
    ObjectHashes,
    captured,
    open_capture,
    read_capture,
)
from rust_hmr.shim.whole_archives import whole_archives
from rust_hmr.toolchain import Toolchain, find_toolchain
from rust_hmr.wasm.module import parse
from rust_hmr.wasm.sections.linking import SymbolKind
from rust_hmr.workspace import Workspace, add_members, read_workspace

if TYPE_CHECKING:
    from rust_hmr.rules.crate import Crate
    from rust_hmr.rules.hot import HotPath


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
        self._toolchain = toolchain
        self.reserve_pages = reserve_pages
        self.spare_slots = spare_slots
        self.verbose = verbose
        self.target_dir = self.path / "target" / "rust-hmr"
        self.out_dir = self.target_dir / "hmr" / profile
        self.manifest_path = self.out_dir / "link-manifest.msgpack"
        self._symbols: SymbolMap | None = None
        self._ledger: Ledger | None = None
        self._views: dict[str, ObjectView] = {}  # parsed objects by blake3
        self._fingerprints: dict[str, dict[str, bytes]] = {}  # their functions', by blake3
        self._workspace: Workspace | None = None
        self._snapshots: Snapshots | None = None
        self.inputs = CompileInputs()  # what the last successful compile read
        self.cargo_seconds = 0.0  # how long cargo itself ran, the last time it did
        self.cargo_env: dict[str, str] = {}  # more environment for cargo (its colours, say)
        self.on_output: Callable[[str], None] | None = None  # cargo's lines, as they come
        self._object_hashes = ObjectHashes()  # of captured objects, by inode, size and mtime
        self._hot: HotPath | None = None
        self._crate: Crate | None = None

    @property
    def toolchain(self) -> Toolchain:
        """The toolchain the builds use, found on first use (`find_toolchain`)."""
        if self._toolchain is None:
            self._toolchain = find_toolchain()
        return self._toolchain

    @property
    def workspace(self) -> Workspace:
        """The crates that are hot with this one (`rust_hmr.workspace`), read once."""
        if self._workspace is None:
            self._workspace = read_workspace(self.path, self.toolchain,
                                             self.toolchain.cargo_env())
        return self._workspace

    def take_sources(self) -> dict[str, str]:
        """Snapshots of every hot crate's sources (`link.sources`): the text a build compiles."""
        if self._snapshots is None:
            workspace = self.workspace
            self._snapshots = Snapshots(workspace.root, self.sources_dir,
                                        workspace.source_roots[1:])
        return self._snapshots.take()

    @property
    def capture_dir(self) -> Path:
        """Where the launcher's sh captures a rebuild's link (`rust_hmr.shim.capture`)."""
        return self.out_dir / "capture"

    def shim_env(self, mode: str = "link") -> dict[str, str]:
        """The environment that tells the linker shim what to do (see `rust_hmr.shim`)."""
        return {
            ENV_MODE: mode,
            **({ENV_CAPTURE: str(self.capture_dir)} if mode == "capture" else {}),
            ENV_MANIFEST: str(self.manifest_path),
            ENV_OBJECT_STORE: str(self.out_dir / "objects"),
            ENV_LINKER: shlex.join(self.toolchain.wasm_ld_command()),
            # Dev links every rlib whole, so patches find any std function (the user may say 0)
            ENV_WHOLE_ARCHIVES: os.environ.get(ENV_WHOLE_ARCHIVES, "1")
            if self.profile == "dev" else "0",
        }

    def compile(self, timings: dict[str, float] | None = None) -> tuple[str, LinkManifest]:
        """cargo through the linker shim in link mode, the captured objects linked again when
        the last build only captured them, the workspace's members added: the crate's name and
        the link manifest of the linked module. The compile stage of `doit` runs this too."""
        timings = {} if timings is None else timings
        self.out_dir.mkdir(parents=True, exist_ok=True)
        launcher = write_launcher(self.target_dir / "rust-hmr-linker")
        built = build_wasm(self.path, self.profile, self.toolchain, target_dir=self.target_dir,
                           verbose=self.verbose, on_output=self.on_output, linker=launcher,
                           extra_env={**self.cargo_env, **self.shim_env()})
        self.inputs = built.inputs
        self.cargo_seconds = built.seconds
        timings["cargo"] = built.seconds
        if not self.manifest_path.exists():
            raise BuildError(
                f"cargo did not call the rust-hmr linker for {built.crate} (a build from "
                f"before rust-hmr?): remove {self.target_dir} and build again")
        manifest = LinkManifest.load(self.manifest_path)
        if manifest.mode == "capture":  # cargo won't call the linker until a source changes
            start = time.perf_counter()
            manifest = self._relink(manifest)
            timings["link"] = time.perf_counter() - start
        self.add_members(manifest)
        return built.crate, manifest

    def build(self) -> Build:
        """Compile, link through the shim, prepare; raises CompileError on a compile error."""
        sources = self.take_sources()  # the text this build compiles
        timings: dict[str, float] = {}
        crate, manifest = self.compile(timings)
        linked = Path(manifest.output)
        start = time.perf_counter()
        symbols = self._prepare(linked, crate)
        timings["prepare"] = time.perf_counter() - start
        self._symbols = symbols
        self._ledger = Ledger(symbols.reserved,
                              objects={o.path: o.blake3 for o in manifest.hot_objects},
                              cold_rlibs=manifest.rlib_digests, sources=sources)
        self._ledger.dump(self.ledger_path)
        self.hot.mark_live(manifest)
        return Build(crate, self.profile, self.module_path(crate),
                     self.symbols_path, symbols, linked, manifest, timings)

    def _relink(self, manifest: LinkManifest) -> LinkManifest:
        """Link the objects the last rebuild captured. After a capture-mode build cargo thinks
        the crate is linked, so it won't call the linker again until a source changes."""
        cmd = self.toolchain.wasm_ld_command(*manifest.relink_args(), *HMR_LINK_ARGS)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"wasm-ld failed on the captured objects:\n{proc.stderr}")
        manifest.mode = "link"
        manifest.dump(self.manifest_path)
        return manifest

    def _captured(self, crate: str) -> LinkManifest:
        """The manifest of this rebuild's link: what the launcher captured, or the last one
        when cargo did not link (nothing changed) or the Python shim captured (it writes the
        manifest itself)."""
        if not captured(self.capture_dir):
            return LinkManifest.load(self.manifest_path)
        try:
            manifest = read_capture(self.capture_dir, self.out_dir / "objects", crate,
                                    self._object_hashes)
            if self.shim_env()[ENV_WHOLE_ARCHIVES] == "1":
                manifest.whole_archives = whole_archives(manifest.rlibs,
                                                         self.out_dir / "archives")
        except (CaptureError, ArchiveError, OSError) as err:
            raise BuildError(f"cannot read the captured link: {err}") from None
        self.add_members(manifest)
        return manifest

    def add_members(self, manifest: LinkManifest) -> None:
        """The workspace's other crates' codegen units and the cold rlibs' digests, into the
        manifest (`rust_hmr.workspace.add_members`), which is written back."""
        try:
            add_members(manifest, self.workspace, self.out_dir / "archives",
                        self.out_dir / "objects", self._object_hashes)
        except (ArchiveError, OSError) as err:
            raise BuildError(f"cannot read the rlibs of the link: {err}") from None
        manifest.dump(self.manifest_path)

    @property
    def ledger_path(self) -> Path:
        return self.out_dir / "ledger.msgpack"

    def rebuild(self) -> Patch | FullReload | CompileError:
        """After an edit: recompile, link what changed into a patch against the last build.

        Returns a `Patch` (`empty` when no codegen unit differs from the live code, whether
        or not cargo recompiled), a `FullReload` with its reason (then `build()` again and
        start a new Host), or the `CompileError` (the old code keeps running; the next good
        save patches). The steps are the hot path's doit stages (`rust_hmr.rules.hot`);
        `self.hot.ran` says which of them ran.
        """
        return self.hot.run()

    @property
    def hot(self) -> HotPath:
        """The hot path's stages (`rust_hmr.rules.hot`)."""
        if self._hot is None:
            from rust_hmr.rules.hot import HotPath

            self._hot = HotPath(self)
        return self._hot

    @property
    def crate(self) -> Crate:
        """The crate and its settings, as the rule set sees them (read once)."""
        if self._crate is None:
            from rust_hmr.rules.crate import Crate
            from rust_hmr.settings import SettingsError, load_settings

            try:
                self._crate = Crate(self.path, load_settings(self.path))
            except SettingsError as err:
                raise BuildError(str(err)) from None
        return self._crate

    def capture(self) -> LinkManifest:
        """cargo through the linker shim in capture mode (a rebuild's compile): the manifest
        of the link it captured, or the last one when cargo did not link. Raises
        CompileError."""
        launcher = write_launcher(self.target_dir / "rust-hmr-linker")
        open_capture(self.capture_dir)
        built = build_wasm(self.path, self.profile, self.toolchain, target_dir=self.target_dir,
                           verbose=self.verbose, linker=launcher,
                           extra_env={**self.cargo_env, **self.shim_env("capture")})
        self.inputs = built.inputs
        self.cargo_seconds = built.seconds
        return self._captured(built.crate)

    def load_manifest(self) -> LinkManifest:
        """The manifest of the last link or capture."""
        try:
            return LinkManifest.load(self.manifest_path)
        except (OSError, ValueError) as err:
            raise BuildError(f"cannot read {self.manifest_path}: {err}") from None

    def last_manifest(self) -> LinkManifest | None:
        """The manifest of the last link or capture, if there is a readable one."""
        try:
            return self.load_manifest()
        except BuildError:
            return None

    @property
    def sources_dir(self) -> Path:
        return self.out_dir / "sources"

    def live_state(self) -> tuple[SymbolMap, Ledger]:
        """The last build's symbol map and the ledger, from memory or from disk."""
        if self._symbols is None or self._ledger is None:
            if not (self.symbols_path.exists() and self.ledger_path.exists()):
                raise BuildError(f"{self.path}: no dev build to patch yet: build it first "
                                 "(`rust-hmr dev`, `doit dev` or `Project.build()`)")
            self._symbols = SymbolMap.load(self.symbols_path)
            self._ledger = Ledger.load(self.ledger_path)
        return self._symbols, self._ledger

    def object_view(self, obj: ObjectFile) -> ObjectView:
        """The object parsed for linking, from memory or the parse cache (by blake3)."""
        view = self._views.get(obj.blake3)
        if view is None:
            view = load_object_cached(Path(obj.path).name, Path(obj.stored), obj.blake3,
                                      self.out_dir / "parsed")
            self._views[obj.blake3] = view
        return view

    def function_fingerprints(self, obj: ObjectFile) -> dict[str, bytes]:
        """`link.objects.function_fingerprints` of the object, made once: a unit's new object
        is the next save's live one."""
        prints = self._fingerprints.get(obj.blake3)
        if prints is None:
            prints = self._fingerprints[obj.blake3] = function_fingerprints(self.object_view(obj))
        return prints

    def module_path(self, crate: str) -> Path:
        return self.out_dir / f"{crate}.wasm"

    @property
    def symbols_path(self) -> Path:
        return self.out_dir / "symbols.msgpack"

    def _prepare(self, linked: Path, crate: str) -> SymbolMap:
        """Prepare the linked module: the `prepare` stage's action (`rules.prepare`), from
        the artifact cache when it has this linked module and these objects, the outputs
        written beside this build (unchanged files keep their mtime)."""
        from rust_hmr.prepare import PrepareError
        from rust_hmr.rules.prepare import prepared
        from rust_hmr.rules.stage import write_if_changed

        try:
            result = prepared(self.crate, linked, self.load_manifest(), self.reserve_pages,
                              self.spare_slots)
        except (PrepareError, OSError) as err:
            raise BuildError(f"cannot prepare {crate}: {err}") from None
        write_if_changed(self.module_path(crate), result.module)
        write_if_changed(self.symbols_path, result.symbol_bytes)
        if result.symbols is not None:
            return result.symbols
        try:
            return SymbolMap.load(self.symbols_path)
        except ValueError as err:  # a cache entry of another format: a bug, say so
            raise BuildError(f"the cached symbol map of {crate} can't be read ({err}): "
                             "run `rust-hmr cache gc` or remove the cache") from None
