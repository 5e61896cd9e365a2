"""How the server holds connections: uvicorn, configured once for ``nudge serve`` and tests.

* at most :data:`MAX_CONNECTIONS` served at once: a request on a connection past that is
  answered 503 (JSON, with ``Retry-After``) and its connection closed.  A browser
  loading the page opens about 6 and keeps them for uvicorn's keep-alive (5 s) once it
  has its files, so a class opening the page within a few seconds (22 pages) held them
  all with connections doing nothing, and got 503s for the files.  A connection that
  would leave fewer than :data:`ROOM` free closes the connections that wait idle for a
  next request, the longest idle first (their keep-alive cut short: a browser opens
  another when it needs one); 503 only when the connections are busy (streams, answers
  under way);
* a client has :data:`HEADER_SECONDS` to send a request's headers, counted from when it
  connects or its previous response ended.  uvicorn has no such limit (its keep-alive
  timer stops at the first byte), so without it a client that sends a byte now and then
  would hold a connection for ever, and 128 of them would shut everyone else out.  The
  body has its own limit, :data:`nudge.web.validation.BODY_SECONDS` (408);
* a request that is not valid HTTP gets a JSON ``error`` (400), as every refusal does;
* at Ctrl-C, open streams (the page's live stream never ends by itself) get 2 seconds,
  then are closed; the page reconnects to the next server by itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 128
ROOM = 16                 # connections kept free for new ones, idle ones closed to make it
FRESH_SECONDS = 1.0       # a new connection's first request is on its way: not idle before
HEADER_SECONDS = 10.0


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose client has not sent a
    whole request's headers :data:`HEADER_SECONDS` after connecting, or after the
    response to its previous request; and, near :data:`MAX_CONNECTIONS`, the idle ones."""

    _deadline: asyncio.TimerHandle | None = None
    _idle_since: float | None = None      # when it began to wait, no byte of a request yet
    _answered = False                     # a response was sent (it is kept alive since)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.app

        async def bounded(scope: Any, receive: Any, send: Any) -> None:
            """The app, or the 503 when more than MAX_CONNECTIONS are open (uvicorn's own
            limit counts the connection asking, so it served one fewer, in plain text)."""
            if len(self.connections) <= MAX_CONNECTIONS:
                await app(scope, receive, send)
                return
            body = json.dumps({"error": f"the server holds its most connections "
                                        f"({MAX_CONNECTIONS}): try again in a few seconds"})
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"retry-after", b"5"),
                (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body.encode()})

        self.app = bounded

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()
        if len(self.connections) > MAX_CONNECTIONS - ROOM:
            self._make_room()

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        super().data_received(data)

    def _make_room(self) -> None:
        """Close the connections idle the longest (no request under way, none begun) until
        :data:`ROOM` are free again, or none idle is left.  A connection kept alive after a
        response is idle at once (a browser sends its request again on another, as it does
        when a keep-alive ends); a new one, after :data:`FRESH_SECONDS` without a byte
        (its request was on its way)."""
        idle: list[HeaderDeadline] = [c for c in self.connections if c is not self
                                      and isinstance(c, HeaderDeadline) and c._idle()]
        idle.sort(key=lambda c: c._idle_since or 0.0)    # idle: _idle_since is set
        for c in idle[:len(self.connections) - (MAX_CONNECTIONS - ROOM)]:
            c._disarm()
            c.timeout_keep_alive_handler()        # what uvicorn does when a keep-alive ends
            self.connections.discard(c)           # counted out now, not at the next turn

    def _idle(self) -> bool:
        since = self._idle_since
        return (since is not None and not self.transport.is_closing()
                and (self.cycle is None or self.cycle.response_complete)
                and (self._answered or self.loop.time() - since > FRESH_SECONDS))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._answered = True
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._idle_since = self.loop.time()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request that is not valid HTTP (two Content-Lengths, a bad
        request line...), given before the app runs: JSON with an ``error``, like every
        other refusal (uvicorn's own is plain text), and the connection closed."""
        body = json.dumps({"error": f"not a valid HTTP request ({msg.rstrip('.')}): send "
                                    "one well-formed HTTP/1.1 request"}).encode()
        event = h11.Response(status_code=400, reason=b"Bad Request", headers=[
            (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
            (b"x-content-type-options", b"nosniff"), (b"connection", b"close")])
        for part in (event, h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(part) or b"")
        self.transport.close()

    def _too_slow(self) -> None:
        """The deadline: close unless a request is being answered (its headers came)."""
        self._deadline = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()


def server_config(app: Any, host: str = "127.0.0.1", port: int = 8000,
                  **options: Any) -> uvicorn.Config:
    """uvicorn's settings for nudge's page (``options`` override them)."""
    return uvicorn.Config(app, **{
        "host": host, "port": port, "log_level": "warning", "timeout_graceful_shutdown": 2,
        "http": HeaderDeadline, **options})
