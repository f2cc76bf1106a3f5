"""The files of a bundle, made from the release module and the crate's assets; and writing them.

    dist/
      index.html                   the page (the crate's static/index.html as template, if any)
      loader.<blake3>.js           fetches the wasm (integrity checked), instantiates it
                                   (rust_hmr/runtime/loader.js, importing page.<blake3>.js)
      page.<blake3>.js             the page interface, the same as the dev runtime's (page.js)
      <crate>.<blake3>.wasm
      <asset>.<blake3>.<ext>       each file of static/, under its own directories
      manifest.json                each file: name, file, size, blake3, integrity

A wasm-bindgen crate's bundle has the JS glue instead of the loader (`DistGlue`):

      <crate>.<blake3>.js          the glue's entry (rust_hmr/runtime/entry.js, filled): has
                                   the runtime fetch the wasm (integrity checked), instantiate
                                   it and run its start function
      bindgen.<blake3>.js          the glue's runtime
      snippets/<...>.<blake3>.js   the crate's own JS modules (`module = "/x.js"`, `inline_js`)
      <crate>.<blake3>.wasm        the module the glue serves, optimized

The entry imports the runtime, and the runtime the snippets, by their hashed names; the page
loads the entry with `integrity`, and an import map gives the integrity of the files imported
from it (a browser checks a module's imports, static or `import()`, only through the import
map).

Every name but index.html and manifest.json carries the first 16 hex digits of the file's
blake3, so a server can cache them forever. The page loads them with `integrity` (sha384
Subresource Integrity) attributes. Building is a pure function of its inputs: the same module
and assets give the same bytes, on any machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import blake3

from rust_hmr.rules.stage import write_if_changed
from rust_hmr.runtime import DEFAULT_PAGE, runtime_file

if TYPE_CHECKING:
    from rust_hmr.bindgen.served import GlueParts

__all__ = ["DistFile", "DistGlue", "DistWrite", "build_dist", "clean_dist",
           "dist_intact", "write_dist"]

HASH_DIGITS = 16
MANIFEST = "manifest.json"
PAGE = "index.html"



@dataclass(frozen=True)
class DistFile:
    """One file of the bundle: its logical name, its name in dist/, its bytes."""

    name: str
    file: str
    data: bytes

    @property
    def integrity(self) -> str:
        return sri(self.data)

    def entry(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "size": len(self.data),
                "blake3": blake3.blake3(self.data).hexdigest(), "integrity": self.integrity}


def sri(data: bytes) -> str:
    """A Subresource Integrity value (sha384)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def hashed_name(name: str, data: bytes) -> str:
    """`css/site.css` -> `css/site.<first 16 hex digits of blake3>.css`."""
    path = PurePosixPath(name)
    digest = blake3.blake3(data).hexdigest()[:HASH_DIGITS]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


@dataclass(frozen=True)
class DistGlue:
    """A wasm-bindgen module's glue, for its bundle: the parts the glue made, and the runtime."""

    parts: GlueParts
    runtime: bytes


def build_dist(crate: str, wasm: bytes, assets: Mapping[str, bytes], *,
               glue: DistGlue | None = None) -> dict[str, bytes]:  # fmt: skip
    """Every file of the bundle by its path in dist/. `assets` are the static files by path
    relative to the static directory; an `index.html` among them is the page template.
    `glue`, for a wasm-bindgen module: its files replace the loader."""
    template = assets.get(PAGE)
    assets = {name: data for name, data in assets.items() if name != PAGE}
    files: dict[str, DistFile] = {}
    # CSS last: its url(...) references are rewritten to the hashed names of the others.
    for name in sorted(assets, key=lambda n: (n.endswith(".css"), n)):
        data = assets[name]
        if name.endswith(".css"):
            data = _rewrite_css(name, data, files)
        files[name] = DistFile(name, hashed_name(name, data), data)
    module = _add(files, f"{crate}.wasm", wasm)
    if glue is None:
        page_js = _add(files, "page.js", runtime_file("page.js").read_bytes())
        loader_text = runtime_file("loader.js").read_text().replace(
            '"./page.js"', f'"./{page_js.file}"')
        loader = _add(files, "loader.js", loader_text.encode())
        own = {loader.name, page_js.name, module.name}
        integrity = {f"./{page_js.file}": page_js.integrity}
        head = (f'<script type="importmap">{json.dumps({"integrity": integrity})}</script>\n'
                f'<script type="module" src="./{loader.file}" integrity="{loader.integrity}" '
                f'data-wasm="./{module.file}" data-wasm-integrity="{module.integrity}">'
                "</script>\n")
    else:
        imported = _add_glue(files, crate, module, glue)
        own = {f.name for f in imported} | {module.name}
        entry, imports = imported[-1], imported[:-1]
        integrity = {f"./{f.file}": f.integrity for f in imports}
        head = (f'<script type="importmap">{json.dumps({"integrity": integrity})}</script>\n'
                f'<script type="module" src="./{entry.file}" integrity="{entry.integrity}">'
                "</script>\n")
    page_text = (template.decode() if template is not None
                 else DEFAULT_PAGE.format(title=_escape(crate)))
    page = _render_page(page_text, files, own, head).encode()
    files[PAGE] = DistFile(PAGE, PAGE, page)
    manifest = {"crate": crate,
                "files": [files[name].entry() for name in sorted(files)]}
    out = {f.file: f.data for f in files.values()}
    out[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode()
    return out


def _add(files: dict[str, DistFile], name: str, data: bytes) -> DistFile:
    files[name] = DistFile(name, hashed_name(name, data), data)
    return files[name]


def _add_glue(files: dict[str, DistFile], crate: str, module: DistFile,
              glue: DistGlue) -> list[DistFile]:  # fmt: skip
    """Adds the runtime, the snippets and, last, the entry that imports them by their hashed
    names; returns those files, the entry last."""
    from rust_hmr.bindgen.served import bundle_entry

    parts = glue.parts
    imported = [_add(files, "bindgen.js", glue.runtime)]
    modules = {}
    for key in sorted(parts.specifiers):
        path = parts.snippet_of(key)
        if path is not None:
            snippet = _add(files, path, parts.snippets[path].encode())
            imported.append(snippet)
            modules[key] = f"./{snippet.file}"
    text = bundle_entry(parts, runtime=f"./{imported[0].file}", modules=modules,
                        wasm=f"./{module.file}", integrity=module.integrity)
    imported.append(_add(files, f"{crate}.js", text.encode()))
    return imported


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;")


_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*>")
_URL_ATTR = re.compile(r"""\b(src|href)\s*=\s*("([^"]*)"|'([^']*)')""")
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


def _local(ref: str, base: str = "") -> str | None:
    """A reference in the page or a stylesheet as a path under the static directory, or None
    for a URL that points elsewhere."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//|^#", ref):
        return None
    ref = ref.split("#", 1)[0].split("?", 1)[0]
    path = PurePosixPath(ref.lstrip("/")) if ref.startswith("/") else PurePosixPath(base) / ref
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def _rewrite_css(name: str, data: bytes, files: Mapping[str, DistFile]) -> bytes:
    base = posixpath.dirname(name)
    text = data.decode("utf-8", errors="surrogateescape")

    def replace(match: re.Match[str]) -> str:
        ref = match[2].strip()
        target = _local(ref, base)
        if target is None or target not in files:
            return match[0]
        new = files[target].file
        new_ref = f"/{new}" if ref.startswith("/") else posixpath.relpath(new, base or ".")
        return f"url({match[1]}{new_ref}{match[1]})"

    return _CSS_URL.sub(replace, text).encode("utf-8", errors="surrogateescape")


def _render_page(page: str, files: Mapping[str, DistFile], own: set[str], head: str) -> str:
    """The page with its references to assets rewritten and `head` (what loads the app) put
    before `</head>`. References to the bundle's own files (`own`) stay as written."""
    def tag(match: re.Match[str]) -> str:
        text = match[0]
        attr = _URL_ATTR.search(text)
        if attr is None:
            return text
        target = _local(attr[3] if attr[3] is not None else attr[4])
        if target is None or target not in files or target in own:
            return text
        asset = files[target]
        quote = attr[2][0]
        ref = (attr[3] if attr[3] is not None else attr[4]).strip()
        new_ref = f"/{asset.file}" if ref.startswith("/") else f"./{asset.file}"
        text = f"{text[:attr.start(2)]}{quote}{new_ref}{quote}{text[attr.end(2):]}"
        if match[1].lower() in ("script", "link") and "integrity" not in text:
            end = len(text) - (2 if text.endswith("/>") else 1)
            text = f'{text[:end].rstrip()} integrity="{asset.integrity}"{text[end:]}'
        return text

    page = _TAG.sub(tag, page)
    at = page.lower().find("</head>")
    if at < 0:
        at = page.lower().find("<body")
    if at < 0:
        return head + page
    return page[:at] + head + page[at:]


@dataclass(frozen=True)
class DistWrite:
    """What writing a bundle did."""

    written: list[str]
    unchanged: list[str]
    removed: list[str]


def write_dist(dist: Path, files: Mapping[str, bytes]) -> DistWrite:
    """Write the bundle into `dist`: only files whose bytes differ (the others keep their
    mtimes), the page and the manifest last; then remove the files that the previous
    manifest listed and this one does not. Files rust-hmr did not write are left alone."""
    previous = _listed(dist)
    order = sorted(files, key=lambda name: (name == MANIFEST, name == PAGE, name))
    written: list[str] = []
    unchanged: list[str] = []
    for name in order:
        (written if write_if_changed(dist / name, files[name]) else unchanged).append(name)
    removed = []
    for name in sorted(previous - set(files) - {MANIFEST}):
        path = dist / name
        if path.is_file():
            path.unlink()
            removed.append(name)
            _prune(path.parent, dist)
    return DistWrite(written, unchanged, removed)


def clean_dist(dist: Path) -> None:
    """Remove what the bundle wrote (`doit clean bundle`): the files the manifest lists and
    the manifest; anything else in `dist` stays."""
    for name in sorted(_listed(dist) | {MANIFEST}):
        path = dist / name
        if path.is_file():
            path.unlink()
            _prune(path.parent, dist)
    if dist.is_dir() and not any(dist.iterdir()):
        dist.rmdir()


def _listed(dist: Path) -> set[str]:
    try:
        manifest = json.loads((dist / MANIFEST).read_text())
        return {str(entry["file"]) for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _prune(directory: Path, top: Path) -> None:
    while directory != top and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def dist_intact(dist: Path) -> bool:
    """True when every file the manifest lists is in `dist` with its size and blake3."""
    try:
        manifest = json.loads((dist / MANIFEST).read_text())
        for entry in manifest["files"]:
            path = dist / entry["file"]
            if path.stat().st_size != entry["size"]:
                return False
            if blake3.blake3(path.read_bytes()).hexdigest() != entry["blake3"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True
