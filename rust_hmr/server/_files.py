"""Which file a URL may name, and the page the dev server renders.

`resolve_inside` is the only way the server turns a URL path into a file: the path must stay
inside its root however it is spelled (`..`, `%2e%2e` once decoded, an absolute path, a
backslash, a symlink that points out), and dotfiles are never served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rust_hmr.runtime import DEFAULT_PAGE

RUNTIME_URL = "/_hmr/runtime/hmr.js"
CONFIG_ID = "rust-hmr-config"

_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(r"<body[\s>]", re.IGNORECASE)


class OutsideRoot(Exception):
    """A URL path that tries to leave the directory it is served from."""


def resolve_inside(root: Path, url_path: str) -> Path | None:
    """The regular file under `root` that `url_path` names, or None when there is none.

    `url_path` is the decoded path after the route's prefix, '/'-separated. A path that tries
    to leave `root` raises OutsideRoot; the file found is checked again after every symlink is
    followed.
    """
    if "\0" in url_path or "\\" in url_path or url_path.startswith("/"):
        raise OutsideRoot(url_path)
    parts = [part for part in url_path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise OutsideRoot(url_path)
    if not parts or any(part.startswith(".") for part in parts):
        return None
    base = root.resolve()
    found = base.joinpath(*parts).resolve()
    if not found.is_relative_to(base):
        raise OutsideRoot(url_path)
    return found if found.is_file() else None


def read_template(candidates: Iterable[Path], title: str) -> str:
    """The first page template that exists among `candidates`, else a minimal page."""
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return DEFAULT_PAGE.format(title=title)


def render_page(template: str, config: dict[str, Any]) -> str:
    """The template with the runtime's configuration and script put before `</head>`."""
    data = json.dumps(config, separators=(",", ":")).replace("</", "<\\/")
    tags = (f'<script type="application/json" id="{CONFIG_ID}">{data}</script>\n'
            f'<script type="module" src="{RUNTIME_URL}"></script>\n')
    at = _HEAD_END.search(template) or _BODY_START.search(template)
    if at is None:
        return tags + template
    return template[:at.start()] + tags + template[at.start():]
