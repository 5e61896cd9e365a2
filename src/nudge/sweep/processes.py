"""The local pool's processes, and the helpers multiprocessing starts for them, all gone
when the sweep is: however it ends, nothing is left running.

* A worker lives no longer than the sweep's process (:func:`watch_client`).  A worker
  holds both ends of its task queue, so when the sweep's process dies without shutting
  its pool down (``kill``, a closed terminal's SIGHUP, out of memory) the worker waited
  for a task for ever; and every worker also holds the forkserver's "alive" pipe, so
  the idle forkserver stayed too, until the machine's session ended.
* The forkserver and the resource tracker that a sweep started are stopped once its
  pools are shut down (:func:`stopping_helpers`), whether it ended normally, on an
  error or on Ctrl-C: in a longer-lived process (Python, a notebook, a test session)
  they would otherwise stay idle until it exits.  Helpers that were running before the
  sweep belong to someone else and are left alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

# multiprocessing and concurrent.futures are imported by the functions that use them: the
# command line loads the sweep's modules to build its parser (tests/test_imports.py)
if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def watch_client() -> None:
    """In a worker: end it when the process that started it (the sweep's) ends, from a
    daemon thread that waits for the end of the pipe only that process holds."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True,
                     name="nudge-sweep-client-watch").start()


def _exit_with(sentinel: Any) -> None:
    from multiprocessing import connection

    connection.wait([sentinel])
    os._exit(1)               # no result can reach the sweep now: nothing is left to do


def _helpers() -> list[Any]:
    """multiprocessing's forkserver and resource tracker of this process (in the order they
    are stopped: the forkserver's children hold the tracker's pipe)."""
    from multiprocessing import forkserver, resource_tracker

    return [getattr(forkserver, "_forkserver", None),
            getattr(resource_tracker, "_resource_tracker", None)]


def _running(helper: Any) -> bool:
    return (getattr(helper, "_forkserver_pid", None) is not None
            or getattr(helper, "_pid", None) is not None)


@contextmanager
def stopping_helpers() -> Iterator[None]:
    """Stop, as the block ends, the helpers it started (call it around pools that are shut
    down with their workers waited for: a helper ends once no worker holds its pipe)."""
    before = [_running(h) for h in _helpers()]
    try:
        yield
    finally:
        for helper, was_running in zip(_helpers(), before):
            if not was_running and _running(helper) and hasattr(helper, "_stop"):
                helper._stop()


def terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now, their runs under way dropped."""
    if hasattr(pool, "terminate_workers"):              # Python 3.14
        pool.terminate_workers()  # novermin (checked for above: 3.10 to 3.13 lack it)
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
