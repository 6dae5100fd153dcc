"""The studies the service holds, and a cache of what it computed from them."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from service_circle_api.compute import ComputePool
from service_circle_api.tasks import Task
from starlette.requests import Request

from service_circle._errors import InputNotFoundError
from service_circle.folders import leftover_of, recover
from service_circle.study import Study

logger = logging.getLogger(__name__)


class Registry:
    """Studies by id, those that did not load, and an LRU cache of results.

    Results are keyed by (study, what, parameters). A hit answers on the event loop; a
    miss computes in the :class:`~api.compute.ComputePool`, once: concurrent requests
    for the same key wait for the same computation instead of taking more workers. The
    cache is only touched on the event loop.

    Parameters
    ----------
    studies
        The studies that loaded, by id.
    cache_entries
        Results kept (least recently used dropped first); 0 keeps none.
    unavailable
        Studies that did not load: id → the reason.
    pool
        Where computations run (default: one worker, no queue, 60 s).
    """

    def __init__(
        self,
        studies: dict[str, Study],
        cache_entries: int = 256,
        *,
        unavailable: dict[str, str] | None = None,
        pool: ComputePool | None = None,
    ):
        self.studies = studies
        self.unavailable = dict(unavailable or {})
        self.cache_entries = cache_entries
        self.pool = pool or ComputePool(1, 0, 60.0, studies)
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._pending: dict[tuple, asyncio.Future] = {}
        self._waiters: dict[tuple, int] = {}

    def peek(self, key: tuple) -> tuple[bool, Any]:
        """``(True, value)`` when ``key`` is cached, else ``(False, None)``."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return True, self._cache[key]
        return False, None

    async def get(self, key: tuple, task: Task, *, time_limit_s: float | None = None) -> Any:
        """The cached value of ``key``; computed once, in the pool, when missing.

        Clients asking for the same key share one computation; it is stopped when the last
        of them has gone (:class:`ClientGoneError`).
        """
        hit, value = self.peek(key)
        if hit:
            return value
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._compute_and_keep(key, task, time_limit_s))
            self._pending[key] = pending
            self._waiters[key] = 0
            pending.add_done_callback(lambda _: self._forget(key))
        self._waiters[key] += 1
        try:
            return await _while_asked(asyncio.shield(pending))
        finally:
            if self._pending.get(key) is pending:  # still under way: one waiter fewer
                self._waiters[key] -= 1
                if self._waiters[key] <= 0:
                    pending.cancel()  # nobody waits for it any more: stop it

    def _forget(self, key: tuple) -> None:
        self._pending.pop(key, None)
        self._waiters.pop(key, None)

    async def _compute_and_keep(self, key: tuple, task: Task, time_limit_s: float | None):
        value = await self.pool.run(task, time_limit_s=time_limit_s)
        if self.cache_entries:
            self._cache[key] = value
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
        return value

    async def compute(self, task: Task, *, time_limit_s: float | None = None) -> Any:
        """Run an uncached computation in the pool; stopped if its client goes."""
        return await _while_asked(self.pool.run(task, time_limit_s=time_limit_s))


#: The request being answered (set by the app's middleware), to notice a client that left.
REQUEST: contextvars.ContextVar[Request | None] = contextvars.ContextVar("sc_request", default=None)
#: How often a waiting request checks that its client is still there, seconds.
CHECK_GONE_S = 0.25


class ClientGoneError(Exception):
    """The client closed its connection before the answer: its computation was stopped."""


async def _while_asked(work: Awaitable[Any]) -> Any:
    """Await ``work`` while the request's client is connected; cancel it when it has gone."""
    job = asyncio.ensure_future(work)
    request = REQUEST.get()
    if request is None:
        return await job
    try:
        while True:
            done, _ = await asyncio.wait({job}, timeout=CHECK_GONE_S)
            if done:
                return job.result()
            if await request.is_disconnected():
                job.cancel()
                raise ClientGoneError("the client closed the connection: computation stopped")
    except BaseException:
        job.cancel()
        raise


def load_studies(
    studies_dir: Path | None, cache_dir: Path | None = None
) -> tuple[dict[str, Study], dict[str, str]]:
    """Every study folder under ``studies_dir`` by folder name; the sample when unset.

    A study that does not load is not fatal: it is returned in the second dict with the
    reason, and the log names its folder.

    Returns
    -------
    studies, unavailable
        The loaded studies by id, and id → reason for those that did not load.
    """
    if studies_dir is None:
        from service_circle.sample import sample_study

        study = sample_study(cache_dir)
        return {study.name: study}, {}
    studies: dict[str, Study] = {}
    unavailable: dict[str, str] = {}
    for folder in check_studies_dir(studies_dir):
        try:
            studies[folder.name] = Study.load(folder)
        except Exception as exc:  # one bad study must not stop the others
            reason = str(exc) or type(exc).__name__
            unavailable[folder.name] = reason
            logger.error("study %s did not load: %s", folder, reason)
        else:
            logger.info("loaded study %s", folder.name)
    return studies, unavailable


def check_studies_dir(studies_dir: Path) -> list[Path]:
    """The study folders under ``studies_dir``; an error naming the fix when there is none.

    Hidden folders (the staging and old folders a crashed build leaves) are never
    studies; a study whose last save crashed between its two renames is put back first.
    """
    root = Path(studies_dir)
    if not root.is_dir():
        raise InputNotFoundError(
            f"studies folder {root} (SC_STUDIES_DIR) is not a folder: point it at the folder "
            "that holds the studies built with `service-circle build --out DIR/NAME`"
        )
    for entry in list(root.iterdir()):
        target = leftover_of(entry)
        if target is not None:
            recover(target)
    found = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "study.json").exists()
    )
    if not found:
        raise InputNotFoundError(
            f"studies folder {root} (SC_STUDIES_DIR) holds no study folder: build one with "
            f"`service-circle build ... --out {root}/NAME`"
        )
    return found
