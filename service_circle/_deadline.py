"""A wall-time limit for a whole computation, checked cooperatively by long loops.

A caller (the API, for every request it computes) wraps the work in
:func:`time_limit`; the loops that can run long — the siting reach table, candidate
generation, gap grouping, isochrones of many thresholds — call :func:`check` between
steps, and the solver gets :func:`remaining_s` as its own limit. Without a limit set,
:func:`check` costs one context-variable lookup and does nothing.

The limit lives in a :mod:`contextvars` variable, so concurrent computations in other
threads each have their own.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from service_circle._errors import InputError, TimeLimitError

_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "service_circle_deadline", default=None
)


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Run the body under a wall-time limit of ``seconds`` (``None``: no limit).

    A limit already set by an outer caller is kept when it ends sooner.

    Raises
    ------
    InputError
        If ``seconds`` is not a positive finite number.
    """
    if seconds is None:
        yield
        return
    if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
        raise InputError(f"time limit must be a positive number of seconds, got {seconds!r}")
    now = time.monotonic()
    outer = _DEADLINE.get()
    end = now + float(seconds)
    if outer is not None and outer[0] < end:
        end, seconds = outer
    token = _DEADLINE.set((end, float(seconds)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check(what: str = "the computation") -> None:
    """Raise :class:`TimeLimitError` when the current time limit has passed."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise TimeLimitError(
            f"{what} did not finish within its time limit of {deadline[1]:g} s: ask for less "
            "(fewer candidates, a shorter threshold) or allow more time"
        )


def remaining_s(default: float = math.inf) -> float:
    """Seconds left before the current time limit (``default`` when none is set)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline[0] - time.monotonic())
