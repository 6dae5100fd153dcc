"""Which OSM ways people can walk on, or drive on: one rule for every OSM reader.

The rule follows OSMnx's ``walk`` filter, written out as tag values so that the PBF reader
(pyrosm), the XML reader (osmnx) and graphs handed in by users give the same network:

- a way needs a ``highway`` tag, and not one of :data:`EXCLUDED_HIGHWAY` (motorways and
  their links, ways that are not built, cycle-only ways, raceways …);
- ``cycleway`` is kept when ``foot`` allows walking (``yes``/``designated``/``permissive``);
- the most specific access tag decides: ``foot`` when present, else ``access``; the way is
  dropped when that tag is ``no`` or ``private`` (also as one of ``;``-separated values);
- ``service=private`` and ``area=yes`` (a plaza's outline is not a walking line) are dropped.

Trunk roads stay: in Chinese cities they often carry the only sidewalk. Unlike pyrosm,
streets tagged ``sidewalk=separate`` stay as well: they are where people cross.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EXCLUDED_HIGHWAY = frozenset(
    {
        # not (yet / any more) a physical way, or not part of the street network
        "abandoned",
        "construction",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "services",
        # closed to pedestrians
        "motor",
        "motorway",
        "motorway_link",
        "bus_guideway",
        "busway",
        "escape",
    }
)
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})
CLOSED = frozenset({"no", "private"})
TAG_COLUMNS = ("highway", "foot", "access", "service", "area", "motor_vehicle", "motorcar",
               "incline", "lanes", "oneway", "crossing", "step_count")  # fmt: skip
#: The grade taken for ``incline=up``/``down`` without a figure (check).
INCLINE_UP = 0.05


def incline_grade(value: object) -> float:
    """An OSM ``incline`` as a grade along the way: ``10%`` → 0.10, ``down`` → −0.05, ``5°``.

    NaN when it says no figure or direction (``yes``, a typo, nothing).

    Examples
    --------
    >>> incline_grade("10%"), incline_grade("-8 %"), incline_grade("down"), incline_grade("yes")
    (0.1, -0.08, -0.05, nan)
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    text = str(value).split(";")[0].strip().lower().replace(" ", "")
    if text == "up":
        return INCLINE_UP
    if text == "down":
        return -INCLINE_UP
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100
        if text.endswith("°"):
            return float(np.tan(np.radians(float(text[:-1]))))
    except ValueError:
        return float("nan")
    return float("nan")


def step_count(value: object) -> float:
    """An OSM ``step_count`` as a number of steps; NaN if it says none.

    Examples
    --------
    >>> step_count("12"), step_count("about 10")
    (12.0, nan)
    """
    try:
        count = float(str(value).split(";")[0].strip())
    except (TypeError, ValueError):
        return float("nan")
    return count if np.isfinite(count) and 0 < count < 10_000 else float("nan")


#: ``highway`` values no car, bus or motorbike uses (OSMnx's ``drive`` filter).
NOT_DRIVABLE = frozenset(
    {"abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway",
     "elevator", "escalator", "footway", "no", "path", "pedestrian", "planned", "platform",
     "proposed", "raceway", "razed", "service", "steps", "track", "busway", "crossing",
     "rest_area", "services"}
)  # fmt: skip


def _values(series: pd.Series) -> list[set[str]]:
    out: list[set[str]] = []
    for value in series.to_numpy(dtype=object):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(set())
        elif isinstance(value, list | tuple | set):
            out.append({str(v).strip() for v in value})
        else:
            out.append({part.strip() for part in str(value).split(";")})
    return out


def _tag_sets(ways: pd.DataFrame, keys: tuple[str, ...]) -> dict[str, list[set[str]]]:
    """Each tag of ``keys`` as one set of values per row (empty: untagged)."""
    empty: list[set[str]] = [set()] * len(ways)
    return {key: _values(ways[key]) if key in ways.columns else empty for key in keys}


def walkable_mask(ways: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``ways`` that are walkable.

    Parameters
    ----------
    ways
        One row per way or segment, with a ``highway`` column and optionally ``foot``,
        ``access``, ``service`` and ``area`` (missing columns count as untagged).
    """
    n, col = len(ways), _tag_sets(ways, ("highway", "foot", "access", "service", "area"))
    keep = np.zeros(n, dtype=bool)
    for i in range(n):
        highway = col["highway"][i]
        if not highway:
            continue
        foot = col["foot"][i]
        if highway & EXCLUDED_HIGHWAY:
            continue
        if "cycleway" in highway and not foot & FOOT_ALLOWED:
            continue
        deciding = foot if foot else col["access"][i]
        if deciding & CLOSED:
            continue
        if "private" in col["service"][i] or "yes" in col["area"][i]:
            continue
        keep[i] = True
    return keep


def drivable_mask(ways: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``ways`` that motor vehicles use (OSMnx's ``drive``).

    A way needs a ``highway`` tag not in :data:`NOT_DRIVABLE` (so no footway, path, track or
    service road), no ``access``/``motor_vehicle``/``motorcar`` of ``no`` or ``private``,
    and is not an area. Direction (``oneway``) is not kept: the network is undirected.
    """
    n = len(ways)
    col = _tag_sets(ways, ("highway", "access", "motor_vehicle", "motorcar", "area"))
    keep = np.zeros(n, dtype=bool)
    for i in range(n):
        highway = col["highway"][i]
        if not highway or highway & NOT_DRIVABLE:
            continue
        if (col["access"][i] | col["motor_vehicle"][i] | col["motorcar"][i]) & CLOSED:
            continue
        if "yes" in col["area"][i]:
            continue
        keep[i] = True
    return keep
