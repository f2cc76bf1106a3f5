"""The dev server's wire format: every message it sends to a page, one JSON object a frame.

    hello        {build, patch}                  on connect: the server's build and last patch
    patch        {id, url, ms, functions}        instantiate the module at `url` to apply it
    full-reload  {reason}                        the page must load again; `reason` is logged
    error        {message, diagnostics}          a compile error: show it, keep the old code
    ok           {}                              the error is fixed (a patch may follow)

A page connects to `/_hmr?build=<build id>&patch=<last patch applied>` and sends nothing else;
the server answers with what it missed (`catch_up` in the server state). The runtime in
`rust_hmr/runtime/hmr.js` is the other side: it dispatches on the same `type` values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeAlias, assert_never

__all__ = ["Error", "FullReload", "Hello", "Message", "Ok", "PatchReady", "ProtocolError",
           "decode", "describe", "encode"]


class ProtocolError(ValueError):
    """A frame that is not a message of this protocol."""


@dataclass(frozen=True)
class Hello:
    """Sent first on every connection. `build` is None while nothing has built yet."""

    build: str | None
    patch: int
    type: Literal["hello"] = field(default="hello", init=False)


@dataclass(frozen=True)
class PatchReady:
    """Patch `id` (1, 2, ... within a build) is at `url`; `ms` is how long the rebuild took."""

    id: int
    url: str
    ms: int
    functions: tuple[str, ...] = ()
    type: Literal["patch"] = field(default="patch", init=False)


@dataclass(frozen=True)
class FullReload:
    """The change can't be patched (or the page runs an older build): load the page again."""

    reason: str
    type: Literal["full-reload"] = field(default="full-reload", init=False)


@dataclass(frozen=True)
class Error:
    """The build failed: `message` is one line, `diagnostics` rustc's output unchanged."""

    message: str
    diagnostics: str
    type: Literal["error"] = field(default="error", init=False)


@dataclass(frozen=True)
class Ok:
    """The last error is gone: the page hides its overlay."""

    type: Literal["ok"] = field(default="ok", init=False)


Message: TypeAlias = Hello | PatchReady | FullReload | Error | Ok
_BY_TYPE: dict[str, type[Message]] = {cls.type: cls for cls in (Hello, PatchReady, FullReload,
                                                                Error, Ok)}
# What each field may hold on the wire (JSON has no tuples: a list becomes one).
_KINDS: dict[str, tuple[type, ...]] = {
    "build": (str, type(None)), "patch": (int,), "id": (int,), "url": (str,), "ms": (int,),
    "functions": (list,), "reason": (str,), "message": (str,), "diagnostics": (str,),
}  # fmt: skip


def encode(message: Message) -> str:
    """The JSON text of a message."""
    return json.dumps(asdict(message), separators=(",", ":"))


def decode(text: str | bytes) -> Message:
    """The message a JSON text holds; anything else raises ProtocolError."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ProtocolError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    names = {f.name for f in fields(cls) if f.init}
    if set(data) - {"type"} != names:
        raise ProtocolError(f"a {cls.type} message has {sorted(names)}, got {sorted(data)}")
    values: dict[str, Any] = {}
    for name in names:
        value: Any = data[name]
        if not isinstance(value, _KINDS[name]) or isinstance(value, bool):
            raise ProtocolError(f"{cls.type}.{name}: unexpected {type(value).__name__}")
        if name == "functions" and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ProtocolError(f"{cls.type}.functions: expected a list of names")
            value = tuple(value)
        values[name] = value
    return cls(**values)


def describe(message: Message) -> str:
    """One line for a log."""
    match message:
        case Hello(build=build, patch=patch):
            return f"hello: build {build or '(none yet)'}, patch {patch}"
        case PatchReady(id=id, functions=functions, ms=ms):
            return f"patch {id}: {len(functions)} functions, {ms} ms"
        case FullReload(reason=reason):
            return f"full reload: {reason}"
        case Error(message=text):
            return f"error: {text}"
        case Ok():
            return "ok"
        case _:
            assert_never(message)
