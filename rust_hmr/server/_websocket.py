"""The `/_hmr` WebSocket's reading side: only masked frames from clients.

RFC 6455 section 5.1: a client masks every frame it sends, and "a server MUST close the
connection upon receiving a frame that is not masked" (status 1002, protocol error). aiohttp
reads an unmasked frame as a plain one, so `MaskedFramesOnly` reads each frame's header before
aiohttp's frame reader gets the bytes. Pages send the server nothing but control frames (pong,
close); a frame without a mask comes from something that is not a browser.

aiohttp has no hook for this: `PageSocket._post_start` puts the check between its HTTP
protocol and its frame reader right where aiohttp connects them (tested in
tests/test_server_faults.py, which fails if an aiohttp release moves them).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Protocol

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketWriter
from aiohttp.web_request import BaseRequest


class FrameReader(Protocol):
    """What aiohttp's HTTP protocol calls on the parser of an upgraded connection."""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


class MaskedFramesOnly:
    """Passes a client's bytes on to `reader` frame by frame, and stops at the first frame
    without the mask bit: what came before it goes on, then `refuse()` is called and the
    connection reads nothing more (`feed_data` answers "end of stream")."""

    def __init__(self, reader: FrameReader, refuse: Callable[[], None]) -> None:
        self._reader = reader
        self._refuse = refuse
        self._header = bytearray()  # the current frame's header, as far as it has come
        self._payload_left = 0  # bytes of the current frame's payload not seen yet
        self.refused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.refused:
            return True, b""
        bad = self._first_unmasked(data)
        if bad is None:
            return self._reader.feed_data(data)
        if bad > 0:
            self._reader.feed_data(data[:bad])
        self.refused = True
        self._refuse()
        return True, b""

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def _first_unmasked(self, data: bytes) -> int | None:
        """Where the first unmasked frame starts in `data` (0 when its header began in an
        earlier chunk), or None; follows the frames to the end of `data`."""
        pos = 0
        while pos < len(data):
            if self._payload_left:
                step = min(self._payload_left, len(data) - pos)
                pos += step
                self._payload_left -= step
                continue
            self._header.append(data[pos])
            pos += 1
            if len(self._header) == 2 and not self._header[1] & 0x80:
                return max(pos - 2, 0)
            if len(self._header) >= 2 and len(self._header) == _header_size(self._header):
                self._payload_left = _payload_size(self._header)
                self._header.clear()
        return None


def _header_size(header: bytes | bytearray) -> int:
    """A frame header's size from its second byte: 2, the extended length, the mask key."""
    length = header[1] & 0x7F
    extended = 2 if length == 126 else 8 if length == 127 else 0
    return 2 + extended + (4 if header[1] & 0x80 else 0)


def _payload_size(header: bytes | bytearray) -> int:
    length = header[1] & 0x7F
    if length == 126:
        return int(struct.unpack_from(">H", header, 2)[0])
    if length == 127:
        return int(struct.unpack_from(">Q", header, 2)[0])
    return length


class PageSocket(web.WebSocketResponse):
    """The server's side of a page's WebSocket: closes with 1002 on an unmasked frame."""

    _refusal: asyncio.Task[bool] | None = None

    def _post_start(self, request: BaseRequest, protocol: str | None,
                    writer: WebSocketWriter) -> None:
        handler = request.protocol
        # Bytes the client sent right behind its handshake go through the check too.
        tail, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        checked = MaskedFramesOnly(handler._payload_parser, self._refuse)
        handler._payload_parser = checked
        if tail and checked.feed_data(tail)[0]:
            handler.close()

    def _refuse(self) -> None:
        self._refusal = asyncio.get_running_loop().create_task(
            self.close(code=WSCloseCode.PROTOCOL_ERROR, message=b"client frames must be masked"))
