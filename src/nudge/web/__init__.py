"""The web page: watch the network learn, draw a digit, explore the nudges.

Start it with ``nudge serve``; :func:`create_app` builds the Starlette app.
"""

from .server import create_app

__all__ = ["create_app"]
