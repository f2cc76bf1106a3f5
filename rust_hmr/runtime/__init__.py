"""The browser runtime: hand-written JavaScript that the dev server serves as it is.

    hmr.js      loads the app's main module, applies patches in order, reconnects, reloads
    overlay.js  the compile-error overlay, and the trap view
    traps.js    catches the app's traps and has the dev server symbolicate them
    bindgen.js  the JS glue of wasm-bindgen apps, built from descriptions (rust_hmr.bindgen)
    entry.js    the template of a wasm-bindgen app's entry module, which imports bindgen.js:
                rust_hmr.bindgen fills its slots with data (not served as it is)
    page.js     the page interface (env.log, env.dom_set_text) and the import object, shared
                by hmr.js and the bundle's loader
    loader.js   the bundle's loader (rust_hmr.rules.dist puts it in dist/ by hashed name)

No build step and no framework: the files are ES modules any current browser runs.
"""

from pathlib import Path

__all__ = ["DEFAULT_PAGE", "RUNTIME_DIR", "RUNTIME_FILES", "runtime_file"]

RUNTIME_DIR = Path(__file__).resolve().parent
RUNTIME_FILES = ("hmr.js", "overlay.js", "traps.js", "bindgen.js", "page.js", "loader.js")

# The page for a crate without one: the dev server and the bundle both start from it. The app
# writes into `app` (`env.dom_set_text`); its `start` export runs once it has loaded, and its
# `rust_hmr_after_patch` export after each hot patch, so no page script is needed.
DEFAULT_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<main id="app"></main>
<noscript>This app needs JavaScript and WebAssembly.</noscript>
</body>
</html>
"""


def runtime_file(name: str) -> Path:
    """The path of one of RUNTIME_FILES."""
    if name not in RUNTIME_FILES:
        raise KeyError(f"the runtime has no file {name!r} (it has {', '.join(RUNTIME_FILES)})")
    return RUNTIME_DIR / name
