"""Demangling of Rust's v0 symbol scheme (RFC 2603, symbols starting with `_R`).

The output follows what the `rustc-demangle` crate prints, because that is what every other Rust
tool (backtraces, `wasm-tools demangle`, profilers) shows: `{}` keeps crate disambiguators
(`core[1234abcd]`) and integer-constant type suffixes (`3usize`), the alternate form `{:#}`
drops both.

Parsing and printing happen in one recursive pass. When `out` is None the pass only parses: the
path of an `impl` (never shown) is read that way, and so is the instantiating-crate suffix.
Backreferences are only followed while printing, and only point backwards, so they cannot loop;
they can still make the output exponentially larger than the input, which the output budget
(`MAX_OUTPUT`) stops, together with the nesting limit (`MAX_DEPTH`, as in rustc-demangle). Text
already printed for a backreference target is reused rather than printed again, so time stays
proportional to the output. Nesting close to `MAX_DEPTH` needs a few Python frames per level; if
the interpreter's recursion limit is reached first, the symbol is rejected (None) the same way.
"""

from __future__ import annotations

import re
import string
import unicodedata

MAX_DEPTH = 500
"""Deepest nesting of paths, types and constants (backreferences count as one level more)."""
MAX_OUTPUT = 1_000_000
"""Longest demangled name produced; anything longer is treated as hostile input."""
_MAX_PUNYCODE_CHARS = 128
"""Longer punycode identifiers are shown encoded, as `punycode{...}`."""
_U64 = (1 << 64) - 1

BASIC_TYPES: dict[str, str] = {
    "a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32", "h": "u8",
    "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128", "o": "u128", "p": "_",
    "s": "i16", "t": "u16", "u": "()", "v": "...", "x": "i64", "y": "u64", "z": "!",
}  # fmt: skip
_UNSIGNED_CONSTS = frozenset("hmtyoj")
_SIGNED_CONSTS = frozenset("aslxni")
_SPECIAL_NAMESPACES = {"C": "closure", "S": "shim"}
_BASE62 = {
    c: i for i, c in enumerate(string.digits + string.ascii_lowercase + string.ascii_uppercase)
}
_HEX_NIBBLES = re.compile(r"[0-9a-f]*_")
_BASE62_NUMBER = re.compile(r"([0-9a-zA-Z]*)_")
_IDENT_HEAD = re.compile(r"(u?)(0|[1-9][0-9]*)_?")
_CHAR_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\",
                 "'": "\\'", '"': '\\"'}  # fmt: skip
_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs", "Mn", "Me"))
"""Categories Rust's `char::escape_debug` writes as `\\u{..}`: unprintables, grapheme extenders."""


class Invalid(Exception):
    """The input breaks the grammar or one of the resource limits."""


def punycode_decode(ascii_part: str, code: str) -> str | None:
    """Decode an identifier's punycode (RFC 3492 with `_` in place of `-`), None if unusable.

    Overflow checks mirror 64-bit arithmetic, and results over `_MAX_PUNYCODE_CHARS` count as
    failures, so hostile deltas can neither blow up the work nor disagree with rustc-demangle.
    """
    if not code:
        return None
    out = list(ascii_part)
    if len(out) > _MAX_PUNYCODE_CHARS:
        return None
    base, t_min, t_max, skew = 36, 1, 26, 38
    damp, bias, i, n = 700, 72, 0, 0x80
    pos, end = 0, len(code)
    while True:
        delta, w, k = 0, 1, 0
        while True:
            k += base
            t = min(max(k - bias, t_min), t_max)
            if pos >= end:
                return None
            c = code[pos]
            pos += 1
            if "a" <= c <= "z":
                d = ord(c) - 97
            elif "0" <= c <= "9":
                d = ord(c) - 48 + 26
            else:
                return None
            delta += d * w
            if d * w > _U64 or delta > _U64:
                return None
            if d < t:
                break
            w *= base - t
            if w > _U64:
                return None
        length = len(out) + 1
        i += delta
        if i > _U64:
            return None
        n += i // length
        i %= length
        if n > 0x10FFFF or 0xD800 <= n <= 0xDFFF or length > _MAX_PUNYCODE_CHARS:
            return None
        out.insert(i, chr(n))
        i += 1
        if pos >= end:
            return "".join(out)
        delta = delta // damp
        damp = 2
        delta += delta // length
        k = 0
        while delta > ((base - t_min) * t_max) // 2:
            delta //= base - t_min
            k += base
        bias = k + ((base - t_min + 1) * delta) // (delta + skew)


def ident_text(ascii_part: str, code: str) -> str:
    """How an identifier is shown: plain, decoded punycode, or `punycode{...}` as a fallback."""
    if not code:
        return ascii_part
    decoded = punycode_decode(ascii_part, code)
    if decoded is not None:
        return decoded
    return "punycode{" + (ascii_part + "-" if ascii_part else "") + code + "}"


def quote_chars(text: str, quote: str) -> str:
    """`text` as a Rust char or string literal, escaped like Rust's `escape_debug`."""
    parts = [quote]
    for c in text:
        esc = _CHAR_ESCAPES.get(c)
        if esc is not None:
            # The other kind of quote needs no escape inside this literal.
            parts.append(c if c in "'\"" and c != quote else esc)
        elif c == " " or (c.isascii() and c.isprintable()):
            parts.append(c)
        elif unicodedata.category(c) in _UNPRINTABLE:
            parts.append(f"\\u{{{ord(c):x}}}")
        else:
            parts.append(c)
    parts.append(quote)
    return "".join(parts)


class _V0:
    """Parser-printer state over the symbol text after its `_R` prefix."""

    __slots__ = (
        "alt", "bound", "depth", "expanded", "out", "peak", "pos", "size", "skipped", "sym",
    )  # fmt: skip

    def __init__(self, sym: str, alternate: bool) -> None:
        self.sym = sym
        self.pos = 0
        self.depth = 0
        self.peak = 0
        self.alt = alternate
        self.out: list[str] | None = []
        self.size = 0
        self.bound = 0  # lifetimes bound by enclosing `for<...>` binders
        self.skipped: dict[int, tuple[int, int]] = {}  # impl path start -> (end, depth used)
        # (backref target, kind, in_value, bound lifetimes) -> (text, depth used, left open)
        self.expanded: dict[tuple[int, str, bool, int], tuple[str, int, bool]] = {}

    # -- lexical level -------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        if self.out is not None:
            self.out.append(text)
            self.size += len(text)
            if self.size > MAX_OUTPUT:
                raise Invalid

    def push(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Invalid
        if self.depth > self.peak:
            self.peak = self.depth

    def next(self) -> str:
        pos = self.pos
        if pos >= len(self.sym):
            raise Invalid
        self.pos = pos + 1
        return self.sym[pos]

    def eat(self, c: str) -> bool:
        if self.sym.startswith(c, self.pos):
            self.pos += 1
            return True
        return False

    def integer62(self) -> int:
        """`_` is 0, otherwise base-62 digits then `_` encode the value minus one."""
        match = _BASE62_NUMBER.match(self.sym, self.pos)
        if match is None:
            raise Invalid
        self.pos = match.end()
        digits = match.group(1).lstrip("0")
        if match.end(1) == match.start(1):
            return 0
        if len(digits) > 11:  # 62**11 > 2**64: cannot fit
            raise Invalid
        value = 0
        for c in digits:
            value = value * 62 + _BASE62[c]
        if value >= _U64:
            raise Invalid
        return value + 1

    def opt_integer62(self, tag: str) -> int:
        """0 when `tag` is absent, else one more than the number after it."""
        if not self.sym.startswith(tag, self.pos):
            return 0
        self.pos += 1
        value = self.integer62() + 1
        if value > _U64:
            raise Invalid
        return value

    def hex_nibbles(self) -> str:
        match = _HEX_NIBBLES.match(self.sym, self.pos)
        if match is None:
            raise Invalid
        self.pos = match.end()
        return match.group()[:-1]

    def ident(self) -> tuple[str, str]:
        """An identifier as (ascii part, punycode part); the latter is empty unless `u`-marked.

        A length starting with `0` is zero, whatever digits follow; a `_` after the length
        separates it from identifiers that start with a digit or `_`.
        """
        match = _IDENT_HEAD.match(self.sym, self.pos)
        if match is None:
            raise Invalid
        punycode, digits = match.group(1, 2)
        if len(digits) > 20:
            raise Invalid
        start = match.end()
        stop = start + int(digits)
        if stop > len(self.sym):
            raise Invalid
        self.pos = stop
        text = self.sym[start:stop]
        if not punycode:
            return text, ""
        sep = text.rfind("_")
        ascii_part, code = ("", text) if sep < 0 else (text[:sep], text[sep + 1 :])
        if not code:
            raise Invalid
        return ascii_part, code

    def backref(self, kind: str, in_value: bool) -> bool:
        """Print what the backreference after a just-read `B` points to; see `_expand`.

        Returns whether it left generic arguments open (for `kind` "open" only).
        """
        start = self.pos - 1
        target = self.integer62()
        if target >= start or self.depth + 1 > MAX_DEPTH:
            raise Invalid
        if self.out is None:  # parsing only: the target was checked where it was written
            return False
        return self._expand(self.out, target, kind, in_value)

    def _expand(self, out: list[str], target: int, kind: str, in_value: bool) -> bool:
        """Print the path, type or constant at `target`, reusing its text if printed before.

        Symbols use backreferences for every repeated crate path or type, and nested ones can
        double the output at each level; replaying the remembered text keeps the cost near the
        length of the output instead of the number of expansions. The text depends only on the
        place, the kind, `in_value` and the lifetimes bound around it, hence the key. The depth
        it needed is remembered too, so the depth limit applies exactly as without the cache.
        """
        key = (target, kind, in_value, self.bound)
        known = self.expanded.get(key)
        if known is not None:
            text, used, is_open = known
            if self.depth + used > MAX_DEPTH:
                raise Invalid
            self.peak = max(self.peak, self.depth + used)
            self.emit(text)
            return is_open
        saved, mark, base, outer_peak = self.pos, len(out), self.depth, self.peak
        self.pos, self.peak = target, base
        self.push()
        is_open = False
        if kind == "path":
            self.path(in_value)
        elif kind == "type":
            self.ty()
        elif kind == "const":
            self.const(in_value)
        else:
            is_open = self.path_maybe_open_generics()
        self.depth -= 1
        self.expanded[key] = ("".join(out[mark:]), self.peak - base, is_open)
        self.pos, self.peak = saved, max(outer_peak, self.peak)
        return is_open

    def lifetime(self, index: int) -> None:
        if self.out is None:
            return
        if index == 0:
            self.emit("'_")
            return
        depth = self.bound - index
        if depth < 0:
            raise Invalid
        self.emit("'" + chr(97 + depth) if depth < 26 else f"'_{depth}")

    def open_binder(self) -> int:
        """Print `for<'a, ...> ` for a `G` binder; returns how many lifetimes it bound."""
        count = self.opt_integer62("G")
        if self.out is None or not count:
            return 0
        self.emit("for<")
        for i in range(count):  # a huge count stops at the output budget
            if i:
                self.emit(", ")
            self.bound += 1
            self.lifetime(1)
        self.emit("> ")
        return count

    # -- paths ---------------------------------------------------------------------------------

    def path(self, in_value: bool) -> None:
        """A path; `in_value` paths write generic arguments turbofish-style (`f::<T>`)."""
        self.push()
        tag = self.next()
        if tag == "C":
            dis = self.opt_integer62("s")
            name = self.ident()
            if self.out is not None:
                self.emit(ident_text(*name))
                if dis and not self.alt:
                    self.emit(f"[{dis:x}]")
        elif tag == "N":
            ns = self.next()
            if not ns.isascii() or not ns.isalpha():
                raise Invalid
            self.path(in_value)
            dis = self.opt_integer62("s")
            ascii_part, code = self.ident()
            if self.out is not None:
                if ns.isupper():  # closures, shims and other compiler-made items
                    text = ":" + ident_text(ascii_part, code) if ascii_part or code else ""
                    self.emit(f"::{{{_SPECIAL_NAMESPACES.get(ns, ns)}{text}#{dis}}}")
                elif ascii_part or code:
                    self.emit("::" + ident_text(ascii_part, code))
        elif tag in ("M", "X", "Y"):
            if tag != "Y":
                self.opt_integer62("s")
                self.skip_path()  # the impl's own location is not shown
            self.emit("<")
            self.ty()
            if tag != "M":
                self.emit(" as ")
                self.path(False)
            self.emit(">")
        elif tag == "I":
            self.path(in_value)
            self.emit("::<" if in_value else "<")
            self.generic_args()
            self.emit(">")
        elif tag == "B":
            self.backref("path", in_value)
        else:
            raise Invalid
        self.depth -= 1

    def skip_path(self) -> None:
        """Parse a path without printing it, remembering where it ended.

        Backreferences can bring the same impl path back many times; reparsing it each time
        would cost time not bounded by the output, so the end (and the nesting it needed, to
        keep the depth limit exact) is looked up instead.
        """
        start = self.pos
        known = self.skipped.get(start)
        if known is not None:
            end, used = known
            if self.depth + used > MAX_DEPTH:
                raise Invalid
            self.peak = max(self.peak, self.depth + used)
            self.pos = end
            return
        out, outer_peak, base = self.out, self.peak, self.depth
        self.out, self.peak = None, base
        self.path(False)
        self.skipped[start] = (self.pos, self.peak - base)
        self.out, self.peak = out, max(outer_peak, self.peak)

    def generic_args(self) -> None:
        """Comma-separated generic arguments up to `E`, without the brackets."""
        first = True
        while not self.eat("E"):
            if not first:
                self.emit(", ")
            first = False
            if self.eat("L"):
                self.lifetime(self.integer62())
            elif self.eat("K"):
                self.const(False)
            else:
                self.ty()

    # -- types ---------------------------------------------------------------------------------

    def ty(self) -> None:
        tag = self.next()
        basic = BASIC_TYPES.get(tag)
        if basic is not None:
            self.emit(basic)
            return
        self.push()
        if tag in ("R", "Q"):
            self.emit("&")
            if self.eat("L"):
                index = self.integer62()
                if index:
                    self.lifetime(index)
                    self.emit(" ")
            if tag == "Q":
                self.emit("mut ")
            self.ty()
        elif tag in ("P", "O"):
            self.emit("*const " if tag == "P" else "*mut ")
            self.ty()
        elif tag in ("A", "S"):
            self.emit("[")
            self.ty()
            if tag == "A":
                self.emit("; ")
                self.const(True)
            self.emit("]")
        elif tag == "T":
            self.emit("(")
            if self.type_list() == 1:
                self.emit(",")
            self.emit(")")
        elif tag == "F":
            self.fn_sig()
        elif tag == "D":
            self.emit("dyn ")
            bound = self.open_binder()
            first = True
            while not self.eat("E"):
                if not first:
                    self.emit(" + ")
                first = False
                self.dyn_trait()
            self.bound -= bound
            if not self.eat("L"):
                raise Invalid
            index = self.integer62()
            if index:
                self.emit(" + ")
                self.lifetime(index)
        elif tag == "B":
            self.backref("type", False)
        elif tag == "W":  # pattern type, `u32 is 1..=9`
            self.ty()
            self.emit(" is ")
            self.pattern()
        else:
            self.pos -= 1
            self.path(False)
        self.depth -= 1

    def type_list(self) -> int:
        count = 0
        while not self.eat("E"):
            if count:
                self.emit(", ")
            self.ty()
            count += 1
        return count

    def fn_sig(self) -> None:
        bound = self.open_binder()
        is_unsafe = self.eat("U")
        abi = None
        if self.eat("K"):
            if self.eat("C"):
                abi = "C"
            else:
                abi, code = self.ident()
                if not abi or code:
                    raise Invalid
        if is_unsafe:
            self.emit("unsafe ")
        if abi is not None:
            # Mangling turned the `-` of ABIs like "C-unwind" into `_`.
            self.emit(f'extern "{abi.replace("_", "-")}" ')
        self.emit("fn(")
        self.type_list()
        self.emit(")")
        if not self.eat("u"):
            self.emit(" -> ")
            self.ty()
        self.bound -= bound

    def dyn_trait(self) -> None:
        """One trait of a `dyn`, with its `Name = value` bindings inside the trait's `<...>`."""
        is_open = self.path_maybe_open_generics()
        while self.eat("p"):
            self.emit(", " if is_open else "<")
            is_open = True
            self.emit(ident_text(*self.ident()) + " = ")
            if self.eat("K"):
                self.const(False)
            else:
                self.ty()
        if is_open:
            self.emit(">")

    def path_maybe_open_generics(self) -> bool:
        """Print a path but leave its generic arguments unclosed; True if there are any."""
        if self.eat("B"):
            return self.backref("open", False)
        if self.eat("I"):
            self.path(False)
            self.emit("<")
            self.generic_args()
            return True
        self.path(False)
        return False

    def pattern(self) -> None:
        tag = self.next()
        if tag == "R":
            self.const(False)
            self.emit("..=")
            self.const(False)
        elif tag == "O":
            self.push()
            self.pattern()
            while not self.eat("E"):
                self.emit(" | ")
                self.pattern()
            self.depth -= 1
        elif tag == "N":
            self.emit("!null")
        else:
            raise Invalid

    # -- constants -----------------------------------------------------------------------------

    def const(self, in_value: bool) -> None:
        """A constant; outside another constant, compound values are wrapped in `{...}`."""
        tag = self.next()
        self.push()
        braced = False
        if tag == "p":
            self.emit("_")
        elif tag in _UNSIGNED_CONSTS:
            self.const_int(tag)
        elif tag in _SIGNED_CONSTS:
            if self.eat("n"):
                self.emit("-")
            self.const_int(tag)
        elif tag == "b":
            value = _parse_uint(self.hex_nibbles())
            if value not in (0, 1):
                raise Invalid
            self.emit("true" if value else "false")
        elif tag == "c":
            value = _parse_uint(self.hex_nibbles())
            if value is None or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise Invalid
            self.emit(quote_chars(chr(value), "'"))
        elif tag == "R" and self.eat("e"):
            self.const_str()  # `&str` reads as the plain literal
        elif tag in ("e", "R", "Q", "A", "T", "V"):
            braced = not in_value
            if braced:
                self.emit("{")
            self.compound_const(tag)
        elif tag == "B":
            self.backref("const", in_value)
        else:
            raise Invalid
        if braced:
            self.emit("}")
        self.depth -= 1

    def compound_const(self, tag: str) -> None:
        if tag == "e":
            self.emit("*")  # a literal is a `&str`; a `str` value is its pointee
            self.const_str()
        elif tag in ("R", "Q"):
            self.emit("&" if tag == "R" else "&mut ")
            self.const(True)
        elif tag == "A":
            self.emit("[")
            self.const_list()
            self.emit("]")
        elif tag == "T":
            self.emit("(")
            if self.const_list() == 1:
                self.emit(",")
            self.emit(")")
        else:  # "V": an enum variant or struct value
            self.path(True)
            kind = self.next()
            if kind == "T":
                self.emit("(")
                self.const_list()
                self.emit(")")
            elif kind == "S":
                self.emit(" { ")
                first = True
                while not self.eat("E"):
                    if not first:
                        self.emit(", ")
                    first = False
                    self.opt_integer62("s")
                    self.emit(ident_text(*self.ident()) + ": ")
                    self.const(True)
                self.emit(" }")
            elif kind != "U":
                raise Invalid

    def const_list(self) -> int:
        count = 0
        while not self.eat("E"):
            if count:
                self.emit(", ")
            self.const(True)
            count += 1
        return count

    def const_int(self, tag: str) -> None:
        nibbles = self.hex_nibbles()
        value = _parse_uint(nibbles)
        self.emit(str(value) if value is not None else "0x" + nibbles)
        if not self.alt:
            self.emit(BASIC_TYPES[tag])

    def const_str(self) -> None:
        nibbles = self.hex_nibbles()
        if len(nibbles) % 2:
            raise Invalid
        try:
            text = bytes.fromhex(nibbles).decode("utf-8")
        except ValueError:
            raise Invalid from None
        self.emit(quote_chars(text, '"'))


def _parse_uint(nibbles: str) -> int | None:
    """Hex digits as an integer, None when it does not fit 64 bits."""
    nibbles = nibbles.lstrip("0")
    if len(nibbles) > 16:
        return None
    return int(nibbles, 16) if nibbles else 0


def demangle_v0(symbol: str, *, alternate: bool = False) -> tuple[str, str] | None:
    """Demangle a v0 symbol into (text, rest), where `rest` is what follows the symbol proper.

    `alternate` selects rustc-demangle's `{:#}` form. The caller decides what to do with `rest`
    (LLVM-style `.suffixes`). None when `symbol` is not a valid v0 symbol, or is too deep, too
    large or otherwise hostile.
    """
    if symbol.startswith("_R"):
        inner = symbol[2:]
    elif symbol.startswith("R"):  # tools on Windows strip the leading underscore
        inner = symbol[1:]
    elif symbol.startswith("__R"):  # Mach-O adds one
        inner = symbol[3:]
    else:
        return None
    if not inner or not ("A" <= inner[0] <= "Z") or not inner.isascii():
        return None
    state = _V0(inner, alternate)
    try:
        out: list[str] = []
        state.out = out
        state.path(True)
        text = "".join(out)
        if state.pos < len(inner) and "A" <= inner[state.pos] <= "Z":
            # The crate that instantiated a generic: parsed, never shown.
            state.out, state.bound = None, 0
            state.path(False)
    except (Invalid, RecursionError):
        return None
    return text, inner[state.pos :]
