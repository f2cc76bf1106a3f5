"""A reader of `ar` archives, enough for rlibs: their members by name, as byte slices.

rustc writes rlibs in the GNU variant: a `/` member holds the symbol table (`/SYM64/` when
offsets need 64 bits), a `//` member holds the names longer than 15 bytes, each ended by `/\n`,
and a member's header then names it `/<offset into that table>`; short names end in `/`. The
BSD variant (`#1/<length>`: the name is the first bytes of the data) is read too, since it
costs two lines. Thin archives (`!<thin>\n`) hold no member data and are refused.
"""

from dataclasses import dataclass

MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
_HEADER_SIZE = 60
_END = b"`\n"
_SYMBOL_TABLES = ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED")
_LONG_NAMES = "//"


class ArchiveError(ValueError):
    """Malformed archive: `message` says what was expected, `offset` where."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at offset {offset:#x})")


@dataclass(frozen=True)
class Member:
    """One member: its name and where its data lies in the archive."""

    name: str
    offset: int
    size: int

    def data(self, archive: bytes) -> bytes:
        return archive[self.offset : self.offset + self.size]


def _field(header: bytes, start: int, end: int, offset: int, what: str) -> int:
    text = header[start:end].strip()
    if not text.isdigit():
        raise ArchiveError(f"member header: {what} {text!r} is not a decimal number", offset)
    return int(text)


def read_members(archive: bytes) -> list[Member]:
    """The members in archive order, symbol and long-name tables left out."""
    if archive.startswith(THIN_MAGIC):
        raise ArchiveError("a thin archive keeps its members in other files", 0)
    if not archive.startswith(MAGIC):
        raise ArchiveError(f"not an ar archive (expected {MAGIC!r})", 0)
    members: list[Member] = []
    long_names = b""
    offset = len(MAGIC)
    while offset < len(archive):
        header = archive[offset : offset + _HEADER_SIZE]
        if len(header) < _HEADER_SIZE:
            raise ArchiveError(f"truncated member header: {_HEADER_SIZE - len(header)} more "
                               f"byte(s) needed", offset)
        if header[58:60] != _END:
            raise ArchiveError(f"member header does not end in {_END!r}", offset + 58)
        size = _field(header, 48, 58, offset + 48, "size")
        start = offset + _HEADER_SIZE
        if start + size > len(archive):
            raise ArchiveError(f"member data cut short: {start + size - len(archive)} more "
                               f"byte(s) needed", start)
        raw = header[:16].decode("latin-1").rstrip(" ")
        name, data_start = raw, start
        if raw == _LONG_NAMES:
            long_names = archive[start : start + size]
            name = ""
        elif raw in _SYMBOL_TABLES:
            name = ""
        elif raw.startswith("#1/"):
            length = _field(header, 3, 16, offset + 3, "BSD name length")
            name = archive[start : start + length].rstrip(b"\0").decode("utf-8", "replace")
            data_start = start + length
        elif raw.startswith("/"):
            at = _field(header, 1, 16, offset + 1, "long name offset")
            end = long_names.find(b"/\n", at)
            if at >= len(long_names) or end < 0:
                raise ArchiveError(f"long name at {at} is not in the `//` table", offset)
            name = long_names[at:end].decode("utf-8", "replace")
        else:
            name = raw.removesuffix("/")
        if name:
            members.append(Member(name, data_start, start + size - data_start))
        offset = start + size + (size & 1)  # member data is padded to an even offset
    return members
