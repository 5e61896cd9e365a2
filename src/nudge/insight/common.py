"""Shared pieces of the insight modules: result dataclasses' ``to_dict()`` and BLAS threads."""

from __future__ import annotations

from typing import Any

from ..display import result_html
from ..jsonable import jsonable

CHUNK = 16384


def single_threaded_blas() -> Any:
    """A context in which BLAS uses one thread.  Small matrix products (a mini-batch step)
    gain nothing from threads, and when the cores are busy, threads that wait for each
    other make them slower: B = 100 backprop on 784-16-16-10 took 1.0x as long on two
    threads as on one, and 2.4-3.9x with two other processes spinning on the 2 cores
    (``python benchmarks/blas_threads.py [--busy 2]``, three runs each)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                       # pragma: no cover - comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Plain:
    """``to_dict()`` for dataclasses: every field, arrays as (nested) lists; and a readable
    HTML summary in Jupyter (``_repr_html_``, :func:`nudge.display.result_html`)."""

    _skip: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in vars(self).items()
                if not k.startswith("_") and k not in self._skip}

    def _fields(self) -> list[str]:
        return [k for k in vars(self) if not k.startswith("_") and k not in self._skip]

    def _repr_html_(self) -> str:
        return result_html(self)
