"""The web page's server: a small Starlette app over nudge's library.

:func:`create_app` returns the ASGI app; ``nudge serve`` runs it with uvicorn
(:mod:`.connections`), on 127.0.0.1 unless ``--allow-remote`` is given.

Here is only the wiring: the routes (:mod:`.routes`), the state they share
(:mod:`.state`), and the guards every request passes first: the Host header
(against DNS rebinding), cross-origin posts, other methods and oversized bodies
refused, security headers on every response.  What each request may send is
checked in :mod:`.validation`.  The client never names a file: models are saved
under names checked against a strict pattern into the one folder given on the
command line, and only files listed from that folder can be loaded back.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import NudgeError, printable
from .limits import Limits
from .routes import API
from .state import WebState
from .validation import MAX_BODY, ApiError, declared_length

log = logging.getLogger("nudge.web")
COOKIE = "nudge_token"

STATIC_DIR = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
STREAM_INTERVAL = 0.05            # seconds between two stream updates (20 per second)
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
     b"form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def create_app(model_path: str | Path | None = None, save_dir: str | Path | None = None,
               dataset: str = "auto", data_dir: str | Path | None = None,
               allowed_hosts: list[str] | None = None, token: str | None = None,
               stream_interval: float = STREAM_INTERVAL) -> Starlette:
    """The web app.  ``allowed_hosts`` guards against DNS rebinding (default: loopback);
    ``token``: requests from other computers must carry it (``?token=`` once, then a
    cookie), as Jupyter does."""
    state = WebState(model_path, save_dir, dataset, data_dir)
    routes: list[BaseRoute] = [Route("/", index)]
    routes += [Route(path, json_errors(handler), methods=methods)
               for path, handler, methods in API]
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    hosts = LOOPBACK_HOSTS if allowed_hosts is None else allowed_hosts
    app = Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, hosts=hosts,
                                                          token=token)],
                    exception_handlers={HTTPException: http_error})
    app.state.web = state
    app.state.limits = Limits()
    app.state.stream_interval = stream_interval
    app.state.server_id = secrets.token_hex(8)     # a new one after every restart
    app.state.streams = 0                          # live event streams open now
    app.state.broadcasts = weakref.WeakKeyDictionary()   # their updates, by event loop
    return app


async def http_error(request: Request, exc: Exception) -> Response:
    """No such path, or a method it does not take: ``{"error": message}`` like every other
    refusal."""
    status = getattr(exc, "status_code", 500)
    # the path as sent (percent-encoded: /%FF, not the mojibake of its decoding), cut short
    sent = request.scope.get("raw_path") or request.url.path.encode("utf-8", "replace")
    path = printable(sent.decode("ascii", "replace")[:200])
    message = {404: f"no such page or API endpoint: {path}",
               405: f"{request.method} is not allowed on {path}"
               }.get(status, str(getattr(exc, "detail", "error")))
    return JSONResponse({"error": message}, status_code=status,
                        headers=getattr(exc, "headers", None))


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})


def json_errors(handler: Any) -> Any:
    """The handler, with a refused request (ApiError) or a library error (NudgeError, 422)
    answered as ``{"error": message}``."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as e:
            retry = getattr(e, "retry_after", None)
            return JSONResponse({"error": e.message}, status_code=e.status,
                                headers={"retry-after": str(retry)} if retry else None)
        except NudgeError as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        except Exception as e:  # a bug: one request fails, with a message, the server goes on
            # the path is percent-decoded: %1b would reach the server's terminal raw
            log.exception("error in %s", printable(request.url.path))
            return JSONResponse({"error": f"internal error ({type(e).__name__}): please "
                                 "report it"}, status_code=500)
    return endpoint


class GuardMiddleware:
    """Security headers on every response; requests for another host name (DNS
    rebinding), cross-site and oversized requests refused early; with a token, requests
    from other computers must carry it."""

    def __init__(self, app: Any, hosts: list[str], token: str | None = None) -> None:
        self.app = app
        self.hosts = {normal_host(h) for h in hosts}
        self.token = token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(scope, headers)
        set_cookie = None
        if problem is None and self.token is not None and not _local(scope):
            given = _query_token(scope) or _cookie_token(headers)
            if not given or not hmac.compare_digest(         # bytes: any characters compare
                    given.encode("utf-8", "surrogateescape"), self.token.encode()):
                problem = (401, "this page needs the token that nudge serve printed: open the "
                                "address it printed (…/?token=…)")
            elif _query_token(scope):
                set_cookie = (f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                              ).encode("latin-1")
        if problem is not None:
            response = JSONResponse({"error": problem[1]}, status_code=problem[0])
            await response(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send, set_cookie))

    def _problem(self, scope: dict, headers: dict[str, str]) -> tuple[int, str] | None:
        if host_name(headers.get("host")) not in self.hosts:
            given = headers.get("host")
            return (400, f"this server does not answer to the host name "
                         f"{printable(given[:100]) if given else '(none given)'}: open the "
                         "address nudge serve printed, or start it with --allowed-host NAME "
                         "(and --allow-remote) for the name in the address bar")
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return (405, "method not allowed")
        if (scope["method"] == "POST" and "origin" in headers
                and _origin_host(headers["origin"]) != headers.get("host", "").lower()):
            return (403, "cross-origin requests are not allowed")
        if (declared_length(headers.get("content-length")) or 0) > MAX_BODY:
            return (413, f"request body too large (at most {MAX_BODY:,} bytes)")
        return None

    @staticmethod
    def _with_headers(send: Any, set_cookie: bytes | None = None) -> Any:
        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                extra = SECURITY_HEADERS + ([(b"set-cookie", set_cookie)] if set_cookie else [])
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)
        return wrapped


def host_name(header: str | None) -> str | None:
    """A Host header's host name (or address: IPv6 in brackets), as :func:`normal_host`
    writes it, without the port; None when it is missing or malformed."""
    m = re.fullmatch(r"(\[[0-9a-z:.%]+\]|[^\[\]:/@\s]+)(?::[0-9]{1,5})?", (header or "").lower())
    return (normal_host(m.group(1)) or None) if m else None      # (".": no name)


def normal_host(name: str) -> str:
    """A host name as compared: lower-case, without the one trailing dot of its fully
    qualified form ("mybox.local." is "mybox.local", as a browser may send either)."""
    name = name.lower()
    return name[:-1] if name.endswith(".") else name


def _local(scope: dict) -> bool:
    client = scope.get("client")
    if not client:
        return False
    return client[0] in ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def _query_token(scope: dict) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None


def _cookie_token(headers: dict[str, str]) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _origin_host(origin: str) -> str:
    m = re.match(r"^[a-z][a-z0-9+.-]*://([^/]+)$", origin.strip().lower())
    return m.group(1) if m else ""
