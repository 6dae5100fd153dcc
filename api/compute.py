"""Where the API computes: a bounded pool of threads apart from the event loop.

The event loop only routes requests, answers ``/health`` and serves cached results; every
computation (coverage, gaps, isochrones, reach, neighbourhoods, siting, reports, maps)
runs in this pool of ``SC_COMPUTE_WORKERS`` threads under a wall-time limit
(:func:`service_circle._deadline.time_limit`, checked by the library's long loops). At
most ``SC_COMPUTE_QUEUE`` more may wait; a computation beyond that is refused at once with
:class:`BusyError` (503 with ``Retry-After``), so a crowd of heavy requests queues nowhere and
the light ones keep answering in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import ctypes.util
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from service_circle._deadline import time_limit
from service_circle._errors import TimeLimitError

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: A computation that took longer than this gives its freed memory back to the system.
TRIM_AFTER_S = 1.0
#: How long past its limit a computation is awaited before the client is answered 503.
GRACE_S = 2.0


class BusyError(Exception):
    """Every compute slot is taken: try again after ``retry_after_s`` seconds."""

    def __init__(self, running: int, waiting: int, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(
            f"busy: {running} computations running and {waiting} waiting "
            f"(SC_COMPUTE_WORKERS, SC_COMPUTE_QUEUE); try again in {retry_after_s} s"
        )


def _malloc_trim() -> Callable[[], None]:
    """Glibc's ``malloc_trim(0)`` where there is one (returns freed heap to the system)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    return (lambda: trim(0)) if trim is not None else (lambda: None)


class ComputePool:
    """A bounded thread pool with admission control and a time limit per computation.

    Parameters
    ----------
    workers
        Computations running at once.
    queue
        Computations that may wait for a worker; more are refused with :class:`BusyError`.
    time_limit_s
        The default wall-time limit of a computation, from when it starts.
    """

    def __init__(self, workers: int, queue: int, time_limit_s: float):
        self.workers = workers
        self.queue = queue
        self.time_limit_s = time_limit_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sc-compute")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._mean_s = 1.0
        self._trim = _malloc_trim()

    @property
    def load(self) -> dict[str, int]:
        """Computations running and waiting now."""
        with self._lock:
            return {"running": self._running, "waiting": self._admitted - self._running}

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                waves = math.ceil((self._admitted + 1) / self.workers)
                retry = int(min(60, max(1, math.ceil(self._mean_s * waves))))
                raise BusyError(self._running, self._admitted - self._running, retry)
            self._admitted += 1

    def _job(self, fn: Callable[[], T], limit_s: float, admitted: float) -> T:
        with self._lock:
            self._running += 1
        began = time.monotonic()
        try:
            left = limit_s - (began - admitted)  # the limit covers the wait in the queue
            if left <= 0:
                raise TimeLimitError(
                    f"the computation waited past its time limit of {limit_s:g} s for a worker"
                )
            with time_limit(left):
                return fn()
        finally:
            took = time.monotonic() - began
            with self._lock:
                self._running -= 1
                self._admitted -= 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * took
            if took > TRIM_AFTER_S:
                self._trim()

    async def run(self, fn: Callable[[], T], *, time_limit_s: float | None = None) -> T:
        """Run ``fn()`` in the pool under its time limit and await its result.

        Raises
        ------
        BusyError
            When every worker is busy and the queue is full.
        TimeLimitError
            When it runs past its limit, counted from admission (checked by the library's
            loops; a step that cannot be interrupted is awaited for at most ``GRACE_S`` more,
            and keeps its worker until it ends).
        """
        limit = time_limit_s or self.time_limit_s
        self._admit()
        admitted = time.monotonic()
        context = contextvars.copy_context()
        try:
            future = self._executor.submit(context.run, self._job, fn, limit, admitted)
        except BaseException:
            with self._lock:
                self._admitted -= 1
            raise
        waited = asyncio.wrap_future(future)
        try:
            # answered within the limit even when a step cannot be interrupted; the worker
            # stays counted as busy until that step ends
            return await asyncio.wait_for(asyncio.shield(waited), timeout=limit + GRACE_S)
        except TimeoutError:
            raise TimeLimitError(
                f"the computation did not finish within its time limit of {limit:g} s"
            ) from None

    def shutdown(self) -> None:
        """Stop taking work; running computations finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
