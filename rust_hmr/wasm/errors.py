"""The one error the wasm toolkit raises for malformed input.

Every reader in `rust_hmr.wasm` reports bad bytes as `WasmDecodeError`: what it expected and the
absolute byte offset where it stopped. Callers catch this one type; an `IndexError`, a
`struct.error` or a huge allocation escaping from a reader is a bug in the toolkit.
"""


class WasmDecodeError(ValueError):
    """Malformed wasm input: `message` says what was expected, `offset` where (absolute)."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at offset {offset:#x})")


def truncated(what: str, offset: int, needed: int, available: int) -> WasmDecodeError:
    """Input ended inside `what`: `needed` bytes were asked for, `available` were left."""
    return WasmDecodeError(
        f"unexpected end of input in {what}: {needed - available} more byte(s) needed", offset
    )


def bad_byte(what: str, value: int, offset: int) -> WasmDecodeError:
    """A leading or tag byte that the format does not allow here."""
    return WasmDecodeError(f"invalid {what} byte {value:#04x}", offset)
