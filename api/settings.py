"""Settings from the environment (prefix ``SC_``), e.g. ``SC_STUDIES_DIR=studies/``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What the service reads at start.

    ``SC_STUDIES_DIR``: a folder of study folders (from ``service-circle build``); unset,
    the bundled Helsinki sample is served. ``SC_CACHE_DIR``: where the sample study is
    kept. ``SC_MAX_BODY_BYTES``: larger request bodies get 413. ``SC_SITING_TIME_LIMIT_S``:
    the longest a siting request may solve. ``SC_CACHE_ENTRIES``: results kept per process.
    ``SC_SELF_CONTAINED_MAPS``: embed the map scripts (for offline browsers) by default.
    """

    model_config = SettingsConfigDict(env_prefix="SC_")

    studies_dir: Path | None = None
    cache_dir: Path | None = None
    max_body_bytes: int = Field(2_000_000, gt=0)
    siting_time_limit_s: float = Field(30.0, gt=0)
    cache_entries: int = Field(256, ge=0)
    self_contained_maps: bool = False
