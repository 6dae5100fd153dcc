"""Settings from the environment (prefix ``SC_``), e.g. ``SC_STUDIES_DIR=studies/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Most candidate sites a siting request may send (each costs one bounded search).
MAX_CANDIDATES = 2000


class Settings(BaseSettings):
    """What the service reads at start.

    ``SC_STUDIES_DIR``: a folder of study folders (from ``service-circle build``); unset,
    the bundled Helsinki sample is served. ``SC_CACHE_DIR``: where the sample study is
    kept. ``SC_MAX_BODY_BYTES``: larger request bodies get 413. ``SC_SITING_TIME_LIMIT_S``:
    the longest a siting request may take, reach table and solve together.
    ``SC_COMPUTE_TIME_LIMIT_S``: the longest any other computation may take before the
    client gets 503. ``SC_COMPUTE_WORKERS`` computations run at once and
    ``SC_COMPUTE_QUEUE`` more may wait; beyond that a new computation gets 503 with
    ``Retry-After`` while ``/health`` and cached answers keep answering.
    ``SC_COMPUTE_PER_CLIENT``: computations one client (by its address) may have under way
    at once (default: workers + queue less one): more get 429 with ``Retry-After``, and a
    freed worker goes to the client with the fewest running, so that no client holds the
    pool; a computation whose client closed the connection is stopped.
    ``SC_COMPUTE_PROCESSES``: compute in worker processes (the default where the system
    can fork; threads otherwise, or when false).
    ``SC_CACHE_ENTRIES``: results kept per process. ``SC_SELF_CONTAINED_MAPS``: embed the
    map scripts (for offline browsers; the default). ``SC_CORS_ORIGINS``: origins allowed
    to call the API from a browser, comma-separated (none by default). ``SC_TILES``: the
    workbench's base-map tiles, a URL template such as an intranet tile server's
    ``http://tiles.example/{z}/{x}/{y}.png`` (shown from the start; unset, OpenStreetMap's
    are offered, off until switched on, since an intranet may have no internet) and
    ``SC_TILES_ATTRIBUTION`` their attribution.
    """

    model_config = SettingsConfigDict(env_prefix="SC_")

    studies_dir: Path | None = None
    cache_dir: Path | None = None
    max_body_bytes: int = Field(2_000_000, gt=0)
    siting_time_limit_s: float = Field(30.0, gt=0, allow_inf_nan=False)
    compute_time_limit_s: float = Field(60.0, gt=0, allow_inf_nan=False)
    compute_workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    compute_queue: int = Field(4, ge=0)
    compute_per_client: int | None = Field(None, ge=1)
    max_candidates: int = Field(MAX_CANDIDATES, ge=1, le=MAX_CANDIDATES)
    compute_processes: bool = True
    cache_entries: int = Field(256, ge=0)
    self_contained_maps: bool = True
    tiles: str | None = Field(None, pattern=r"^https?://[^\s\"'<>]+$")
    tiles_attribution: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> list[str]:
        """Accept ``SC_CORS_ORIGINS=a,b`` as well as a list."""
        items = value.split(",") if isinstance(value, str) else list(value or [])
        return [str(o).strip() for o in items if str(o).strip()]
