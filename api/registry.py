"""The studies the service holds, and a cache of what it computed from them."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service_circle._errors import InputNotFoundError
from service_circle.study import Study

logger = logging.getLogger(__name__)


class Registry:
    """Studies by id, and an LRU cache of results keyed by (study, what, parameters).

    One computation per key at a time: concurrent requests for the same key wait for the
    first instead of computing it again.
    """

    def __init__(self, studies: dict[str, Study], cache_entries: int = 256):
        self.studies = studies
        self.cache_entries = cache_entries
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}

    async def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """:meth:`cached` for async routes.

        A hit answers on the event loop; a miss computes in the thread pool.
        """
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.cached, key, compute)

    def cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing it once when missing."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
            with self._lock:
                if self.cache_entries:
                    self._cache[key] = value
                    while len(self._cache) > self.cache_entries:
                        self._cache.popitem(last=False)
            return value


def load_studies(studies_dir: Path | None, cache_dir: Path | None = None) -> dict[str, Study]:
    """Every study folder under ``studies_dir`` by folder name; the sample when unset."""
    if studies_dir is None:
        from service_circle.sample import sample_study

        study = sample_study(cache_dir)
        return {study.name: study}
    studies = {}
    for folder in check_studies_dir(studies_dir):
        studies[folder.name] = Study.load(folder)
        logger.info("loaded study %s", folder.name)
    return studies


def check_studies_dir(studies_dir: Path) -> list[Path]:
    """The study folders under ``studies_dir``; an error naming the fix when there is none."""
    root = Path(studies_dir)
    if not root.is_dir():
        raise InputNotFoundError(
            f"studies folder {root} (SC_STUDIES_DIR) is not a folder: point it at the folder "
            "that holds the studies built with `service-circle build --out DIR/NAME`"
        )
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "study.json").exists())
    if not found:
        raise InputNotFoundError(
            f"studies folder {root} (SC_STUDIES_DIR) holds no study folder: build one with "
            f"`service-circle build ... --out {root}/NAME`"
        )
    return found
