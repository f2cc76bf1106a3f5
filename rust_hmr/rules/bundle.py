"""Stage `bundle`: the production app in `dist/` (see `rust_hmr.rules.dist` for its files).

Release profile, no trampolines and no HMR runtime: the module comes from `optimize`, and so
do the parts of a wasm-bindgen module's glue (`glue.json`; its runtime is rust-hmr's). A cached
action over those and the crate's `static/` files. Up to date while its inputs are
unchanged and every file the manifest lists is in place with its blake3; when it runs, only
files whose bytes differ are written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rust_hmr.rules import optimize as optimize_stage
from rust_hmr.rules.checkers import file_blake3, flags_changed
from rust_hmr.rules.crate import Crate
from rust_hmr.rules.dist import (
    MANIFEST,
    PAGE,
    DistGlue,
    build_dist,
    clean_dist,
    dist_intact,
    write_dist,
)
from rust_hmr.rules.stage import run_cached, say
from rust_hmr.runtime import RUNTIME_DIR

__all__ = ["static_files", "task"]

NAME = "bundle"
VERSION = 2
GLUE_RUNTIME = RUNTIME_DIR / "bindgen.js"
# The runtime files a bundle is made of: a new rust-hmr with other ones makes a new bundle
RUNTIME_FILES = tuple(RUNTIME_DIR / name for name in ("loader.js", "page.js", "bindgen.js",
                                                      "entry.js"))


def static_files(crate: Crate) -> dict[str, Path]:
    """The crate's assets by their path under the static directory: never a hidden file or
    folder, nor the build's own outputs (the target and dist folders), wherever the static
    directory is (`static-dir = "."` included)."""
    root = crate.static_dir
    if not root.is_dir():
        return {}
    outputs = {(crate.dir / "target").resolve(), crate.dist_dir.resolve()}
    found = {}
    seen = {root.resolve()}  # a link back up (static/up -> ..) is walked once
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            real = (here / name).resolve()
            if not name.startswith(".") and real not in outputs and real not in seen:
                seen.add(real)
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = here / name
            if not name.startswith(".") and path.is_file():
                found[path.relative_to(root).as_posix()] = path
    return dict(sorted(found.items()))


def task(crate: Crate) -> dict[str, Any]:
    """The doit task."""
    dist = crate.dist_dir
    assets = static_files(crate)
    return {
        "basename": NAME,
        "doc": f"the app in {_shown(dist, crate.dir)}/: page, loader, wasm and assets under "
               "hashed names, manifest.json (cached)",
        "actions": [(_run, (crate,))],
        "file_dep": [str(optimize_stage.output(crate)), str(optimize_stage.glue_output(crate)),
                     *(str(p) for p in assets.values())],
        "targets": [str(dist / PAGE), str(dist / MANIFEST)],
        "uptodate": [flags_changed({"dist": str(dist), "crate": crate.name,
                                    "runtime": _runtime_hashes()}),
                     (dist_intact, (dist,))],
        "clean": [(clean_dist, (dist,))],
    }


def _runtime_hashes() -> dict[str, str]:
    return {f"runtime/{path.name}": file_blake3(path) for path in RUNTIME_FILES}


def _run(crate: Crate) -> None:
    module = optimize_stage.output(crate)
    glue_path = optimize_stage.glue_output(crate)
    assets = static_files(crate)
    inputs = {"module.wasm": file_blake3(module), **_runtime_hashes()}
    uses_glue = glue_path.read_bytes() != optimize_stage.NO_GLUE
    if uses_glue:
        inputs["glue.json"] = file_blake3(glue_path)
    inputs.update({f"static/{name}": file_blake3(path) for name, path in assets.items()})

    def build() -> dict[str, bytes]:
        glue = None
        if uses_glue:
            from rust_hmr.bindgen.served import GlueParts

            glue = DistGlue(GlueParts.from_json(glue_path.read_bytes()),
                            GLUE_RUNTIME.read_bytes())
        return build_dist(crate.name, module.read_bytes(),
                          {name: path.read_bytes() for name, path in assets.items()}, glue=glue)

    result = run_cached(crate, NAME, VERSION, toolchain="", flags={"crate": crate.name},
                        inputs=inputs, build=build)
    done = write_dist(crate.dist_dir, result.outputs)
    size = sum(len(data) for data in result.outputs.values())
    parts = [f"{len(done.written)} written", f"{len(done.unchanged)} unchanged"]
    if done.removed:
        parts.append(f"{len(done.removed)} old removed")
    how = ", from the cache" if result.cached else ""
    say(NAME, f"{_shown(crate.dist_dir, crate.dir)}/: {len(result.outputs)} files, "
              f"{size / 1024:,.1f} KiB ({', '.join(parts)}){how}")


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)
