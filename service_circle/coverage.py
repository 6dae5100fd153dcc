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

from service_circle._errors import InputError
from service_circle.engine import TravelTimes, _edge_costs
from service_circle.profiles import Profile, Threshold, get_profile
from service_circle.study import Study

logger = logging.getLogger(__name__)

#: Half-width of the street frontage drawn around reachable streets, metres.
DEFAULT_FRONTAGE_M = 25.0
#: Radius around each uncovered home when grouping them into gap areas, metres.
DEFAULT_GAP_RADIUS_M = 60.0
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

    Columns: ``category``, ``name_zh``, ``name_en``, ``threshold``, ``unit``, ``profile``,
    ``facilities``, ``population``, ``covered``, ``share``, ``group``, ``group_column``,
    ``group_population``, ``group_covered``, ``group_share``. Demand points off the network
    or unreachable count as not covered. ``mask`` restricts the table to some demand points
    (a neighbourhood).
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
            found, limit = _cost_of(study, key, threshold, prof)
            covered = found.point_cost <= limit
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
                }
            )
    return pd.DataFrame(rows)


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole > 0 else float("nan")


def demand_times(
    study: Study,
    *,
    categories: Sequence[str] | None = None,
    profile: str | Profile | None = None,
) -> pd.DataFrame:
    """Per demand point, the walking time in seconds to the nearest facility of each category.

    Columns: ``id``, ``population``, the age groups, then ``time_s_<category>`` (NaN when
    unreachable or off-network) and ``status`` of the point's snapping.
    """
    keys = list(categories) if categories else study.catalogue.keys()
    out = pd.DataFrame(study.demand.drop(columns=study.demand.geometry.name))
    for key in keys:
        found = study.search(key, Threshold.minutes(1), profile)
        cost = found.point_cost
        out[f"time_s_{key}"] = np.where(np.isfinite(cost), cost, np.nan)
    out["status"] = study.demand_snap.status
    return out


# ---------------------------------------------------------------------- isochrones
def isochrones(
    study: Study,
    category: str,
    thresholds: Sequence[Threshold],
    *,
    profile: str | Profile | None = None,
    frontage_m: float = DEFAULT_FRONTAGE_M,
    method: Method = "auto",
) -> gpd.GeoDataFrame:
    """The area within each threshold of the category's facilities (WGS-84 multipolygons).

    Built from the reachable network — whole edges plus the reachable parts of partial
    edges, on both sides of each facility along its own edge — and the access legs of the
    demand points reached, buffered by ``frontage_m`` and dissolved. No convex hulls.

    ``method="vector"`` dissolves with GEOS (exact buffers); ``"raster"`` burns the parts
    into a grid of ``frontage_m / 4`` cells and traces the outline (seconds instead of
    minutes on city-sized studies; outlines follow the cells); ``"auto"`` picks the raster
    above :data:`RASTER_ABOVE` pieces.

    Columns: ``category``, ``threshold``, ``unit``, ``profile``, ``area_km2``, ``method``.
    """
    from service_circle import _raster

    prof = get_profile(profile)
    net = study.network
    rows, geoms = [], []
    for threshold in thresholds:
        found, limit = _cost_of(study, category, threshold, prof)
        arc_cost = prof.arc_cost_s(net) if threshold.is_time else net.arc_length_m
        lines = _reachable_lines(study, found, arc_cost, limit)
        legs = _reached_legs(study, found, limit)
        # a home close to its street is inside the street's buffer already (half the
        # frontage leaves room for the buffer's polygonal caps)
        parts = np.concatenate([lines, legs[shapely.length(legs) > frontage_m / 2]])
        use_raster = method == "raster" or (method == "auto" and parts.size > RASTER_ABOVE)
        if parts.size == 0:
            area = shapely.MultiPolygon()
        elif use_raster:
            area = _raster.dissolve_lines(parts, frontage_m)
        else:
            # buffering each part and dissolving is ~60x faster than buffering one multiline
            area = shapely.union_all(shapely.buffer(parts, frontage_m, quad_segs=2))
        geoms.append(area if area.geom_type == "MultiPolygon" else shapely.MultiPolygon([area]))
        rows.append(
            {
                "category": category,
                "threshold": threshold.value,
                "unit": threshold.unit,
                "profile": prof.name if threshold.is_time else "distance",
                "area_km2": round(float(shapely.area(area)) / 1e6, 4),
                "method": "raster" if use_raster else "vector",
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=net.crs)
    return frame.to_crs("EPSG:4326")


def _reachable_lines(
    study: Study, found: TravelTimes, arc_cost: np.ndarray, limit: float
) -> np.ndarray:
    """The parts of edges that reach a facility within ``limit``, as projected lines."""
    net = study.network
    forward, backward = _edge_costs(net, arc_cost)
    edges = np.arange(net.n_edges)
    cf, cb = forward[edges], backward[edges]
    length = net.edge_length_m
    du = found.node_cost[net.edge_u]
    dv = found.node_cost[net.edge_v]
    with np.errstate(invalid="ignore", divide="ignore"):
        # walking to u is backward along the edge; to v forward
        reach_u = np.where(cb > 0, (limit - du) / cb, np.inf) * length  # metres from u
        reach_v = np.where(cf > 0, (limit - dv) / cf, np.inf) * length  # metres from v
    reach_u = np.clip(np.nan_to_num(reach_u, nan=-1.0, neginf=-1.0), -1.0, length)
    reach_v = np.clip(np.nan_to_num(reach_v, nan=-1.0, neginf=-1.0), -1.0, length)
    whole = (reach_u >= length) | (reach_v >= length) | (reach_u + reach_v >= length)
    geoms = net.edge_geometries()
    out = [geoms[whole]]
    intervals: list[tuple[int, float, float]] = []
    for e in np.flatnonzero(~whole & (reach_u > 0)):
        intervals.append((e, 0.0, reach_u[e]))
    for e in np.flatnonzero(~whole & (reach_v > 0)):
        intervals.append((e, length[e] - reach_v[e], length[e]))
    # along the facility's own edge, towards both ends
    fac = found.facilities
    on = np.flatnonzero(fac.on_network)
    if on.size:
        e, pos = fac.edge[on], fac.pos_m[on]
        speed = 1.0 if found.unit == "m" else found.profile.speed_m_s
        budget = limit - fac.access_m[on] / speed
        keep = (budget > 0) & ~whole[e]
        e, pos, budget = e[keep], pos[keep], budget[keep]
        cf_e, cb_e = forward[e], backward[e]
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
    a covered home. Sorted by population, largest first; covered + gap population = total.

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
    pts = study.demand.to_crs(study.network.crs).geometry.to_numpy()
    covered_pts = pts[np.flatnonzero(found.point_cost <= limit)]
    if method == "raster" or (method == "auto" and uncovered.size > RASTER_ABOVE):
        from service_circle import _raster

        member, outlines = _raster.group_points(
            shapely.get_coordinates(pts[uncovered]), radius_m, shapely.get_coordinates(covered_pts)
        )
        groups = [(uncovered[member == g], outlines.get(g, shapely.MultiPolygon()))
                  for g in np.unique(member)]  # fmt: skip
    else:
        groups = _vector_groups(pts, uncovered, covered_pts, radius_m)
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
def inside(study: Study, polygon, *, crs: str = "wgs84") -> np.ndarray:
    """Mask of the demand points inside a polygon given in WGS-84, GCJ-02 or BD-09."""
    from service_circle.coords import chinese_crs, geometry_to_wgs84

    system = chinese_crs(crs)
    if system is None:
        raise InputError(f"neighbourhood crs must be wgs84, gcj02 or bd09, got {crs!r}")
    geom = shapely.geometry.shape(polygon) if isinstance(polygon, dict) else polygon
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon) or geom.is_empty:
        raise InputError("a neighbourhood must be a Polygon or MultiPolygon")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InputError(f"the neighbourhood polygon is not valid: {reason}")
    geom = geometry_to_wgs84(geom, system)
    points = study.demand.geometry.to_numpy()
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
    them (``coverage``, a DataFrame) and the living-circle and basic-guarantee completeness
    (``completeness``, ``basic``: score and per-category share missing).
    """
    mask = inside(study, polygon, crs=crs)
    table = coverage_table(study, thresholds, categories=categories, profile=profile, mask=mask)
    return {
        "homes": int(mask.sum()),
        "population": float(study.demand["population"].to_numpy()[mask].sum()),
        "coverage": table,
        "completeness": completeness_summary(completeness(study, profile=profile), mask),
        "basic": completeness_summary(completeness(study, profile=profile, scheme="basic"), mask),
    }
