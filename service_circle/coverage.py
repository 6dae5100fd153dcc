"""Coverage, isochrones and gaps: who can walk to a category within a threshold, and who not.

All functions read a :class:`~service_circle.study.Study`; its searches are cached, so a
table over many categories and thresholds runs one search per category and profile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
import shapely.ops
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from service_circle import _deadline
from service_circle._errors import InputError
from service_circle.engine import TravelTimes, _edge_costs
from service_circle.profiles import Profile, Threshold, get_profile
from service_circle.study import Study

logger = logging.getLogger(__name__)

#: Half-width of the street frontage drawn around reachable streets, metres.
DEFAULT_FRONTAGE_M = 25.0
#: Radius around each uncovered home when grouping them into gap areas, metres.
DEFAULT_GAP_RADIUS_M = 60.0
#: Holes in an isochrone smaller than this are filled (block interiors), square metres.
DEFAULT_FILL_HOLES_M2 = 10_000.0
#: Above this many pieces, dissolve on a grid (see :mod:`._raster`) instead of with GEOS.
RASTER_ABOVE = 4000

Method = Literal["auto", "vector", "raster"]


def _cost_of(
    study: Study, category: str, threshold: Threshold, profile
) -> tuple[TravelTimes, float]:
    found = study.search(category, threshold, profile)
    return found, threshold.cost_limit(get_profile(profile))


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
    prof = get_profile(profile)
    keys = list(categories) if categories else study.catalogue.keys()
    keep = np.ones(len(study.demand), dtype=bool) if mask is None else np.asarray(mask, bool)
    population = np.where(keep, study.demand["population"].to_numpy(np.float64), 0.0)
    rows = []
    for key in keys:
        cat = study.catalogue[key]
        group_pop = np.where(keep, study.demand[cat.group_column].to_numpy(np.float64), 0.0)
        n_fac = int((study.facilities["category"] == key).sum())
        for threshold in thresholds:
            _deadline.check("the coverage table")
            found, limit = _cost_of(study, key, threshold, prof)
            covered = found.point_cost <= limit
            reason = resident_status(study, found, limit)
            rows.append(
                {
                    "category": key,
                    "name_zh": cat.name_zh,
                    "name_en": cat.name_en,
                    "threshold": threshold.value,
                    "unit": threshold.unit,
                    "profile": prof.name if threshold.is_time else "distance",
                    "facilities": n_fac,
                    "population": population.sum(),
                    "covered": population[covered].sum(),
                    "share": _share(population[covered].sum(), population.sum()),
                    "group": cat.group,
                    "group_column": cat.group_column,
                    "group_population": group_pop.sum(),
                    "group_covered": group_pop[covered].sum(),
                    "group_share": _share(group_pop[covered].sum(), group_pop.sum()),
                    **{r: float(population[reason == r].sum()) for r in UNCOVERED},
                }
            )
    return pd.DataFrame(rows)


#: Why a resident is not covered, in the order tables list them.
UNCOVERED = ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry")


def resident_status(study: Study, found: TravelTimes, limit: float) -> np.ndarray:
    """Per demand point: ``ok`` (within ``limit``) or the reason it is not covered.

    See :func:`coverage_table` for the reasons.
    """
    snapped = study.demand_snap.status.astype(object)
    cost = found.point_cost
    out = np.where(cost <= limit, "ok", "beyond_threshold").astype(object)
    out[~np.isfinite(cost)] = "unreachable"
    placed = study.demand_snap.on_network
    out[~placed] = snapped[~placed]
    return out


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
    prof = get_profile(profile)
    keys = list(categories) if categories else study.catalogue.keys()
    out = pd.DataFrame(study.demand.drop(columns=study.demand.geometry.name))
    for key in keys:
        own = Threshold.minutes(study.catalogue[key].minutes)
        found = study.search(key, own, prof)
        cost = found.point_cost
        out[f"time_s_{key}"] = np.where(np.isfinite(cost), cost, np.nan)
        out[f"status_{key}"] = resident_status(study, found, own.cost_limit(prof))
    out["placement"] = study.demand_snap.status
    return out


# ---------------------------------------------------------------------- isochrones
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
    """The area within each threshold of the category's facilities (WGS-84 multipolygons).

    Built from the reachable network — whole edges plus the reachable parts of partial
    edges, on both sides of each facility along its own edge — and the access legs of the
    demand points reached, buffered by ``frontage_m`` and dissolved. No convex hulls.
    Holes smaller than ``fill_holes_m2`` (block interiors ringed by reachable streets) are
    filled; ``0`` keeps every hole.

    ``method="vector"`` dissolves with GEOS (exact buffers), one threshold at a time.
    ``"raster"`` samples the reachable streets and legs with the cost of reaching a
    facility from each sample, burns them into a grid of ``frontage_m / 3.5`` cells and gives
    every cell the least cost within ``frontage_m`` (one disc minimum filter for all
    thresholds); each threshold's area is then traced from the same grid. Outlines
    follow the cells (a few metres). ``"auto"`` picks the raster
    above :data:`RASTER_ABOVE` reachable edges and legs.

    Columns: ``category``, ``threshold``, ``unit``, ``profile``, ``area_km2``, ``method``.
    """
    prof = get_profile(profile)
    net = study.network
    rows: dict[int, dict] = {}
    geoms: dict[int, shapely.Geometry] = {}
    for is_time in (True, False):
        group = sorted(
            (i for i, t in enumerate(thresholds) if t.is_time == is_time),
            key=lambda i: thresholds[i].cost_limit(prof),
        )
        if not group:
            continue
        _deadline.check("the isochrones")
        found, top = _cost_of(study, category, thresholds[group[-1]], prof)
        limits = [thresholds[i].cost_limit(prof) for i in group]
        arc_cost = prof.arc_cost_s(net) if is_time else net.arc_length_m
        reach = _EdgeReach(study, found, arc_cost, top)
        pieces = int(reach.any.sum()) + int((found.point_cost <= top).sum())
        use_raster = method == "raster" or (method == "auto" and pieces > RASTER_ABOVE)
        if use_raster:
            areas = _raster_isochrones(study, found, reach, limits, frontage_m)
        else:
            areas = [
                _vector_isochrone(study, found, arc_cost, limit, frontage_m) for limit in limits
            ]
        for i, area in zip(group, areas, strict=True):
            area = _fill_holes(area, fill_holes_m2)
            threshold = thresholds[i]
            geoms[i] = area
            rows[i] = {
                "category": category,
                "threshold": threshold.value,
                "unit": threshold.unit,
                "profile": prof.name if threshold.is_time else "distance",
                "area_km2": round(float(shapely.area(area)) / 1e6, 4),
                "method": "raster" if use_raster else "vector",
            }
    order = range(len(thresholds))
    frame = gpd.GeoDataFrame(
        [rows[i] for i in order], geometry=[geoms[i] for i in order], crs=net.crs
    )
    return frame.to_crs("EPSG:4326")


def _vector_isochrone(
    study: Study, found: TravelTimes, arc_cost: np.ndarray, limit: float, frontage_m: float
) -> shapely.MultiPolygon:
    lines = _reachable_lines(study, found, arc_cost, limit)
    legs = _reached_legs(study, found, limit)
    # a home close to its street is inside the street's buffer already (half the
    # frontage leaves room for the buffer's polygonal caps)
    parts = np.concatenate([lines, legs[shapely.length(legs) > frontage_m / 2]])
    if parts.size == 0:
        return shapely.MultiPolygon()
    # buffering each part and dissolving is ~60x faster than buffering one multiline
    return shapely.union_all(shapely.buffer(parts, frontage_m, quad_segs=2))


def _raster_isochrone_samples(
    study: Study, found: TravelTimes, reach: _EdgeReach, spacing_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the reachable streets and legs, with the cost to a facility from each."""
    net = study.network
    xy, edge, along = net.edge_samples(spacing_m)
    take = np.flatnonzero(reach.any[edge])
    xy, edge, along = xy[take], edge[take], along[take]
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
    legs = _reached_legs(study, found, reach.limit)
    if legs.size:
        leg_xy, leg = shapely.get_coordinates(
            shapely.segmentize(legs, spacing_m), return_index=True
        )
        leg_cost = found.point_cost[found.point_cost <= reach.limit][leg]
        xy, cost = np.concatenate([xy, leg_xy]), np.concatenate([cost, leg_cost])
    return xy, cost


def _raster_isochrones(
    study: Study, found: TravelTimes, reach: _EdgeReach, limits: list[float], frontage_m: float
) -> list[shapely.MultiPolygon]:
    from service_circle import _raster

    xy, cost = _raster_isochrone_samples(study, found, reach, frontage_m / 8)
    if cost.size == 0:
        return [shapely.MultiPolygon() for _ in limits]
    grid, near = _raster.least_cost(xy, cost, frontage_m)
    return [
        grid.outlines(near <= np.float32(limit)).get(1, shapely.MultiPolygon()) for limit in limits
    ]


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

    def __init__(self, study: Study, found: TravelTimes, arc_cost: np.ndarray, limit: float):
        net = study.network
        self.limit = limit
        forward, backward = _edge_costs(net, arc_cost)
        edges = np.arange(net.n_edges)
        self.cf, self.cb = forward[edges], backward[edges]
        length = net.edge_length_m
        self.du = found.node_cost[net.edge_u]
        self.dv = found.node_cost[net.edge_v]
        with np.errstate(invalid="ignore", divide="ignore"):
            # walking to u is backward along the edge; to v forward
            reach_u = np.where(self.cb > 0, (limit - self.du) / self.cb, np.inf) * length
            reach_v = np.where(self.cf > 0, (limit - self.dv) / self.cf, np.inf) * length
        self.reach_u = np.clip(np.nan_to_num(reach_u, nan=-1.0, neginf=-1.0), -1.0, length)
        self.reach_v = np.clip(np.nan_to_num(reach_v, nan=-1.0, neginf=-1.0), -1.0, length)
        ru, rv = self.reach_u, self.reach_v
        self.whole = (ru >= length) | (rv >= length) | (ru + rv >= length)
        self.any = self.whole | (ru > 0) | (rv > 0)
        fac = found.facilities
        on = np.flatnonzero(fac.on_network)
        speed = 1.0 if found.unit == "m" else found.profile.speed_m_s
        access = fac.access_m[on] / speed
        keep = access < limit
        self.fac_edge = fac.edge[on][keep]
        self.fac_pos = fac.pos_m[on][keep]
        self.fac_access = access[keep]
        self.any[self.fac_edge] = True


def _reachable_lines(
    study: Study, found: TravelTimes, arc_cost: np.ndarray, limit: float
) -> np.ndarray:
    """The parts of edges that reach a facility within ``limit``, as projected lines."""
    net = study.network
    reach = _EdgeReach(study, found, arc_cost, limit)
    length, whole = net.edge_length_m, reach.whole
    geoms = net.edge_geometries()
    out = [geoms[whole]]
    intervals: list[tuple[int, float, float]] = []
    for e in np.flatnonzero(~whole & (reach.reach_u > 0)):
        intervals.append((e, 0.0, reach.reach_u[e]))
    for e in np.flatnonzero(~whole & (reach.reach_v > 0)):
        intervals.append((e, length[e] - reach.reach_v[e], length[e]))
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


def _reached_legs(study: Study, found: TravelTimes, limit: float) -> np.ndarray:
    """Access legs (point → street) of the demand points reached within ``limit``."""
    reached = np.flatnonzero(found.point_cost <= limit)
    if reached.size == 0:
        return np.empty(0, dtype=object)
    s = study.demand_snap
    lines = study.network.edge_geometries()[s.edge[reached]]
    spots = shapely.line_interpolate_point(lines, s.pos_m[reached])
    start = np.column_stack([s.x[reached], s.y[reached]])
    return shapely.linestrings(np.stack([start, shapely.get_coordinates(spots)], axis=1))


# ---------------------------------------------------------------------- gaps
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

    Homes not covered (beyond the threshold, unreachable, or off the network) within
    ``2 × radius_m`` of each other form one gap; its polygon is the union of circles of
    ``radius_m`` around them, minus a metre around every covered home, so that no gap holds
    a covered home. Uncovered homes without a location form one gap of their own, with an
    empty geometry. Sorted by population, largest first; covered + gap population = total.

    Columns: ``rank``, ``category``, ``threshold``, ``unit``, ``profile``, ``population``,
    the group column (e.g. ``pop_60plus``) as ``group_population``, ``homes``,
    ``nearest_time_s`` (or ``nearest_distance_m``; NaN when none can reach), and geometry.
    """
    prof = get_profile(profile)
    cat = study.catalogue[category]
    found, limit = _cost_of(study, category, threshold, prof)
    population = study.demand["population"].to_numpy(np.float64)
    group_pop = study.demand[cat.group_column].to_numpy(np.float64)
    uncovered = np.flatnonzero(~(found.point_cost <= limit) & (population > 0))
    cost_name = "nearest_time_s" if threshold.is_time else "nearest_distance_m"
    columns = ["rank", "category", "threshold", "unit", "profile", "population",
               "group_population", "homes", cost_name]  # fmt: skip
    if uncovered.size == 0:
        return gpd.GeoDataFrame(
            columns=[*columns, "geometry"], geometry="geometry", crs="EPSG:4326"
        )
    snap = study.demand_snap
    pts = shapely.points(snap.x, snap.y)
    located = np.isfinite(snap.x)
    covered_pts = pts[np.flatnonzero((found.point_cost <= limit) & located)]
    unlocated = uncovered[~located[uncovered]]
    uncovered = uncovered[located[uncovered]]
    groups: list[tuple[np.ndarray, shapely.Geometry]] = []
    if uncovered.size == 0:
        pass
    elif method == "raster" or (method == "auto" and uncovered.size > RASTER_ABOVE):
        from service_circle import _raster

        member, outlines = _raster.group_points(
            shapely.get_coordinates(pts[uncovered]), radius_m, shapely.get_coordinates(covered_pts)
        )
        groups = [(uncovered[member == g], outlines.get(g, shapely.MultiPolygon()))
                  for g in np.unique(member)]  # fmt: skip
    else:
        groups = _vector_groups(pts, uncovered, covered_pts, radius_m)
    if unlocated.size:  # homes without a location count, in a gap that has no place
        groups.append((unlocated, shapely.MultiPolygon()))
    rows, geoms = [], []
    for members, area in groups:
        cost = found.point_cost[members]
        finite = cost[np.isfinite(cost)]
        rows.append(
            {
                "category": category,
                "threshold": threshold.value,
                "unit": threshold.unit,
                "profile": prof.name if threshold.is_time else "distance",
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


# ---------------------------------------------------------------------- completeness
def completeness(
    study: Study,
    *,
    profile: str | Profile | None = None,
    scheme: str = "living_circle",
) -> pd.DataFrame:
    """Which required categories each home can reach, as a score and a list of what is missing.

    ``scheme="living_circle"`` requires every category of the catalogue within its own
    default minutes (GB 50180 tiers are cumulative: a home in a complete 5-minute circle
    also reaches the 10- and 15-minute facilities within 10 and 15 minutes);
    ``scheme="basic"`` requires MOFCOM's basic-guarantee categories. A category with no
    facility in the study is missing for everyone (缺配), as it is on the ground.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``population``, ``score`` (share of required categories reached),
        ``reached``, ``required`` and ``missing`` (category keys joined by ``,``).
    """
    if scheme not in ("living_circle", "basic"):
        raise InputError(f"scheme must be 'living_circle' or 'basic', got {scheme!r}")
    prof = get_profile(profile)
    cats = [c for c in study.catalogue if scheme == "living_circle" or c.basic_guarantee]
    n = len(study.demand)
    reached = np.zeros((n, len(cats)), dtype=bool)
    for j, cat in enumerate(cats):
        _deadline.check("the completeness table")
        threshold = Threshold.minutes(cat.minutes)
        found, limit = _cost_of(study, cat.key, threshold, prof)
        reached[:, j] = found.point_cost <= limit
    keys = np.array([c.key for c in cats], dtype=object)
    missing = [",".join(keys[~row]) for row in reached]
    return pd.DataFrame(
        {
            "id": study.demand["id"].to_numpy(),
            "population": study.demand["population"].to_numpy(),
            "score": reached.mean(axis=1) if cats else np.ones(n),
            "reached": reached.sum(axis=1),
            "required": len(cats),
            "missing": missing,
        }
    )


def completeness_summary(table: pd.DataFrame, mask: np.ndarray | None = None) -> dict:
    """Population-weighted score and, per category, the share of people missing it."""
    rows = table if mask is None else table[np.asarray(mask, bool)]
    pop = rows["population"].to_numpy(np.float64)
    total = pop.sum()
    lacking: dict[str, float] = {}
    for text, p in zip(rows["missing"], pop, strict=True):
        for key in filter(None, str(text).split(",")):
            lacking[key] = lacking.get(key, 0.0) + p
    return {
        "population": float(total),
        "score": float((rows["score"].to_numpy() * pop).sum() / total) if total else np.nan,
        "missing_share": {k: v / total for k, v in sorted(lacking.items(), key=lambda kv: -kv[1])}
        if total
        else {},
    }


# ---------------------------------------------------------------------- neighbourhoods
def area_of_interest(
    polygon,
    *,
    crs: str = "wgs84",
    within: tuple[float, float, float, float] | None = None,
) -> tuple[shapely.Geometry, str | None]:
    """A neighbourhood polygon in WGS-84, repaired when it is not valid.

    ``polygon`` is a shapely Polygon/MultiPolygon or a GeoJSON mapping in WGS-84, GCJ-02
    or BD-09. With ``within`` (west, south, east, north in degrees), the polygon is first
    cut to that box, so that a drawing far larger than the study costs no more than the
    study. A polygon that is not valid (a ring crossing itself) is repaired
    (:func:`shapely.make_valid`, else by its structure) and only its areas kept; the note
    says what was done.

    Returns
    -------
    geometry, note
        The polygon (possibly empty: no area) and a note, or ``None`` when it was valid.

    Raises
    ------
    InputError
        If it is not a polygon, or cannot be repaired.
    """
    from service_circle.coords import chinese_crs, geometry_to_wgs84

    system = chinese_crs(crs)
    if system is None:
        raise InputError(f"neighbourhood crs must be wgs84, gcj02 or bd09, got {crs!r}")
    geom = shapely.geometry.shape(polygon) if isinstance(polygon, dict) else polygon
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        raise InputError("a neighbourhood must be a Polygon or MultiPolygon")
    if within is not None:
        # the Chinese offsets are under 1.5 km: half a degree of margin keeps the whole study
        west, south, east, north = within
        geom = shapely.clip_by_rect(geom, west - 0.5, south - 0.5, east + 0.5, north + 0.5)
    note = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        parts = [p for p in shapely.get_parts(_repaired(geom)) if isinstance(p, shapely.Polygon)]
        geom = shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()
        note = f"the polygon was not valid ({reason}): repaired, keeping its areas"
        if geom.is_empty:
            note = f"the polygon was not valid ({reason}) and has no area: it holds no home"
        logger.warning("neighbourhood: %s", note)
    return geometry_to_wgs84(geom, system), note


def _repaired(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` made valid: by its lines, else by its structure (GEOS can refuse either)."""
    for options in ({}, {"method": "structure", "keep_collapsed": False}):
        try:
            return shapely.make_valid(geom, **options)
        except shapely.errors.GEOSException:
            continue
    raise InputError(
        "the neighbourhood polygon is not valid and cannot be repaired (its rings cross "
        "themselves too often): draw it again"
    )


def inside(study: Study, polygon, *, crs: str = "wgs84") -> np.ndarray:
    """Mask of the demand points inside a polygon given in WGS-84, GCJ-02 or BD-09.

    An invalid polygon is repaired first (see :func:`area_of_interest`).
    """
    geom, _ = area_of_interest(polygon, crs=crs)
    points = study.demand.geometry.to_numpy()
    if geom.is_empty:
        return np.zeros(points.size, dtype=bool)
    return shapely.contains(geom, points) | shapely.touches(geom, points)


def neighbourhood(
    study: Study,
    polygon,
    thresholds: Sequence[Threshold],
    *,
    crs: str = "wgs84",
    categories: Sequence[str] | None = None,
    profile: str | Profile | None = None,
) -> dict:
    """The coverage summary inside a neighbourhood (a community boundary).

    Returns a dict with ``population`` and ``homes`` inside, the coverage table restricted to
    them (``coverage``, a DataFrame), the living-circle and basic-guarantee completeness
    (``completeness``, ``basic``: score and per-category share missing) and ``note``: what
    was done to an invalid polygon (``None`` when it was valid).
    """
    points = study.demand.geometry.to_numpy()
    bounds = study.demand.total_bounds if len(points) else None
    within = tuple(float(v) for v in bounds) if bounds is not None else None
    geom, note = area_of_interest(polygon, crs=crs, within=within)
    mask = (
        np.zeros(points.size, dtype=bool)
        if geom.is_empty
        else shapely.contains(geom, points) | shapely.touches(geom, points)
    )
    table = coverage_table(study, thresholds, categories=categories, profile=profile, mask=mask)
    return {
        "homes": int(mask.sum()),
        "population": float(study.demand["population"].to_numpy()[mask].sum()),
        "coverage": table,
        "completeness": completeness_summary(completeness(study, profile=profile), mask),
        "basic": completeness_summary(completeness(study, profile=profile, scheme="basic"), mask),
        "note": note,
    }


# ---------------------------------------------------------------------- a point's reach
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
    the area is its isochrone (see :func:`isochrones`), the facilities those within the
    threshold walking from the point, nearest first.

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
    import dataclasses

    from service_circle.coords import chinese_crs, convert
    from service_circle.engine import snap, travel_times

    system = chinese_crs(crs)
    if system is None:
        raise InputError(f"crs must be wgs84, gcj02 or bd09, got {crs!r}")
    x, y = convert(np.array([lon], float), np.array([lat], float), system)
    point = gpd.GeoDataFrame({"id": ["origin"]}, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    where = (
        f"lon/lat: the point ({lon:g}, {lat:g}, {crs}) is farther than "
        f"{study.demand_snap.max_snap_m:g} m from every street of study {study.name!r}"
    )
    try:
        origin = snap(study.network, point, max_snap_m=study.demand_snap.max_snap_m)
    except InputError:
        raise InputError(f"{where}; pick a point inside the study area") from None
    if not origin.on_network.all():
        raise InputError(f"{where} (or across water from them); pick a point inside the study area")
    key = study.catalogue.keys()[0]  # a stand-in: the point is the only "facility"
    alone = dataclasses.replace(
        study,
        facilities=point.assign(category=key),
        facility_snap=origin,
        _searches={},
    )
    area = isochrones(alone, key, [threshold], profile=profile, frontage_m=frontage_m)
    area = area.drop(columns=["category", "method"])
    prof = get_profile(profile)
    limit = threshold.cost_limit(prof)
    if threshold.is_time:
        found = travel_times(study.network, origin, study.facility_snap, profile=prof,
                             direction="from_facility")  # fmt: skip
        column = "time_s"
    else:
        from service_circle.engine import network_distances

        found = network_distances(study.network, origin, study.facility_snap)
        column = "distance_m"
    within = np.flatnonzero(found.point_cost <= limit)
    facilities = study.facilities.iloc[within].copy()
    facilities[column] = found.point_cost[within]
    return area, facilities.sort_values(column, kind="stable").reset_index(drop=True)
