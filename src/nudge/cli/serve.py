"""``nudge serve``: the web page, on this computer only unless told otherwise."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..data import DATASETS
from ..errors import NudgeError

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
                   help="allow --host to be an address other computers can reach")
    p.add_argument("--save-dir", metavar="FOLDER",
                   help="folder where the page may save models it trained (default: saving "
                        "is off)")
    p.add_argument("--dataset", choices=["auto", *DATASETS], default="auto",
                   help="images for training and examples (default: auto = MNIST, or the "
                        "embedded 8x8 digits when MNIST cannot be found)")
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


def cmd_serve(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise NudgeError(f"--port {args.port}: choose a port from 1 to 65535")
    local = check_host(args.host, args.allow_remote)
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as e:  # pragma: no cover - both are dependencies
        raise NudgeError(f"the web page needs starlette and uvicorn ({e}); "
                         "pip install starlette uvicorn") from None
    app = create_app(model_path=args.model, save_dir=args.save_dir, dataset=args.dataset,
                     data_dir=args.data_dir, allowed_hosts=None if local else ["*"])
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{'127.0.0.1' if local else shown}:{args.port}/"
    if not local:
        print(f"warning: listening on {args.host}: anyone who can reach this computer on port "
              f"{args.port} can use the page, start training and (with --save-dir) save "
              "models", file=sys.stderr)
    print(f"nudge: serving the page at {url}  (Ctrl-C to stop)", flush=True)
    # the page's live stream never ends by itself: give open streams 2 s at Ctrl-C, then
    # close them (the page reconnects to the next server by itself)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=2)
    return 0
