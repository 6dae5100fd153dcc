"""Presets the report is judged by: plan targets and the age shares of the population.

Both ship in ``data/targets.toml`` with their sources; a user file of the same shape
replaces the targets (``--targets``). A preset may say where it governs (``where``: a
bounding box); a study inside it uses it by default — a Haidong study is judged against
Haidong's plan, a Beijing study against the national targets unless asked.
"""

from __future__ import annotations

import logging
import os
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from service_circle._errors import InputError, InputNotFoundError

logger = logging.getLogger(__name__)

DEFAULT_TARGETS = "national"
DEFAULT_AGE_SHARES = "national"
#: Keys of a preset that are about the preset, not targets.
_META = ("label", "label_zh", "source", "source_zh", "where")
#: Former indicator keys, still read from a user's targets file.
RENAMED = {
    "elderly_care_coverage": "home_community_elderly_care_coverage",
    "community_floor_area_per_100_households": "community_service_area_per_100_households",
    "sports_area_per_resident": "sports_area_per_capita",
}


@cache
def _builtin() -> dict[str, Any]:
    text = resources.files("service_circle").joinpath("data/targets.toml").read_text("utf-8")
    return tomllib.loads(text)


def _read(path: str | os.PathLike | None) -> tuple[dict[str, Any], str]:
    if path is None:
        return _builtin(), "built-in targets"
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"targets file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"targets {path} is not valid TOML: {exc}") from None


def preset_names(path: str | os.PathLike | None = None) -> list[str]:
    """The target presets of the built-in file or ``path``."""
    return list(_read(path)[0].get("preset", {}))


def load_targets(
    preset: str | None = None, path: str | os.PathLike | None = None
) -> dict[str, Any]:
    """A preset of targets: indicator key → target, plus ``name``, ``label``, ``source``.

    ``preset`` ``None`` is :data:`DEFAULT_TARGETS`. Former indicator keys of a user file
    (:data:`RENAMED`) are read under their new names.
    """
    data, source = _read(path)
    presets = data.get("preset", {})
    preset = preset or DEFAULT_TARGETS
    if preset not in presets:
        raise InputError(f"targets {source} have no preset {preset!r}: use {', '.join(presets)}")
    targets: dict[str, Any] = {"name": preset}
    for key, value in presets[preset].items():
        if key in _META:
            targets[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"targets {source}, preset {preset!r}: {key} must be a number")
        targets[RENAMED.get(key, key)] = float(value)
    targets.setdefault("label", preset)
    targets.setdefault("label_zh", targets["label"])
    targets.setdefault("source", source)
    targets.setdefault("source_zh", targets["source"])
    return targets


def _inside(where: object, lon: float, lat: float) -> bool:
    if not (isinstance(where, list) and len(where) == 4):
        return False
    x0, y0, x1, y1 = (float(v) for v in where)
    return x0 <= lon <= x1 and y0 <= lat <= y1


def _preset_at(section: str, default: str, lon: float | None, lat: float | None) -> str:
    """The first preset of ``section`` whose ``where`` holds the place, else ``default``."""
    if lon is None or lat is None:
        return default
    for name, preset in _builtin().get(section, {}).items():
        if _inside(preset.get("where"), lon, lat):
            return name
    return default


def targets_for(lon: float | None, lat: float | None) -> str:
    """The target preset governing a place (:data:`DEFAULT_TARGETS` outside every one)."""
    return _preset_at("preset", DEFAULT_TARGETS, lon, lat)


def age_share_presets() -> list[str]:
    """The names of the built-in age-share presets."""
    return list(_builtin().get("age_shares", {}))


def age_shares(preset: str | None = None) -> dict[str, Any]:
    """An age-share preset: ``pop_60plus`` … as fractions, plus ``name``, ``label``, ``source``."""
    presets = _builtin().get("age_shares", {})
    preset = preset or DEFAULT_AGE_SHARES
    if preset not in presets:
        raise InputError(f"no age-share preset {preset!r}: use {', '.join(presets)}")
    out = {"name": preset, **{k: v for k, v in presets[preset].items() if k != "where"}}
    out.setdefault("label_zh", out.get("label", preset))
    return out


def age_shares_for(lon: float | None, lat: float | None) -> str:
    """The age-share preset of a place (:data:`DEFAULT_AGE_SHARES` outside every one)."""
    return _preset_at("age_shares", DEFAULT_AGE_SHARES, lon, lat)


def shares_only(preset: dict[str, Any]) -> dict[str, float]:
    """The ``pop_*`` fractions of an age-share preset."""
    return {k: float(v) for k, v in preset.items() if k.startswith("pop_")}
