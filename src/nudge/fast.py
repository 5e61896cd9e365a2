"""Compiled training engine (placeholder until the Numba kernel lands; see issue 4)."""

from __future__ import annotations

from typing import Any

from .errors import NudgeError


def supports(net: Any, optimizer: str, weight_decay: float, engine: str) -> bool:
    if engine not in ("auto", "reference", "fast"):
        raise NudgeError(f"unknown engine {engine!r}: choose auto, reference or fast")
    if engine == "fast":
        raise NudgeError("the fast engine is not available in this build: use --engine reference")
    return False


def sgd_epoch(*args: Any, **kwargs: Any) -> int:  # pragma: no cover - not reachable yet
    raise NotImplementedError
