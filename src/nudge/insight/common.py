"""Shared pieces of the insight modules: result dataclasses' ``to_dict()`` and BLAS threads."""

from __future__ import annotations

from typing import Any

from ..jsonable import jsonable

CHUNK = 16384
#: points on each side of a plane of costs (``landscape``, ``descent``)
MAX_GRID = 201


def single_threaded_blas() -> Any:
    """A context in which BLAS uses one thread.  Small matrix products (a mini-batch step)
    gain nothing from threads, and when the cores are busy, threads that wait for each
    other make them up to 50x slower (measured for B=100 on a shared 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                       # pragma: no cover - comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Plain:
    """``to_dict()`` for dataclasses: every field, arrays as (nested) lists; and a readable
    HTML summary in Jupyter (``_repr_html_``): the fields, arrays by their shape (small ones
    in full), lists of results as tables."""

    _skip: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in vars(self).items()
                if not k.startswith("_") and k not in self._skip}

    def _fields(self) -> list[str]:
        return [k for k in vars(self) if not k.startswith("_") and k not in self._skip]

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td "
                       f"style='text-align:left'>{_Plain._html(getattr(self, k))}</td></tr>"
                       for k in self._fields())
        return f"<div><b>{escape(type(self).__name__)}</b><table>{rows}</table></div>"

    @staticmethod
    def _html(v: Any, nested: bool = False) -> str:
        """One field's value as a short piece of HTML; lists of results become a table
        (its first 10 rows and a count of the rest)."""
        from html import escape

        import numpy as np

        if isinstance(v, _Plain):
            return escape(type(v).__name__) if nested else v._repr_html_()
        if isinstance(v, np.ndarray):
            if v.size <= 10:
                return escape(np.array2string(v, precision=4, separator=", "))
            return f"array {escape(str(v.shape))} {v.dtype}"
        if isinstance(v, (list, tuple)):
            if v and not nested and all(isinstance(x, _Plain) for x in v):
                names = v[0]._fields()
                head = "".join(f"<th>{escape(k)}</th>" for k in names)
                body = "".join("<tr>" + "".join(f"<td>{_Plain._html(getattr(r, k), True)}</td>"
                                                for k in names) + "</tr>" for r in v[:10])
                if len(v) > 10:
                    body += f"<tr><td colspan={len(names)}>… {len(v) - 10} more</td></tr>"
                return f"<table><tr>{head}</tr>{body}</table>"
            if len(v) <= 6 and not any(isinstance(x, (list, tuple, np.ndarray)) for x in v):
                return ", ".join(_Plain._html(x, True) for x in v)
            return f"{len(v)} items"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.6g}"
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"{int(v):,}"
        return escape(str(v))
