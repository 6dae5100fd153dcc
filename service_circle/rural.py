"""The township circle by road: TD/T 1062's 乡集镇 tier, apart from the walking circle.

Villages lie far from a street grid, and their township services — the 乡镇卫生院, the
comprehensive elderly service centre — are reached by bus or motorbike, not on foot.
:func:`road_circle` measures them on the **drive** network of the same OSM file (OSMnx's
``drive`` rules, :func:`service_circle.network.load_network` with ``mode="drive"``) at a
road speed: each home walks to the nearest road, then rides. Each category is judged at
its catalogue ``road_minutes`` (30 for the township tier), or at the minutes given.

Every resident is counted: a home the drive network cannot bring to a facility (no road
within reach, or on a road piece without one) is ``unreachable``, reported, and not within.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle import _deadline
from service_circle._errors import InputError
from service_circle.cost import CostModel
from service_circle.plan import group_share, grouped_quantiles, weighted_median
from service_circle.study import Study
from service_circle.units import assign
from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

#: Default road speed, km/h: a rural bus or a motorbike on county and township roads (check).
DEFAULT_ROAD_SPEED_KMH = 30.0
#: How far a home may be from a drivable road and still be brought onto it, metres: a
#: village lane or a field track walked to the road.
ROAD_ACCESS_M = 1500.0


@dataclass(frozen=True)
class RoadCircle:
    """Township services by road, for the study and per unit.

    Attributes
    ----------
    speed_kmh
        The road speed.
    minutes
        Category key → the road minutes it is judged at.
    summary
        One row per category: ``category``, ``minutes``, ``facilities``, ``group``,
        ``people`` (the group), ``within``, ``share``, ``beyond`` (reachable, beyond the
        minutes), ``unreachable`` (no road within reach, or none to a facility), ``median_min``,
        ``village_people``, ``village_share`` (the homes in village units; NaN without).
    units
        One row per unit (``unit_code``, ``unit_name``, ``unit_kind``, ``people``) with
        ``<key>.share``, ``<key>.median_min`` and ``<key>.unreachable``; ``None`` without
        units.
    network
        Where the drive network came from, and its size.
    """

    speed_kmh: float
    minutes: dict[str, float]
    summary: pd.DataFrame
    units: pd.DataFrame | None
    network: str


def road_categories(study: Study) -> dict[str, float]:
    """The categories with a road circle in the catalogue and a facility in the study."""
    present = set(study.facilities["category"])
    return {c.key: float(c.road_minutes) for c in study.catalogue
            if c.road_minutes is not None and c.key in present}  # fmt: skip


def road_circle(
    study: Study,
    road_network: WalkNetwork,
    *,
    speed_kmh: float = DEFAULT_ROAD_SPEED_KMH,
    minutes: float | None = None,
    categories: Sequence[str] | None = None,
    units: gpd.GeoDataFrame | None = None,
    access_m: float = ROAD_ACCESS_M,
) -> RoadCircle:
    """Road minutes from every home to each township service, and who is within.

    Parameters
    ----------
    study
        The (walking) study: its homes and facilities are placed again on ``road_network``.
    road_network
        A drive network (``load_network(osm_file, mode="drive")``).
    speed_kmh
        The road speed (:meth:`CostModel.road`); the walk to the road at the adult speed.
    minutes
        One road threshold for every category (default: each one's ``road_minutes``).
    categories
        Category keys (default: :func:`road_categories`).
    units
        The planning units (default the study's): the per-unit table.
    access_m
        How far from a road a home may be and still reach it.

    Raises
    ------
    InputError
        If a category is not in the catalogue, or none has facilities to reach.
    """
    cost = CostModel.road(speed_kmh)
    if categories:
        keys = [study.catalogue[k].key for k in categories]
        default: dict[str, float | None] = {k: study.catalogue[k].road_minutes for k in keys}
    else:
        default = dict(road_categories(study))
        keys = list(default)
    if not keys:
        raise InputError(
            "no township service to reach by road: the study has no facility of a category "
            "with road_minutes (乡镇卫生院, 综合养老服务中心 …); add them, or name --category"
        )
    judged = {k: float(minutes if minutes is not None else default[k] or 30.0) for k in keys}
    fac = study.facilities[study.facilities["category"].isin(keys)]
    road = Study.build(
        road_network, fac, study.demand, name=f"{study.name} (road)",
        catalogue=study.catalogue.select(keys), max_access_m=access_m, sources=list(study.sources),
    )  # fmt: skip
    units = study.units if units is None else units
    n_units = len(units) if units is not None else 0
    demand = road.demand
    # each home's unit (n_units: outside every unit, or no units at all)
    where = assign(units, demand) if units is not None and n_units else np.full(len(demand), -1)
    slot = np.where(where >= 0, where, n_units)
    village_units = (np.flatnonzero(units["unit_kind"].to_numpy() == "village")
                     if units is not None and n_units else np.array([], dtype=int))  # fmt: skip
    village = np.isin(where, village_units)
    rows: list[dict[str, float | str | int]] = []
    per_unit: dict[str, np.ndarray] = {}
    for key in keys:
        _deadline.check("the road circle")
        result = road.search(key, cost)
        min_ = np.asarray(cost.to_minutes(result.point_cost), dtype=np.float64)
        group = demand[study.catalogue[key].group_column].to_numpy(np.float64)
        within = min_ <= judged[key]
        unreachable = ~np.isfinite(min_)
        people, near = float(group.sum()), float(group[within].sum())
        in_villages = float(group[village].sum())
        near_villages = float(group[village & within].sum())
        median = grouped_quantiles(min_, group, slot, n_units + 1, (0.5,))[0]
        rows.append({
            "category": key, "minutes": judged[key],
            "facilities": int((fac["category"] == key).sum()),
            "group": study.catalogue[key].group, "people": people, "within": near,
            "share": near / people if people > 0 else np.nan,
            "beyond": float(group[~within & ~unreachable].sum()),
            "unreachable": float(group[unreachable].sum()),
            "median_min": weighted_median(min_, group),
            "village_people": in_villages if village.any() else np.nan,
            "village_within": near_villages if village.any() else np.nan,
            "village_share": near_villages / in_villages if in_villages > 0 else np.nan,
        })  # fmt: skip
        per_unit[f"{key}.share"] = group_share(slot, group, within, n_units + 1)[:n_units]
        per_unit[f"{key}.median_min"] = np.where(np.isfinite(median[:n_units]),
                                                 median[:n_units], np.nan)  # fmt: skip
        per_unit[f"{key}.unreachable"] = np.bincount(
            slot, weights=group * unreachable, minlength=n_units + 1)[:n_units]  # fmt: skip
    unit_table = None
    if units is not None and n_units:
        people_in = np.bincount(slot, weights=demand["population"].to_numpy(np.float64),
                                minlength=n_units + 1)[:n_units]  # fmt: skip
        unit_table = pd.DataFrame({
            "unit_code": units["unit_code"].astype(str).to_numpy(),
            "unit_name": units["unit_name"].astype(str).to_numpy(),
            "unit_kind": units["unit_kind"].astype(str).to_numpy(),
            "people": people_in, **per_unit,
        })  # fmt: skip
    summary = pd.DataFrame(rows)
    logger.info("road circle at %g km/h: %s", speed_kmh, ", ".join(
        f"{r.category} {r.share:.0%} within {r.minutes:g} min"
        for r in summary.itertuples()))  # fmt: skip
    net = (f"{road_network.source} (drive: {road_network.n_edges:,} ways, "
           f"{road_network.total_length_m / 1000:,.1f} km)")  # fmt: skip
    return RoadCircle(float(speed_kmh), judged, summary, unit_table, net)
