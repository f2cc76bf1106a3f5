"""The dev server: serves a crate's dev build and pushes patches to its pages.

    DevServer          HTTP + the `/_hmr` WebSocket on 127.0.0.1 (aiohttp), one asyncio process
    DevState           the current build, its patches, the last error; what a late page missed
    protocol           the wire format (`hello`, `patch`, `full-reload`, `error`, `ok`)
    TrapDesk           symbolicates the traps pages report (`POST /_hmr/trap`; `_traps`)

Exceptions:

    ServerError        the server can't start (port taken, address not this machine's)
    protocol.ProtocolError   a frame that is not a message of the protocol
"""

from rust_hmr.server import protocol
from rust_hmr.server._app import DevServer, ServerError
from rust_hmr.server._files import OutsideRoot, render_page, resolve_inside
from rust_hmr.server._state import DevState, PageState, build_id

__all__ = ["DevServer", "DevState", "OutsideRoot", "PageState", "ServerError", "build_id",
           "protocol", "render_page", "resolve_inside"]
