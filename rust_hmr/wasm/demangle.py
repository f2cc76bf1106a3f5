"""Rust symbol demangling in pure Python, for names found in wasm `name` sections and symbol tables.

Both of rustc's schemes are handled: the legacy one (`_ZN...E`, Itanium-like paths with a hash
element) and v0 (`_R...`, see `demangle_v0`). The output is what the `rustc-demangle` crate
prints, since that is what Rust backtraces and the other wasm tools show:

* `hash=True` is its default display (`{}`): legacy names keep their `::h<16 hex>` element, v0
  crate roots show their disambiguator (`core[1234abcd]`) and integer constants their type
  (`3usize`).
* `hash=False` is its alternate display (`{:#}`): all of those are left out.

As in rustc-demangle, a `.llvm.<HEX>` ThinLTO suffix is removed before anything else, while other
`.`-suffixes that LLVM appends after a symbol (`.cold`, `.1`) are kept at the end of the output.
Names that are not Rust symbols give None, so callers can fall back to the raw name; no input
raises, and the work done is bounded by the input size and a cap on the output size.
"""

from __future__ import annotations

import re
import string
import unicodedata

from rust_hmr.wasm.demangle_v0 import demangle_v0

__all__ = ["demangle", "demangle_or_raw"]

_LLVM_SUFFIX = ".llvm."
_LLVM_SUFFIX_CHARS = frozenset("0123456789ABCDEF@")
_SUFFIX_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)
_LEGACY_PREFIXES = ("_ZN", "ZN", "__ZN")  # plain; with Windows' `_` stripped; Mach-O's extra `_`
_LEGACY_ESCAPES = {
    "SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ",",
}  # fmt: skip
_DIGITS = re.compile(r"[0-9]+")
_LEGACY_SPECIAL = re.compile(r"[$.]")
_LOWER_HEX = frozenset("0123456789abcdef")
_HEX = frozenset(string.hexdigits)


def demangle(name: str, *, hash: bool = True) -> str | None:
    """The demangled form of a Rust symbol `name`, or None if it is not one.

    `hash=False` drops legacy hashes, v0 crate disambiguators and constant type suffixes.
    """
    alternate = not hash
    symbol = name
    cut = symbol.find(_LLVM_SUFFIX)
    if cut >= 0 and _LLVM_SUFFIX_CHARS.issuperset(symbol[cut + len(_LLVM_SUFFIX) :]):
        symbol = symbol[:cut]
    prefix = next((p for p in _LEGACY_PREFIXES if symbol.startswith(p)), None)
    if prefix is not None:
        result = _demangle_legacy(symbol[len(prefix) :], alternate)
    else:
        result = demangle_v0(symbol, alternate=alternate)
    if result is None:
        return None
    text, rest = result
    # What follows the symbol must look like LLVM's `.name` suffixes, else it was no symbol.
    if rest and not (rest[0] == "." and _SUFFIX_CHARS.issuperset(rest)):
        return None
    return text + rest


def demangle_or_raw(name: str, *, hash: bool = True) -> str:
    """`demangle(name)`, or `name` itself when it is not a Rust symbol."""
    demangled = demangle(name, hash=hash)
    return name if demangled is None else demangled


def _demangle_legacy(inner: str, alternate: bool) -> tuple[str, str] | None:
    """Demangle `<length><identifier>... E`, what follows `_ZN`, into (text, rest after `E`).

    The identifiers are printed joined by `::`. The last one is rustc's hash (`h` and hex
    digits); the alternate form leaves it out. A symbol with no identifiers at all gives None,
    where rustc-demangle would print an empty string.
    """
    if not inner.isascii():
        return None
    elements: list[str] = []
    pos, end = 0, len(inner)
    while pos < end and inner[pos] != "E":
        match = _DIGITS.match(inner, pos)
        if match is None:
            return None
        digits = match.group().lstrip("0") or "0"
        if len(digits) > 20:  # longer than any string could be; also keeps int() cheap
            return None
        start = match.end()
        stop = start + int(digits)
        if stop >= end:  # an identifier must be followed by at least the closing `E`
            return None
        elements.append(inner[start:stop])
        pos = stop
    if pos >= end or not elements:
        return None
    if alternate and _is_hash(elements[-1]):
        elements.pop()
    return "::".join(_unescape_legacy(e) for e in elements), inner[pos + 1 :]


def _is_hash(element: str) -> bool:
    return element.startswith("h") and _HEX.issuperset(element[1:])


def _unescape_legacy(element: str) -> str:
    """Undo the legacy scheme's escapes: `$LT$`-style words, `$u7e$` code points, `..` for `::`.

    Decoding stops at the first malformed escape and the rest is shown as it is, like
    rustc-demangle does.
    """
    out: list[str] = []
    pos, end = 0, len(element)
    if element.startswith("_$"):  # identifiers cannot start with `$`, so rustc prefixed `_`
        pos = 1
    while pos < end:
        c = element[pos]
        if c == ".":
            if element.startswith("..", pos):
                out.append("::")
                pos += 2
            else:
                out.append(".")
                pos += 1
        elif c == "$":
            close = element.find("$", pos + 1)
            if close < 0:
                break
            text = _LEGACY_ESCAPES.get(element[pos + 1 : close])
            if text is None:
                text = _unicode_escape(element[pos + 1 : close])
                if text is None:
                    break
            out.append(text)
            pos = close + 1
        else:
            special = _LEGACY_SPECIAL.search(element, pos)
            stop = end if special is None else special.start()
            out.append(element[pos:stop])
            pos = stop
    out.append(element[pos:])
    return "".join(out)


def _unicode_escape(escape: str) -> str | None:
    """The character of a `u<lowercase hex>` escape, if it is a valid, non-control one."""
    digits = escape[1:]
    if not escape.startswith("u") or not digits or not _LOWER_HEX.issuperset(digits):
        return None
    if len(digits.lstrip("0")) > 8:
        return None
    value = int(digits, 16)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return None
    char = chr(value)
    return None if unicodedata.category(char) == "Cc" else char
