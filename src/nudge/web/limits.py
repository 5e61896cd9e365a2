"""Bounded work: at most a few heavy requests at a time, and never an unbounded queue.

Heavy requests (a gradient over up to 60,000 examples, the whole test set's predictions)
take a slot of :data:`HEAVY_SLOTS`; light ones (a prediction, one example's nudges) one
of :data:`LIGHT_SLOTS`; reading model files (the save folder listed, up to 200 models
read, or one model loaded) one of :data:`FILE_SLOTS`.  All of them run in worker
threads, off the event loop, so the live stream and other requests go on meanwhile.
A request that finds more than :data:`MAX_WAITING` others waiting is answered 429 at
once; one that waits longer than :data:`WAIT_SECONDS` for a slot, 503; both with
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from .validation import ApiError

HEAVY_SLOTS = 2
LIGHT_SLOTS = 8
FILE_SLOTS = 1
MAX_WAITING = 16
WAIT_SECONDS = 15.0


class Busy(ApiError):
    """429 or 503, with the seconds after which to try again."""

    def __init__(self, status: int, message: str, retry_after: int = 1) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class Limits:
    """The slots of one app (made when the app is).

    The slots are made for each event loop that runs requests: an asyncio semaphore
    belongs to the loop it first waits in, and an app can outlive its loop (Starlette's
    TestClient used without ``with`` runs each request in a loop of its own)."""

    def __init__(self, heavy: int = HEAVY_SLOTS, light: int = LIGHT_SLOTS,
                 files: int = FILE_SLOTS) -> None:
        self.sizes = {"heavy": heavy, "light": light, "files": files}
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
            weakref.WeakKeyDictionary())

    def _slots(self, kind: str) -> tuple[asyncio.Semaphore, dict[str, int]]:
        """The running loop's ``kind`` slots, and its count of requests waiting by kind."""
        mine = self._loops.setdefault(asyncio.get_running_loop(), {
            "slots": {k: asyncio.Semaphore(n) for k, n in self.sizes.items()},
            "waiting": dict.fromkeys(self.sizes, 0)})
        return mine["slots"][kind], mine["waiting"]

    async def run(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread, once a ``kind`` slot is free."""
        slots, waiting = self._slots(kind)
        if slots.locked() and waiting[kind] >= MAX_WAITING:
            raise Busy(429, "the server is busy with other requests: try again in a moment")
        waiting[kind] += 1
        try:
            await asyncio.wait_for(slots.acquire(), WAIT_SECONDS)
        except asyncio.TimeoutError:     # not the built-in TimeoutError before Python 3.11
            raise Busy(503, "the server is busy: try again in a few seconds", 5) from None
        finally:
            waiting[kind] -= 1
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            slots.release()
