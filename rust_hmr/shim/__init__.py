"""The linker shim: cargo calls it as the linker (`-C linker=...`) for wasm32 builds.

In *link* mode it records the link line into a link manifest, copies the crate's codegen-unit
objects into a content-addressed store (rustc deletes them after the link), adds the HMR link
arguments and runs the real wasm-ld. In *capture* mode (the patch path) the launcher's own sh
keeps the link line and hard links to the objects, and skips the real link; the dev process
reads them (`capture`), so no Python starts on a save. The mode and the paths come through
environment variables, never through RUSTFLAGS: cargo fingerprints RUSTFLAGS, so a flag would
throw away the incremental cache at every switch. Dev builds also link every rlib's objects whole
(`whole_archives`), so that a patch finds any std or dependency function in the main module.
"""

from rust_hmr.shim.link_manifest import (
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

__all__ = [
    "ENV_CAPTURE",
    "ENV_LINKER",
    "ENV_MANIFEST",
    "ENV_MODE",
    "ENV_OBJECT_STORE",
    "ENV_WHOLE_ARCHIVES",
    "HMR_LINK_ARGS",
    "LinkManifest",
    "ObjectFile",
    "write_launcher",
]
