"""How the server holds connections: uvicorn, configured once for ``nudge serve`` and tests.

* at most :data:`MAX_CONNECTIONS` at once (past that uvicorn answers 503);
* a client has :data:`HEADER_SECONDS` to send a request's headers, counted from when it
  connects or its previous response ended.  uvicorn has no such limit (its keep-alive
  timer stops at the first byte), so without it a client that sends a byte now and then
  would hold a connection for ever, and 128 of them would shut everyone else out.  The
  body has its own limit, :data:`nudge.web.validation.BODY_SECONDS` (408);
* at Ctrl-C, open streams (the page's live stream never ends by itself) get 2 seconds,
  then are closed; the page reconnects to the next server by itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 128
HEADER_SECONDS = 10.0


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose client has not sent a
    whole request's headers :data:`HEADER_SECONDS` after connecting, or after the
    response to its previous request."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

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
        "limit_concurrency": MAX_CONNECTIONS, "http": HeaderDeadline, **options})
