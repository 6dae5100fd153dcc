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

from collections.abc import Callable

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


def _value_set(value: object) -> frozenset[str]:
    """One tag value as the set of its values (``"a;b"`` or a list): empty if untagged."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset()
    if isinstance(value, list | tuple | set):
        return frozenset(str(v).strip() for v in value)
    return frozenset(part.strip() for part in str(value).split(";"))


def _by_combination(
    ways: pd.DataFrame, keys: tuple[str, ...], decide: Callable[..., bool]
) -> np.ndarray:
    """``decide(*value_sets)`` for each row, asked once per distinct combination of tags.

    Ways repeat a handful of tag values (``residential``, untagged …): the values are
    factorised per column, the rows grouped by their combination of codes, and only the
    combinations are decided — linear in the rows, in C.
    """
    n = len(ways)
    if n == 0:
        return np.zeros(0, dtype=bool)
    codes: list[np.ndarray] = []
    uniques: list[list[frozenset[str]]] = []
    for key in keys:
        if key not in ways.columns:
            codes.append(np.zeros(n, dtype=np.int64))
            uniques.append([frozenset()])
            continue
        values = ways[key].to_numpy(dtype=object)
        try:
            code, found = pd.factorize(values, use_na_sentinel=False)
        except TypeError:  # lists of values: hashable as tuples
            values = np.array([tuple(v) if isinstance(v, list | set) else v for v in values],
                              dtype=object)  # fmt: skip
            code, found = pd.factorize(values, use_na_sentinel=False)
        codes.append(code.astype(np.int64))
        uniques.append([_value_set(v) for v in found])
    combos, row_combo = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    decided = np.array([decide(*(uniques[k][c] for k, c in enumerate(combo))) for combo in combos],
                       dtype=bool)  # fmt: skip
    return decided[row_combo.ravel()]


def _walkable(
    highway: frozenset[str], foot: frozenset[str], access: frozenset[str],
    service: frozenset[str], area: frozenset[str],
) -> bool:  # fmt: skip
    if not highway or highway & EXCLUDED_HIGHWAY:
        return False
    if "cycleway" in highway and not foot & FOOT_ALLOWED:
        return False
    deciding = foot if foot else access
    if deciding & CLOSED:
        return False
    return not ("private" in service or "yes" in area)


def walkable_mask(ways: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``ways`` that are walkable.

    Parameters
    ----------
    ways
        One row per way or segment, with a ``highway`` column and optionally ``foot``,
        ``access``, ``service`` and ``area`` (missing columns count as untagged).
    """
    return _by_combination(ways, ("highway", "foot", "access", "service", "area"), _walkable)


def _drivable(
    highway: frozenset[str], access: frozenset[str], motor_vehicle: frozenset[str],
    motorcar: frozenset[str], area: frozenset[str],
) -> bool:  # fmt: skip
    if not highway or highway & NOT_DRIVABLE:
        return False
    if (access | motor_vehicle | motorcar) & CLOSED:
        return False
    return "yes" not in area


def drivable_mask(ways: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``ways`` that motor vehicles use (OSMnx's ``drive``).

    A way needs a ``highway`` tag not in :data:`NOT_DRIVABLE` (so no footway, path, track or
    service road), no ``access``/``motor_vehicle``/``motorcar`` of ``no`` or ``private``,
    and is not an area. Direction (``oneway``) is not kept: the network is undirected.
    """
    keys = ("highway", "access", "motor_vehicle", "motorcar", "area")
    return _by_combination(ways, keys, _drivable)
