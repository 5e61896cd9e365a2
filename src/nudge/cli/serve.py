"""``nudge serve``: the web page, on this computer only unless told otherwise."""

from __future__ import annotations

import argparse
import errno
import secrets
import sys
from typing import TYPE_CHECKING, Any

from ..data import DATASETS
from ..errors import NudgeError
from .common import model_dataset, trained_on

if TYPE_CHECKING:                  # imported by listen(): building the parser needs no socket
    import socket

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="open the web page: watch it learn, draw a digit, explore the nudges",
        description="Start a local web server with nudge's page and print its address. It "
                    "listens on 127.0.0.1 (this computer only) unless --allow-remote is given.")
    p.add_argument("--model", metavar="MODEL", help="a model file to start with (saved by "
                   "nudge train)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s; any other needs "
                        "--allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --host to be an address other computers can reach (they then "
                        "need the token printed at start)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name (or address) other computers use to reach the page, as "
                        "in their address bar; repeatable (with --allow-remote; the default "
                        "allows --host itself and the loopback names)")
    p.add_argument("--save-dir", metavar="FOLDER",
                   help="folder where the page may save models it trained (default: saving "
                        "is off)")
    p.add_argument("--dataset", choices=["auto", *DATASETS], default="auto",
                   help="images for training and examples (default: auto = the dataset "
                        "the --model was trained on; without one MNIST, or the embedded 8x8 "
                        "digits when MNIST cannot be found)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder holding the IDX files (else $NUDGE_DATA, then the cache)")
    p.set_defaults(func=cmd_serve)


def check_host(host: str, allow_remote: bool) -> bool:
    """True if ``host`` is a loopback address; refuse any other without --allow-remote."""
    if host in LOOPBACK:
        return True
    if not allow_remote:
        raise NudgeError(f"--host {host} would let other computers use this server; add "
                         "--allow-remote if that is what you want")
    return False


WILDCARDS = ("0.0.0.0", "::", "")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def allowed_hosts(host: str, extra: list[str]) -> list[str]:
    """The Host headers the server answers (against DNS rebinding): the loopback names,
    ``host`` unless it is a wildcard address, and the ``--allowed-host`` names."""
    names = [*LOOPBACK_NAMES]
    for name in ([] if host in WILDCARDS else [host]) + list(extra):
        name = name.strip().lower()
        if name.startswith("[") and "]:" in name:           # [fe80::1]:8000: the port goes
            name = name[:name.index("]") + 1]               # (the Host header's is never
        elif name.count(":") == 1:                          # compared), as for mybox:8000
            name = name.partition(":")[0]
        if not name or "/" in name or " " in name or "*" in name:
            raise NudgeError(f"--allowed-host {name!r}: give a host name or address as it "
                             "appears in the address bar, e.g. --allowed-host mybox.local")
        names.append(f"[{name}]" if ":" in name and not name.startswith("[") else name)
    if len(names) == len(LOOPBACK_NAMES):
        raise NudgeError(f"--host {host} listens on every address: name the ones other "
                         "computers use with --allowed-host NAME (e.g. this computer's name "
                         "or address)")
    return names


def page_dataset(asked: str, model: str | None) -> str:
    """The page's dataset: the one ``asked`` for; for auto, the one the ``model`` names (as
    ``nudge evaluate`` takes it), else auto (MNIST, or the embedded digits without it)."""
    named = model_dataset(model) if asked == "auto" and model is not None else None
    return asked if named is None else trained_on(named)


def cmd_serve(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise NudgeError(f"--port {args.port}: choose a port from 1 to 65535")
    local = check_host(args.host, args.allow_remote)
    try:
        import uvicorn

        from ..web import create_app
        from ..web.connections import server_config
        from ..web.validation import ApiError
    except ImportError as e:  # pragma: no cover - both are dependencies
        raise NudgeError(f"the web page needs starlette and uvicorn ({e}); "
                         "pip install starlette uvicorn") from None
    hosts, token = None, None
    if not local:
        hosts = allowed_hosts(args.host, args.allowed_host)
        token = secrets.token_urlsafe(18)
    elif args.allowed_host:
        raise NudgeError("--allowed-host needs --allow-remote (and a --host other computers "
                         "can reach)")
    dataset = page_dataset(args.dataset, args.model)
    app = create_app(model_path=args.model, save_dir=args.save_dir, dataset=dataset,
                     data_dir=args.data_dir, allowed_hosts=hosts, token=token)
    if dataset != "auto" or args.data_dir is not None:   # asked for: it must be there
        web = app.state.web
        try:
            web.data() if web.file_net is None else web.data_for(web.file_net)
        except ApiError as e:
            raise NudgeError(f"{e.message}; give the --dataset the model was trained on"
                             if web.file_net is not None and "inputs but" in e.message
                             else e.message) from None
    listening = listen(args.host, args.port)   # before the address is printed
    if local:
        print(f"nudge: serving the page at http://127.0.0.1:{args.port}/  (Ctrl-C to stop)",
              flush=True)
    else:
        assert hosts is not None                # set above for every non-local host
        names = [h for h in hosts if h not in LOOPBACK_NAMES] or ["THIS-COMPUTER"]
        print(f"warning: listening on {args.host}: other computers that reach it as "
              f"{', '.join(names)} can use the page with the token below (start training, and "
              "with --save-dir save models)", file=sys.stderr)
        for name in names:
            shown = f"[{name}]" if ":" in name else name
            print(f"nudge: serving the page at http://{shown}:{args.port}/?token={token}  "
                  "(Ctrl-C to stop)", flush=True)
    uvicorn.Server(server_config(app, args.host, args.port)).run(sockets=[listening])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, or a one-line error (the port is taken, or
    needs privileges) before anything says the page is being served."""
    import socket

    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = min(      # IPv4 first, as the printed address is
            found, key=lambda a: a[0] != socket.AF_INET)
    except socket.gaierror as e:
        raise NudgeError(f"--host {host}: not an address of this computer ({e.strerror})"
                         ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise NudgeError(f"--port {port}: another program already listens there (another "
                             f"nudge serve? mkdocs serve?); choose another, e.g. --port "
                             f"{port + 1 if port < 65535 else 8001}") from None
        if e.errno == errno.EACCES:
            raise NudgeError(f"--port {port}: this user may not listen on it (ports below "
                             "1024 need privileges); choose one above 1023") from None
        raise NudgeError(f"cannot listen on {host}:{port} ({e.strerror})") from None
    return sock
