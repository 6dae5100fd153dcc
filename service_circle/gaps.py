"""Gaps: where the people live whom a category does not reach within a threshold.

:func:`gap_groups` works on arrays — the homes' positions and costs, a limit and their
population — and :func:`gaps` is the study adapter returning WGS-84 polygons.
"""

from __future__ import annotations

import logging
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from service_circle import _deadline
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.snapping import Snapped
from service_circle.study import Study

logger = logging.getLogger(__name__)

#: Radius around each uncovered home when grouping them into gap areas, metres.
DEFAULT_GAP_RADIUS_M = 60.0
#: Above this many uncovered homes, group them on a grid (see :mod:`._raster`).
RASTER_ABOVE = 4000

Method = Literal["auto", "vector", "raster"]


def gaps(
    study: Study,
    category: str,
    threshold: Threshold,
    *,
    profile: str | Profile | None = None,
    radius_m: float = DEFAULT_GAP_RADIUS_M,
    method: Method = "auto",
) -> gpd.GeoDataFrame:
    """The populated places beyond the threshold, grouped into contiguous areas.

    See :func:`gap_groups` for how homes are grouped. Sorted by population, largest
    first; covered + gap population = total.

    Columns: ``rank``, ``category``, ``threshold``, ``unit``, ``profile``, ``population``,
    the group column (e.g. ``pop_60plus``) as ``group_population``, ``homes``,
    ``nearest_time_s`` (or ``nearest_distance_m``; NaN when none can reach), and geometry.
    """
    cat = study.catalogue[category]
    cost = CostModel.for_threshold(threshold, profile)
    result = study.search(category, cost)
    limit = cost.limit(threshold)
    population = study.demand["population"].to_numpy(np.float64)
    group_pop = study.demand[cat.group_column].to_numpy(np.float64)
    cost_name = "nearest_" + cost.cost_column
    columns = ["rank", "category", "threshold", "unit", "profile", "population",
               "group_population", "homes", cost_name]  # fmt: skip
    groups = gap_groups(study.demand_snap, result.point_cost, limit, population,
                        radius_m=radius_m, method=method)  # fmt: skip
    if not groups:
        return gpd.GeoDataFrame(
            columns=[*columns, "geometry"], geometry="geometry", crs="EPSG:4326"
        )
    rows, geoms = [], []
    for members, area in groups:
        member_cost = result.point_cost[members]
        finite = member_cost[np.isfinite(member_cost)]
        rows.append(
            {
                "category": category,
                "threshold": threshold.value,
                "unit": threshold.unit,
                "profile": cost.name,
                "population": population[members].sum(),
                "group_population": group_pop[members].sum(),
                "homes": int(members.size),
                cost_name: float(finite.min()) if finite.size else np.nan,
            }
        )
        geoms.append(area)
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=study.network.crs)
    frame = frame.sort_values("population", ascending=False, kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.to_crs("EPSG:4326")


def gap_groups(
    points: Snapped,
    point_cost: np.ndarray,
    limit: float,
    population: np.ndarray,
    *,
    radius_m: float = DEFAULT_GAP_RADIUS_M,
    method: Method = "auto",
) -> list[tuple[np.ndarray, shapely.Geometry]]:
    """Homes beyond ``limit`` grouped into areas, in the points' (network's) CRS.

    Homes with people not covered (beyond the limit, unreachable, or off the network)
    within ``2 × radius_m`` of each other form one group; its area is the union of
    circles of ``radius_m`` around them, minus a metre around every covered home, so that
    no gap holds a covered home. Uncovered homes without a location form one group of
    their own, with an empty area (they count, somewhere unknown). ``"raster"`` groups on
    a grid, ``"auto"`` above :data:`RASTER_ABOVE` homes.

    Returns
    -------
    list of (members, area)
        Row indices of the homes of each group, and its (Multi)Polygon.
    """
    uncovered = np.flatnonzero(~(point_cost <= limit) & (population > 0))
    if uncovered.size == 0:
        return []
    located = np.isfinite(points.x)
    covered = np.flatnonzero((point_cost <= limit) & located)
    unlocated = uncovered[~located[uncovered]]
    uncovered = uncovered[located[uncovered]]
    groups: list[tuple[np.ndarray, shapely.Geometry]] = []
    if uncovered.size == 0:
        pass
    elif method == "raster" or (method == "auto" and uncovered.size > RASTER_ABOVE):
        from service_circle import _raster

        xy = np.column_stack([points.x, points.y])
        member, outlines = _raster.group_points(xy[uncovered], radius_m, xy[covered])
        order = np.argsort(member, kind="stable")  # each group's homes together
        keys, first = np.unique(member[order], return_index=True)
        groups = [(rows, outlines.get(int(g), shapely.MultiPolygon())) for g, rows in
                  zip(keys, np.split(uncovered[order], first[1:]), strict=True)]  # fmt: skip
    else:
        pts = shapely.points(points.x, points.y)
        groups = _vector_groups(pts, uncovered, pts[covered], radius_m)
    if unlocated.size:  # homes without a location count, in a gap that has no place
        groups.append((unlocated, shapely.MultiPolygon()))
    return groups


def _vector_groups(
    pts: np.ndarray, uncovered: np.ndarray, covered_pts: np.ndarray, radius_m: float
) -> list[tuple[np.ndarray, shapely.Geometry]]:
    """Uncovered homes within 2 × radius of each other, each group's circles dissolved."""
    mine = pts[uncovered]
    a, b = shapely.STRtree(mine).query(mine, predicate="dwithin", distance=2 * radius_m)
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(mine.size, mine.size))
    _, label = connected_components(graph, directed=False)
    covered_tree = shapely.STRtree(covered_pts)
    groups = []
    for g in range(label.max() + 1):
        _deadline.check("the gap polygons")
        members = uncovered[label == g]
        area = shapely.union_all(shapely.buffer(pts[members], radius_m))
        near = covered_tree.query(area, predicate="intersects")
        if near.size:  # cut a metre around each covered home out of the gap
            cut = shapely.union_all(shapely.buffer(covered_pts[near], 1.0))
            area = shapely.difference(area, cut)
        groups.append((members, area))
    return groups
