"""Coverage tables: who can walk to a category within a threshold, and why the rest cannot.

All functions read a :class:`~service_circle.study.Study`; its searches are cached, so a
table over many categories and thresholds runs one search per category and cost model.
Isochrones, gaps, completeness, neighbourhoods and a point's reach have modules of their
own (:mod:`.isochrones`, :mod:`.gaps`, :mod:`.completeness`, :mod:`.neighbourhood`,
:mod:`.reach`); their former names here are kept for one release.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from service_circle import _deadline
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.snapping import Snapped
from service_circle.study import Study

logger = logging.getLogger(__name__)

# the former home of these names (kept for one release): name → new module
_MOVED = {
    "isochrones": "isochrones",
    "isochrone_areas": "isochrones",
    "gaps": "gaps",
    "completeness": "completeness",
    "completeness_summary": "completeness",
    "neighbourhood": "neighbourhood",
    "inside": "neighbourhood",
    "area_of_interest": "neighbourhood",
    "reach": "reach",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = f"service_circle.{_MOVED[name]}"
        warnings.warn(
            f"service_circle.coverage.{name} moved to {module}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        from importlib import import_module

        return getattr(import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def coverage_table(
    study: Study,
    thresholds: Sequence[Threshold],
    *,
    categories: Sequence[str] | None = None,
    profile: str | Profile | None = None,
    mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Population covered per category and threshold, for everyone and the group served.

    Every resident is counted: the shares are over all of them, and those not covered are
    split by the reason, as residents (not homes):

    - ``beyond_threshold``: a facility can be reached, but not within the threshold;
    - ``unreachable``: on a piece of the network from which no facility of the category
      can be reached (or the category has none);
    - ``off_network``, ``blocked``, ``no_geometry``: not placed on the network (farther
      than the snapping distance from every street, across water from all of them, or
      without a location).

    Columns: ``category``, ``name_zh``, ``name_en``, ``threshold``, ``unit``, ``profile``,
    ``facilities``, ``population``, ``covered``, ``share``, ``group``, ``group_column``,
    ``group_population``, ``group_covered``, ``group_share``, then the five reasons.
    ``covered`` plus the five reasons is ``population``. ``mask`` restricts the table to
    some demand points (a neighbourhood).
    """
    keys = list(categories) if categories else study.catalogue.keys()
    keep = np.ones(len(study.demand), dtype=bool) if mask is None else np.asarray(mask, bool)
    population = np.where(keep, study.demand["population"].to_numpy(np.float64), 0.0)
    placement = _placement_codes(study.demand_snap)  # the same for every search
    rows = []
    for key in keys:
        cat = study.catalogue[key]
        group_pop = np.where(keep, study.demand[cat.group_column].to_numpy(np.float64), 0.0)
        n_fac = int((study.facilities["category"] == key).sum())
        for threshold in thresholds:
            _deadline.check("the coverage table")
            cost = CostModel.for_threshold(threshold, profile)
            limit = cost.limit(threshold)
            result = study.search(key, cost)
            codes = _status_codes(result.point_cost, limit, placement)
            covered = codes == 0
            by_reason = np.bincount(codes, weights=population, minlength=len(STATUSES))
            rows.append(
                {
                    "category": key,
                    "name_zh": cat.name_zh,
                    "name_en": cat.name_en,
                    "threshold": threshold.value,
                    "unit": threshold.unit,
                    "profile": cost.name,
                    "facilities": n_fac,
                    "population": population.sum(),
                    "covered": population[covered].sum(),
                    "share": _share(population[covered].sum(), population.sum()),
                    "group": cat.group,
                    "group_column": cat.group_column,
                    "group_population": group_pop.sum(),
                    "group_covered": group_pop[covered].sum(),
                    "group_share": _share(group_pop[covered].sum(), group_pop.sum()),
                    **{r: float(by_reason[i]) for i, r in enumerate(STATUSES) if i},
                }
            )
    return pd.DataFrame(rows)


#: Why a resident is not covered, in the order tables list them.
UNCOVERED = ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry")


def resident_status(point_cost: np.ndarray, limit: float, points: Snapped) -> np.ndarray:
    """Per point: ``ok`` (within ``limit``) or the reason it is not covered.

    See :func:`coverage_table` for the reasons; ``points`` are the snapped points the costs
    belong to.
    """
    codes = _status_codes(point_cost, limit, _placement_codes(points))
    return np.asarray(STATUSES, dtype=object)[codes]


#: Every status a resident can have: covered first, then :data:`UNCOVERED`.
STATUSES = ("ok", *UNCOVERED)


def _placement_codes(points: Snapped) -> np.ndarray:
    """Per point: 0 when on the network, else the index of its snapping status in STATUSES."""
    placed = points.on_network
    codes = np.where(placed, 0, STATUSES.index("off_network"))
    for name in ("blocked", "no_geometry"):
        codes[~placed & (points.status == name)] = STATUSES.index(name)
    return codes


def _status_codes(point_cost: np.ndarray, limit: float, placement: np.ndarray) -> np.ndarray:
    """Per point: the index in STATUSES of its status under ``limit`` (integers: fast sums)."""
    codes = np.where(point_cost <= limit, 0, 1)
    codes[~np.isfinite(point_cost)] = 2
    return np.where(placement > 0, placement, codes)


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole > 0 else float("nan")


def demand_times(
    study: Study,
    *,
    categories: Sequence[str] | None = None,
    profile: str | Profile | None = None,
) -> pd.DataFrame:
    """Per demand point, the walking time in seconds to the nearest facility of each category.

    Columns: ``id``, ``population``, the age groups, then per category ``time_s_<category>``
    (NaN when no facility can be reached) and ``status_<category>``: ``ok`` (within the
    category's own minutes), ``beyond_threshold`` (reachable, farther), ``unreachable``
    (on a piece of the network from which no facility of the category can be reached),
    ``off_network``, ``blocked`` or ``no_geometry`` (not placed on the network); finally
    ``placement``, the point's snapping status.
    """
    cost = CostModel.walking(profile)
    keys = list(categories) if categories else study.catalogue.keys()
    out = pd.DataFrame(study.demand.drop(columns=study.demand.geometry.name))
    for key in keys:
        own = Threshold.minutes(study.catalogue[key].minutes)
        result = study.search(key, cost)
        times = result.point_cost
        out[f"time_s_{key}"] = np.where(np.isfinite(times), times, np.nan)
        out[f"status_{key}"] = resident_status(times, cost.limit(own), study.demand_snap)
    out["placement"] = study.demand_snap.status
    return out
