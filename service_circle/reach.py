"""A point's reach: the area within a threshold of any point, and the facilities in it.

The point is placed on the study's streets like a facility, searched from, and its area
drawn by :func:`~service_circle.isochrones.isochrone_areas` — the same code as a
category's isochrones, on the point's own search.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely

from service_circle._errors import InputError
from service_circle.cost import CostModel, Threshold
from service_circle.isochrones import DEFAULT_FRONTAGE_M, isochrone_areas
from service_circle.profiles import Profile
from service_circle.search import nearest
from service_circle.snapping import snap
from service_circle.study import Study

logger = logging.getLogger(__name__)


def reach(
    study: Study,
    lon: float,
    lat: float,
    threshold: Threshold,
    *,
    crs: str = "wgs84",
    profile: str | Profile | None = None,
    frontage_m: float = DEFAULT_FRONTAGE_M,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The area within ``threshold`` of a point, and the facilities reachable from it.

    The point (WGS-84, GCJ-02 or BD-09) is placed on the study's network like a facility;
    the area is its isochrone (the reachable streets and the access legs of the homes
    reached), the facilities those within the threshold walking from the point, nearest
    first.

    Returns
    -------
    area : GeoDataFrame
        One row (WGS-84 MultiPolygon) with ``threshold``, ``unit``, ``profile``,
        ``area_km2``.
    facilities : GeoDataFrame
        The study's facilities within reach (WGS-84 points) with ``time_s`` (or
        ``distance_m``), sorted by it.

    Raises
    ------
    InputError
        If the point lies farther than the study's snapping distance from its streets, or
        across water from them.
    """
    from service_circle.coords import chinese_crs, convert

    system = chinese_crs(crs)
    if system is None:
        raise InputError(f"crs must be wgs84, gcj02 or bd09, got {crs!r}")
    x, y = convert(np.array([lon], float), np.array([lat], float), system)
    point = gpd.GeoDataFrame({"id": ["origin"]}, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    max_access_m = study.demand_snap.max_access_m
    where = (
        f"lon/lat: the point ({lon:g}, {lat:g}, {crs}) is farther than {max_access_m:g} m "
        f"from every street of study {study.name!r}"
    )
    try:
        origin = snap(study.network, point, max_access_m=max_access_m)
    except InputError:
        raise InputError(f"{where}; pick a point inside the study area") from None
    if not origin.on_network.all():
        raise InputError(f"{where} (or across water from them); pick a point inside the study area")
    cost = CostModel.for_threshold(threshold, profile)
    limit = cost.limit(threshold)
    # from the point: its streets and the homes reached, then the facilities in reach
    around = nearest(study.network, origin, study.demand_snap, cost=cost, limit=limit,
                     direction="from_facility")  # fmt: skip
    (area,), _ = isochrone_areas(study.network, around, [limit], frontage_m=frontage_m)
    frame = gpd.GeoDataFrame(
        {
            "threshold": [threshold.value],
            "unit": [threshold.unit],
            "profile": [cost.name],
            "area_km2": [round(float(shapely.area(area)) / 1e6, 4)],
        },
        geometry=[area],
        crs=study.network.crs,
    ).to_crs("EPSG:4326")
    result = nearest(study.network, origin, study.facility_snap, cost=cost, limit=limit,
                    direction="from_facility")  # fmt: skip
    within = np.flatnonzero(result.point_cost <= limit)
    facilities = study.facilities.iloc[within].copy()
    facilities[cost.cost_column] = result.point_cost[within]
    return frame, facilities.sort_values(cost.cost_column, kind="stable").reset_index(drop=True)
