"""Isochrones: the area within a threshold of a category's facilities, from the streets.

:func:`isochrone_areas` works on arrays — a network, a search result, limits in the
search's unit — so that any search (a category's facilities, or one point's reach) draws
its area the same way; :func:`isochrones` is the study adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops

from service_circle import _deadline
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.search import SearchResult, edge_costs
from service_circle.study import Study
from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

#: Half-width of the street frontage drawn around reachable streets, metres.
DEFAULT_FRONTAGE_M = 25.0
#: Holes in an isochrone smaller than this are filled (block interiors), square metres.
DEFAULT_FILL_HOLES_M2 = 10_000.0
#: Above this many pieces, dissolve on a grid (see :mod:`._raster`) instead of with GEOS.
RASTER_ABOVE = 4000

Method = Literal["auto", "vector", "raster"]


def isochrones(
    study: Study,
    category: str,
    thresholds: Sequence[Threshold],
    *,
    profile: str | Profile | None = None,
    frontage_m: float = DEFAULT_FRONTAGE_M,
    fill_holes_m2: float = DEFAULT_FILL_HOLES_M2,
    method: Method = "auto",
) -> gpd.GeoDataFrame:
    """The area within each threshold of a category's facilities (WGS-84 multipolygons).

    See :func:`isochrone_areas` for how the areas are drawn. Columns: ``category``,
    ``threshold``, ``unit``, ``profile``, ``area_km2``, ``method``.
    """
    rows: dict[int, dict] = {}
    geoms: dict[int, shapely.Geometry] = {}
    for is_time in (True, False):
        group = [i for i, t in enumerate(thresholds) if t.is_time == is_time]
        if not group:
            continue
        _deadline.check("the isochrones")
        cost = CostModel.for_threshold(thresholds[group[0]], profile)
        result = study.search(category, cost)
        limits = [cost.limit(thresholds[i]) for i in group]
        areas, used = isochrone_areas(
            study.network, result, limits, frontage_m=frontage_m, fill_holes_m2=fill_holes_m2,
            method=method,
        )  # fmt: skip
        for i, area in zip(group, areas, strict=True):
            threshold = thresholds[i]
            geoms[i] = area
            rows[i] = {
                "category": category,
                "threshold": threshold.value,
                "unit": threshold.unit,
                "profile": cost.name,
                "area_km2": round(float(shapely.area(area)) / 1e6, 4),
                "method": used,
            }
    order = range(len(thresholds))
    frame = gpd.GeoDataFrame(
        [rows[i] for i in order], geometry=[geoms[i] for i in order], crs=study.network.crs
    )
    return frame.to_crs("EPSG:4326")


def isochrone_areas(
    net: WalkNetwork,
    result: SearchResult,
    limits: Sequence[float],
    *,
    frontage_m: float = DEFAULT_FRONTAGE_M,
    fill_holes_m2: float = DEFAULT_FILL_HOLES_M2,
    method: Method = "auto",
) -> tuple[list[shapely.MultiPolygon], str]:
    """The area within each limit of a search's facilities, in the network's CRS.

    Built from the reachable network — whole edges plus the reachable parts of partial
    edges, on both sides of each facility along its own edge — and the access legs of the
    search's points reached (if it had points), buffered by ``frontage_m`` and dissolved.
    No convex hulls. Holes smaller than ``fill_holes_m2`` (block interiors ringed by
    reachable streets) are filled; ``0`` keeps every hole.

    ``method="vector"`` dissolves with GEOS (exact buffers), one limit at a time.
    ``"raster"`` samples the reachable streets and legs with the cost of reaching a
    facility from each sample, burns them into a grid of ``frontage_m / 3.5`` cells and
    gives every cell the least cost within ``frontage_m`` (one disc minimum filter for all
    limits); each limit's area is then traced from the same grid. Outlines follow the cells
    (a few metres). ``"auto"`` picks the raster above :data:`RASTER_ABOVE` reachable edges
    and legs.

    Parameters
    ----------
    net
        The network searched.
    result
        The search (its facilities are the origins; its points give access legs).
    limits
        Limits in the search's cost unit.
    frontage_m
        Half-width of the strip drawn along reachable streets and legs, metres.
    fill_holes_m2
        Holes smaller than this are filled (``0`` keeps them).
    method
        ``"auto"``, ``"vector"`` or ``"raster"`` (see above).

    Returns
    -------
    areas, method
        One MultiPolygon per limit (in ``limits`` order) and the method used.
    """
    if not limits:
        return [], "vector"
    top = max(limits)
    reach = _EdgeReach(net, result, top)
    reached_points = int((result.point_cost <= top).sum()) if result.points is not None else 0
    pieces = int(reach.any.sum()) + reached_points
    use_raster = method == "raster" or (method == "auto" and pieces > RASTER_ABOVE)
    if use_raster:  # small holes dropped as the outlines are traced
        return _raster_isochrones(net, result, reach, list(limits), frontage_m,
                                  fill_holes_m2), "raster"  # fmt: skip
    areas = [_vector_isochrone(net, result, limit, frontage_m) for limit in limits]
    return [_fill_holes(a, fill_holes_m2) for a in areas], "vector"


def _vector_isochrone(
    net: WalkNetwork, result: SearchResult, limit: float, frontage_m: float
) -> shapely.MultiPolygon:
    lines = _reachable_lines(net, result, limit)
    legs = _reached_legs(net, result, limit)
    # a home close to its street is inside the street's buffer already (half the
    # frontage leaves room for the buffer's polygonal caps)
    parts = np.concatenate([lines, legs[shapely.length(legs) > frontage_m / 2]])
    if parts.size == 0:
        return shapely.MultiPolygon()
    # buffering each part and dissolving is ~60x faster than buffering one multiline
    return shapely.union_all(shapely.buffer(parts, frontage_m, quad_segs=2))


def _raster_isochrone_samples(
    net: WalkNetwork, result: SearchResult, reach: _EdgeReach, spacing_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the reachable streets and legs, with the cost to a facility from each."""
    xy, edge, along = net.edge_samples(spacing_m, np.flatnonzero(reach.any))
    length = net.edge_length_m[edge]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(length > 0, along / length, 0.0)
    cost = np.fmin(
        reach.du[edge] + frac * reach.cb[edge], reach.dv[edge] + (1 - frac) * reach.cf[edge]
    )
    # along the facility's own edge, from the facility towards both ends
    first = np.searchsorted(edge, reach.fac_edge, side="left")
    last = np.searchsorted(edge, reach.fac_edge, side="right")
    for e, pos, budget_used, a, b in zip(
        reach.fac_edge, reach.fac_pos, reach.fac_access, first, last, strict=True
    ):
        s = along[a:b]
        walk = np.where(s < pos, (pos - s) * reach.cf[e], (s - pos) * reach.cb[e])
        with np.errstate(invalid="ignore", divide="ignore"):
            walk = np.where(net.edge_length_m[e] > 0, walk / net.edge_length_m[e], 0.0)
        np.fmin(cost[a:b], budget_used + walk, out=cost[a:b])
    keep = cost <= reach.limit
    xy, cost = xy[keep], cost[keep]
    leg_xy, leg_cost = _leg_samples(net, result, reach.limit, spacing_m)
    return np.concatenate([xy, leg_xy]), np.concatenate([cost, leg_cost])


def _leg_samples(
    net: WalkNetwork, result: SearchResult, limit: float, spacing_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the access legs of the points reached within ``limit``.

    At most ``spacing_m`` apart, ends included, each with its point's cost: the lines of
    :func:`_reached_legs` as arrays, without building them.
    """
    reached, start, spot = _leg_ends(net, result, limit)
    if reached.size == 0:
        return np.empty((0, 2)), np.empty(0)
    delta = spot - start
    steps = np.maximum(1, np.ceil(np.hypot(delta[:, 0], delta[:, 1]) / spacing_m)).astype(int)
    leg = np.repeat(np.arange(reached.size), steps + 1)
    t = np.arange(leg.size) - np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    t = t / steps[leg]
    return start[leg] + delta[leg] * t[:, None], result.point_cost[reached][leg]


def _raster_isochrones(
    net: WalkNetwork, result: SearchResult, reach: _EdgeReach, limits: list[float],
    frontage_m: float, fill_holes_m2: float,
) -> list[shapely.MultiPolygon]:  # fmt: skip
    from service_circle import _raster

    # samples 0.7 cells apart (cells are frontage / 3.5): no cell along a street is skipped
    xy, cost = _raster_isochrone_samples(net, result, reach, frontage_m / 5)
    parts: list[list[shapely.Polygon]] = [[] for _ in limits]
    # groups of streets too far apart to touch are drawn on grids of their own: the work
    # follows the area reached, not the extent of the facilities
    for group in _raster.clusters(xy, 2 * frontage_m + 4 * frontage_m / 3.5):
        grid, near = _raster.least_cost(xy[group], cost[group], frontage_m)
        for k, limit in enumerate(limits):
            # block interiors dropped as the rings come out of the tracer, before any
            # polygon is built: the same rule as the vector path's, on the traced areas
            outline = grid.outlines(near <= np.float32(limit), min_hole_m2=fill_holes_m2)
            if 1 in outline:
                parts[k].extend(shapely.get_parts(outline[1]))
    return [shapely.MultiPolygon(part) for part in parts]


def _fill_holes(area: shapely.Geometry, min_area_m2: float) -> shapely.MultiPolygon:
    """``area`` as a MultiPolygon without its holes smaller than ``min_area_m2``."""
    parts = shapely.get_parts(area)
    if min_area_m2 <= 0 or parts.size == 0:
        return shapely.MultiPolygon(list(parts))
    rings, index = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, index[1:] != index[:-1]]
    keep = shell | (shapely.area(shapely.polygons(rings)) >= min_area_m2)
    return shapely.MultiPolygon(list(shapely.polygons(rings[keep], indices=index[keep])))


class _EdgeReach:
    """How far from each end every edge can be walked within ``limit`` to a facility.

    ``reach_u``/``reach_v``: metres from ``u``/``v`` within the limit (-1 if none);
    ``whole``: the whole edge is within it; ``any``: some of it is (facility edges too).
    ``fac_*``: facilities on the network with budget left, their edge, position and the
    cost of their access leg.
    """

    def __init__(self, net: WalkNetwork, result: SearchResult, limit: float):
        self.limit = limit
        forward, backward = edge_costs(net, result.cost)
        edges = np.arange(net.n_edges)
        # along an edge costs its share; arriving at an end may cost half a road crossing
        self.cf, self.cb = forward.body(edges), backward.body(edges)
        length = net.edge_length_m
        self.du = result.node_cost[net.edge_u] + backward.arriving(edges)
        self.dv = result.node_cost[net.edge_v] + forward.arriving(edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            # walking to u is backward along the edge; to v forward
            reach_u = np.where(self.cb > 0, (limit - self.du) / self.cb, np.inf) * length
            reach_v = np.where(self.cf > 0, (limit - self.dv) / self.cf, np.inf) * length
        self.reach_u = np.clip(np.nan_to_num(reach_u, nan=-1.0, neginf=-1.0), -1.0, length)
        self.reach_v = np.clip(np.nan_to_num(reach_v, nan=-1.0, neginf=-1.0), -1.0, length)
        ru, rv = self.reach_u, self.reach_v
        self.whole = (ru >= length) | (rv >= length) | (ru + rv >= length)
        self.any = self.whole | (ru > 0) | (rv > 0)
        fac = result.facilities
        on = np.flatnonzero(fac.on_network)
        access = result.cost.access_costs(fac.access_m[on])
        keep = access < limit
        self.fac_edge = fac.edge[on][keep]
        self.fac_pos = fac.pos_m[on][keep]
        self.fac_access = access[keep]
        self.any[self.fac_edge] = True


def _reachable_lines(net: WalkNetwork, result: SearchResult, limit: float) -> np.ndarray:
    """The parts of edges that reach a facility within ``limit``, as projected lines."""
    reach = _EdgeReach(net, result, limit)
    length, whole = net.edge_length_m, reach.whole
    geoms = net.edge_geometries()
    out = [geoms[whole]]
    intervals: list[tuple[int, float, float]] = []
    for edge in np.flatnonzero(~whole & (reach.reach_u > 0)):
        intervals.append((int(edge), 0.0, float(reach.reach_u[edge])))
    for edge in np.flatnonzero(~whole & (reach.reach_v > 0)):
        intervals.append(
            (int(edge), float(length[edge] - reach.reach_v[edge]), float(length[edge]))
        )
    # along the facility's own edge, towards both ends
    e, pos = reach.fac_edge, reach.fac_pos
    budget = limit - reach.fac_access
    keep = ~whole[e]
    e, pos, budget = e[keep], pos[keep], budget[keep]
    cf_e, cb_e = reach.cf[e], reach.cb[e]
    # a home before the facility walks forward to it, one after it walks backward
    with np.errstate(divide="ignore", invalid="ignore"):
        back = np.where(cf_e > 0, budget / cf_e * length[e], length[e])
        ahead = np.where(cb_e > 0, budget / cb_e * length[e], length[e])
    starts = np.maximum(0.0, pos - back)
    ends = np.minimum(length[e], pos + ahead)
    intervals.extend(zip(e.tolist(), starts.tolist(), ends.tolist(), strict=True))
    if intervals:
        out.append(
            np.array(
                [shapely.ops.substring(geoms[e], a, b) for e, a, b in intervals if b > a],
                dtype=object,
            )
        )
    return np.concatenate(out) if out else np.empty(0, dtype=object)


def _reached_legs(net: WalkNetwork, result: SearchResult, limit: float) -> np.ndarray:
    """Access legs (point → street) of the search's points reached within ``limit``."""
    reached, start, spot = _leg_ends(net, result, limit)
    if reached.size == 0:
        return np.empty(0, dtype=object)
    return shapely.linestrings(np.stack([start, spot], axis=1))


def _leg_ends(
    net: WalkNetwork, result: SearchResult, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The search's points reached within ``limit``: their rows, places and street spots."""
    if result.points is None:
        return np.empty(0, dtype=np.int64), np.empty((0, 2)), np.empty((0, 2))
    reached = np.flatnonzero(result.point_cost <= limit)
    s = result.points
    start = np.column_stack([s.x[reached], s.y[reached]])
    return reached, start, net.edge_points(s.edge[reached], s.pos_m[reached])
