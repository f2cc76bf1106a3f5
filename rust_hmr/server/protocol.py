"""The dev server's wire format: every message it sends to a page, one JSON object a frame.

    hello        {build_id, patch}               on connect: the server's build id and last patch
    patch        {id, url, ms, functions, bindgen, wasm}
                                                 instantiate the module at `url` to apply it;
                                                 `bindgen`: descriptions of the wasm-bindgen
                                                 imports and closure types it brings (the
                                                 page's glue takes them first), or null;
                                                 `wasm`: the module itself (base64), when the
                                                 server pushes a patch as it is made and it is
                                                 small: the page skips the fetch
    full-reload  {reason}                        the page must load again; `reason` is logged
    error        {message, diagnostics}          a compile error: show it, keep the old code
    css          {path, version}                 a stylesheet changed: swap it in place
    ok           {}                              the error is fixed (a patch may follow)

Each type is a class here, named for what it is on the wire: `Hello`, `PatchMessage` (a
`rust_hmr.Patch` as a page gets it: its module by URL), `ReloadMessage`, `Error`,
`StyleChanged`, `Ok`; `Message` is any of them.

A page connects to `/_hmr?build_id=<build id>&patch=<last patch applied>` and sends nothing
else; the server answers with what it missed (`catch_up` in the server state). The runtime in
`rust_hmr/runtime/hmr.js` is the other side: it dispatches on the same `type` values.

When the app traps, the page POSTs a `TrapReport` to `/_hmr/trap` (JSON, from its own origin)
and gets a `TrapAnswer`: the backtrace symbolicated (`rust_hmr/runtime/traps.js`).

    TrapReport   {build_id, message, stack, logs, where}   the RuntimeError and what was logged
    TrapAnswer   {title, panic, frames, text, note}        frames: `rust_hmr.backtrace.Frame`s
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeAlias, assert_never

__all__ = ["Error", "Hello", "Message", "Ok", "PatchMessage", "ProtocolError", "ReloadMessage",
           "StyleChanged", "TrapAnswer", "TrapReport", "as_json", "decode", "decode_trap",
           "describe", "encode", "encode_answer"]


class ProtocolError(ValueError):
    """A frame that is not a message of this protocol."""


@dataclass(frozen=True)
class Hello:
    """Sent first on every connection. `build_id` is None while nothing has built yet."""

    build_id: str | None
    patch: int
    type: Literal["hello"] = field(default="hello", init=False)


@dataclass(frozen=True)
class PatchMessage:
    """Patch `id` (1, 2, ... within a build) is at `url`; `ms` is how long the rebuild took.
    The server keeps each it sent (with its module) for pages that connect later."""

    id: int
    url: str
    ms: int
    functions: tuple[str, ...] = ()
    bindgen: dict[str, Any] | None = None
    wasm: str | None = None  # the module at `url`, base64: only in the push as it is made
    type: Literal["patch"] = field(default="patch", init=False)


@dataclass(frozen=True)
class ReloadMessage:
    """Load the page again; `reason` says why: a change that can't be patched (a
    `rust_hmr.FullReload`), a new build, a changed page file, a page that runs an older build."""

    reason: str
    type: Literal["full-reload"] = field(default="full-reload", init=False)


@dataclass(frozen=True)
class Error:
    """The build failed: `message` is one line, `diagnostics` rustc's output unchanged."""

    message: str
    diagnostics: str
    type: Literal["error"] = field(default="error", init=False)


@dataclass(frozen=True)
class StyleChanged:
    """A stylesheet of the static folder changed: the page swaps it in place (`path` is its
    URL path; `version` makes the new URL differ from every earlier one)."""

    path: str
    version: int
    type: Literal["css"] = field(default="css", init=False)


@dataclass(frozen=True)
class Ok:
    """The last error is gone: the page hides its overlay."""

    type: Literal["ok"] = field(default="ok", init=False)


Message: TypeAlias = Hello | PatchMessage | ReloadMessage | Error | StyleChanged | Ok
_BY_TYPE: dict[str, type[Message]] = {cls.type: cls for cls in (Hello, PatchMessage,
                                                                ReloadMessage, Error,
                                                                StyleChanged, Ok)}
# What each field may hold on the wire (JSON has no tuples: a list becomes one).
_KINDS: dict[str, tuple[type, ...]] = {
    "build_id": (str, type(None)), "patch": (int,), "id": (int,), "url": (str,), "ms": (int,),
    "functions": (list,), "reason": (str,), "message": (str,), "diagnostics": (str,),
    "path": (str,), "version": (int,), "bindgen": (dict, type(None)),
    "wasm": (str, type(None)),
}  # fmt: skip


_OPTIONAL = {"bindgen", "wasm"}  # left out of the wire when None


def as_json(message: Message) -> dict[str, Any]:
    """The JSON object of a message, as a dict."""
    return {k: v for k, v in asdict(message).items() if not (k in _OPTIONAL and v is None)}


def encode(message: Message) -> str:
    """The JSON text of a message."""
    return json.dumps(as_json(message), separators=(",", ":"))


def _json_object(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ProtocolError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    return data


def decode(text: str | bytes) -> Message:
    """The message a JSON text holds; anything else raises ProtocolError."""
    data = _json_object(text)
    kind = data.get("type")
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    names = {f.name for f in fields(cls) if f.init}
    if not names - _OPTIONAL <= set(data) - {"type"} <= names:
        raise ProtocolError(f"a {cls.type} message has {sorted(names)}, got {sorted(data)}")
    values: dict[str, Any] = {}
    for name in names & set(data):
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
        case Hello(build_id=build_id, patch=patch):
            return f"hello: build {build_id or '(none yet)'}, patch {patch}"
        case PatchMessage(id=id, functions=functions, ms=ms):
            return f"patch {id}: {len(functions)} functions, {ms} ms"
        case ReloadMessage(reason=reason):
            return f"full reload: {reason}"
        case Error(message=text):
            return f"error: {text}"
        case StyleChanged(path=path):
            return f"stylesheet changed: {path}"
        case Ok():
            return "ok"
        case _:
            assert_never(message)


# From a page: a trap (POST /_hmr/trap), and the server's answer.

TRAP_LIMITS = {"stack": 64 * 1024, "message": 4096, "where": 256, "logs": 50, "log": 4096}


@dataclass(frozen=True)
class TrapReport:
    """The app trapped in a page: `message` and `stack` of the WebAssembly.RuntimeError (the
    engine's text, with `wasm-function[i]:0x<offset>` frames), the lines the app logged just
    before (a panic hook's message is among them), and `where` the runtime caught it."""

    build_id: str | None
    message: str
    stack: str
    logs: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class TrapAnswer:
    """`title`: one line (the panic message's first line, or the trap and the function);
    `frames`: the backtrace, each a `Frame.to_dict()`; `text`: all of it for a console;
    `note`: why frames are missing, when they are."""

    title: str
    panic: str | None
    frames: tuple[dict[str, Any], ...]
    text: str
    note: str = ""


def decode_trap(text: str | bytes) -> TrapReport:
    """The TrapReport a JSON text holds; anything else (or anything too long) raises
    ProtocolError."""
    data = _json_object(text)
    build_id, logs = data.get("build_id"), data.get("logs", [])
    strings = {name: data.get(name, "") for name in ("message", "stack", "where")}
    if not isinstance(build_id, str | None) or not all(isinstance(v, str) for v in
                                                       strings.values()):
        raise ProtocolError("a trap report has build_id, message, stack and where as strings")
    if not isinstance(logs, list) or not all(isinstance(line, str) for line in logs):
        raise ProtocolError("a trap report's logs are a list of strings")
    too_long = [name for name, value in strings.items() if len(value) > TRAP_LIMITS[name]]
    if too_long or len(logs) > TRAP_LIMITS["logs"] or any(len(line) > TRAP_LIMITS["log"]
                                                          for line in logs):
        raise ProtocolError(f"a trap report too long ({', '.join(too_long) or 'logs'})")
    return TrapReport(build_id, strings["message"], strings["stack"], tuple(logs),
                      strings["where"])


def encode_answer(answer: TrapAnswer) -> str:
    return json.dumps(asdict(answer), separators=(",", ":"))
