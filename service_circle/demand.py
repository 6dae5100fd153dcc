"""Demand: where people live and how many, by age group, as points.

Every reader returns points (WGS-84) with ``id``, ``population`` and the age-group columns
``pop_60plus``, ``pop_0_3``, ``pop_3_6``, ``pop_6_12`` (see
:data:`service_circle.catalogue.GROUP_COLUMNS`), ``source`` (where the people came from:
``osm``, a file's name, several joined by `` + ``; a study's attribution is built from it)
and ``method``:

- :func:`demand_from_buildings` — residential floor area ÷ floor area per person;
- :func:`demand_from_polygons` — community / census counts spread onto the buildings
  inside by floor area (dasymetric), or evenly over a grid where a polygon has no building;
  each polygon's total is preserved exactly;
- :func:`demand_from_raster` — the centres of a population raster's cells (WorldPop);
- :func:`hex_demand` — any of the above summed into an h3 hexagon grid.

Age groups come from columns of the input when present (``pop_60plus`` …), otherwise from
:data:`DEFAULT_SHARES`. All defaults are editable; their sources are documented here.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from service_circle._errors import InputError, InputNotFoundError
from service_circle._validate import check_counts
from service_circle.catalogue import GROUP_COLUMNS, MAX_AGE, age_band, group_column
from service_circle.facilities import osm_ids
from service_circle.readers import (
    BBox,
    check_box_source,
    edge_of_extract_quiet,
    find_column,
    open_pbf,
)

logger = logging.getLogger(__name__)

#: Shares of the population by age group, used when the input has no such column.
#: 60+: 18.70 % (7th national census, 2020). 0–3, 3–6, 6–12: the single-year birth
#: cohorts of the NBS statistical yearbooks (2018–20: 15.2, 14.7, 12.0 M; 2015–17: 16.6,
#: 17.9, 17.2 M; 2009–14 ≈ 16.5 M a year) over 1 412 M people — national figures (check):
#: pass local shares from the census of your district.
DEFAULT_SHARES: dict[str, float] = {
    "pop_60plus": 0.187,
    "pop_0_3": 0.030,
    "pop_3_6": 0.037,
    "pop_6_12": 0.070,
}
#: The population by five-year age group, share of the total (7th national census, 2020;
#: ``85`` is 85 and over; check): what a band no input gives (``12_15`` …) is read from.
CENSUS_2020_AGE_SHARES: dict[int, float] = {
    0: 0.0552, 5: 0.0639, 10: 0.0597, 15: 0.0515, 20: 0.0531, 25: 0.0650, 30: 0.0879,
    35: 0.0701, 40: 0.0661, 45: 0.0809, 50: 0.0858, 55: 0.0718, 60: 0.0520, 65: 0.0524,
    70: 0.0351, 75: 0.0221, 80: 0.0144, 85: 0.0112,
}  # fmt: skip
#: Gross floor area per resident, m² (NBS: urban per-capita housing floor area 39.8 m² in
#: 2019). Configurable.
FLOOR_AREA_PER_PERSON_M2 = 40.0
#: Storeys assumed when ``building:levels`` is missing, by building type (check).
DEFAULT_LEVELS: dict[str, float] = {
    "apartments": 6,
    "residential": 6,
    "dormitory": 5,
    "house": 2,
    "detached": 2,
    "semidetached_house": 2,
    "terrace": 2,
    "bungalow": 1,
    "farm": 2,
    "yes": 3,
}
#: ``building=*`` values that are homes.
RESIDENTIAL = frozenset(
    {"apartments", "residential", "dormitory", "house", "detached", "semidetached_house",
     "terrace", "bungalow", "farm", "cabin", "static_caravan", "hut", "houseboat"}
)  # fmt: skip
#: Spacing of the even grid laid over a polygon that has no building, metres.
GRID_SPACING_M = 50.0
AGE_COLUMNS = tuple(c for c in GROUP_COLUMNS.values() if c != "population")
#: Names a population column goes by (常住人口 is what the plan counts; 户籍人口 is the
#: registered population, taken when it is all a table has).
POPULATION_NAMES = (
    "population", "pop", "常住人口", "人口", "总人口", "人口数", "居住人口", "常住人口数",
    "户籍人口",
)  # fmt: skip
#: Names each age-group column goes by, as census and civil-affairs tables write them.
AGE_NAMES: dict[str, tuple[str, ...]] = {
    "pop_60plus": ("pop_60plus", "60岁及以上", "60岁以上", "60岁及以上人口", "60周岁及以上",
                   "60周岁以上", "老年人口", "60+", "pop60plus", "pop_60"),
    "pop_0_3": ("pop_0_3", "0-3岁", "3岁以下", "3岁以下婴幼儿", "0-3岁人口", "0-2岁", "婴幼儿"),
    "pop_3_6": ("pop_3_6", "3-6岁", "3-6岁人口", "3-5岁", "学龄前儿童"),
    "pop_6_12": ("pop_6_12", "6-12岁", "6-12岁人口", "6-11岁", "小学适龄儿童"),
}  # fmt: skip
#: Names of a polygon's name column (a community, a village).
AREA_NAME_NAMES = ("name", "名称", "社区名称", "社区", "村名", "村名称", "行政村", "小区名称")


# ---------------------------------------------------------------------- buildings
def buildings_from_osm(path: str | os.PathLike, bbox: BBox | None = None) -> gpd.GeoDataFrame:
    """Building footprints of an ``.osm.pbf`` (pyrosm) or ``.osm`` (osmnx) file, WGS-84.

    Columns: ``id``, ``building``, ``levels`` (from ``building:levels``, NaN if absent) and
    polygon geometry. Residential ``landuse`` polygons come with :func:`landuse_from_osm`.
    With ``bbox`` (WGS-84), only those in that box of an ``.osm.pbf`` file.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"OSM file {path} does not exist")
    check_box_source(path, bbox)
    try:
        if path.name.lower().endswith(".pbf"):
            with edge_of_extract_quiet():
                found = open_pbf(path, bbox).get_buildings()
            if found is None:
                raise InputError(f"{path} has no buildings")
            found = found.rename(columns={"id": "osm_id"})
        else:
            import osmnx as ox

            found = ox.features_from_xml(path, tags={"building": True}).reset_index()
            found = found.rename(columns={"element": "osm_type", "id": "osm_id"})
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"cannot read buildings from {path} ({type(exc).__name__}: {exc})"
        ) from None
    found = found[found.geom_type.isin(["Polygon", "MultiPolygon"])]
    if found.empty:
        raise InputError(f"{path} has no building polygons")
    levels = (
        found["building:levels"] if "building:levels" in found else pd.Series(index=found.index)
    )
    return gpd.GeoDataFrame(
        {
            "id": osm_ids(found["osm_type"].astype(str), found["osm_id"]),
            "building": found["building"].fillna("yes").astype(str).to_numpy(),
            "levels": levels.map(_number).to_numpy(np.float64),
            "source": "osm",
        },
        geometry=found.geometry.to_numpy(),
        crs="EPSG:4326",
    )


def buildings_from_file(path: str | os.PathLike, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Building footprints from a GeoJSON / GeoPackage / Shapefile (a planning office's).

    Columns used when present: ``building`` (type; default ``yes``), ``levels`` or
    ``building:levels`` (storeys), ``id``. ``crs`` as in :func:`service_circle.readers.read_points`.
    """
    from service_circle.readers import read_points

    return buildings_from_frame(read_points(path, crs=crs), what=str(path))


def buildings_from_frame(frame: gpd.GeoDataFrame, *, what: str = "buildings") -> gpd.GeoDataFrame:
    """Building footprints (WGS-84) from polygons with optional type, storeys and id."""
    polygonal = frame.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polygonal.any():
        raise InputError(f"{what} has no polygons: buildings need footprints")
    frame = frame[polygonal].to_crs("EPSG:4326")
    levels = frame.get("levels", frame.get("building:levels"))
    return gpd.GeoDataFrame(
        {
            "id": frame["id"].astype(str).to_numpy()
            if "id" in frame
            else np.arange(len(frame)).astype(str),
            "building": frame["building"].fillna("yes").astype(str).to_numpy()
            if "building" in frame
            else np.full(len(frame), "yes", dtype=object),
            "levels": np.full(len(frame), np.nan)
            if levels is None
            else levels.map(_number).to_numpy(np.float64),
            "source": Path(what).name,
        },
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )


def landuse_from_osm(path: str | os.PathLike, bbox: BBox | None = None) -> gpd.GeoSeries:
    """``landuse=residential`` polygons of an OSM file (WGS-84); empty when there are none.

    With ``bbox`` (WGS-84), only those in that box of an ``.osm.pbf`` file.
    """
    path = Path(path)
    check_box_source(path, bbox)
    try:
        with edge_of_extract_quiet(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Could not find any landuse")  # None
            if path.name.lower().endswith(".pbf"):
                found = open_pbf(path, bbox).get_landuse(custom_filter={"landuse": ["residential"]})
            else:
                import osmnx as ox

                found = ox.features_from_xml(path, tags={"landuse": "residential"})
    except Exception:  # nothing tagged: no landuse polygons
        found = None
    if found is None or len(found) == 0:
        return gpd.GeoSeries([], crs="EPSG:4326")
    polys = found[found.geom_type.isin(["Polygon", "MultiPolygon"])]
    return gpd.GeoSeries(polys.geometry.to_numpy(), crs=found.crs or "EPSG:4326")


def _number(value) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    match = re.search(r"\d+(\.\d+)?", str(value))
    return float(match.group()) if match else np.nan


def floor_area_m2(
    buildings: gpd.GeoDataFrame, default_levels: Mapping[str, float] | None = None
) -> np.ndarray:
    """Footprint × storeys; storeys from ``levels``, else :data:`DEFAULT_LEVELS` by type."""
    defaults = {**DEFAULT_LEVELS, **(default_levels or {})}
    footprint = buildings.to_crs(buildings.estimate_utm_crs()).area.to_numpy()
    levels = (
        buildings["levels"].to_numpy(np.float64)
        if "levels" in buildings
        else np.full(len(buildings), np.nan)
    )
    fallback = buildings["building"].map(lambda b: defaults.get(b, defaults["yes"]))
    levels = np.where(np.isfinite(levels) & (levels > 0), levels, fallback.to_numpy(np.float64))
    return footprint * levels


def residential_mask(
    buildings: gpd.GeoDataFrame, landuse: gpd.GeoSeries | None = None
) -> np.ndarray:
    """Which buildings are homes.

    Typed buildings count when their type is in :data:`RESIDENTIAL`. Untyped ones
    (``building=yes``) count when they stand inside a residential landuse polygon; when
    no such polygon is given, they all count (OSM in Chinese cities leaves most homes
    untyped), and the log says so.
    """
    kind = buildings["building"].astype(str).to_numpy()
    typed = np.isin(kind, list(RESIDENTIAL))
    untyped = kind == "yes"
    if landuse is None or len(landuse) == 0:
        logger.info("no residential landuse polygons: untyped buildings count as homes")
        return typed | untyped
    inside = np.zeros(len(buildings), dtype=bool)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    areas = landuse.to_crs(buildings.crs).to_numpy()
    idx, _ = shapely.STRtree(areas).query(pts, predicate="within")
    inside[idx] = True
    return typed | (untyped & inside)


def demand_from_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    landuse: gpd.GeoSeries | None = None,
    floor_area_per_person_m2: float = FLOOR_AREA_PER_PERSON_M2,
    default_levels: Mapping[str, float] | None = None,
    shares: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """People in residential buildings: floor area ÷ floor area per person.

    Returns one point per residential building (a point inside its footprint) with
    ``floor_area_m2``, ``population`` and the age-group columns.
    """
    if floor_area_per_person_m2 <= 0:
        raise InputError("floor area per person must be positive (m²)")
    homes = buildings[residential_mask(buildings, landuse)]
    if homes.empty:
        raise InputError("no residential building: nothing to count people in")
    area = floor_area_m2(homes, default_levels)
    out = gpd.GeoDataFrame(
        {
            "id": homes["id"].to_numpy(),
            "building": homes["building"].to_numpy(),
            "floor_area_m2": np.round(area, 1),
            "population": area / floor_area_per_person_m2,
            "source": homes["source"].to_numpy() if "source" in homes else "buildings",
            "method": "buildings",
        },
        geometry=shapely.point_on_surface(homes.geometry.to_numpy()),
        crs=buildings.crs,
    )
    return with_groups(out, shares).to_crs("EPSG:4326")


# ---------------------------------------------------------------------- polygons
def demand_from_polygons(
    polygons: gpd.GeoDataFrame,
    *,
    population_column: str | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    landuse: gpd.GeoSeries | None = None,
    default_levels: Mapping[str, float] | None = None,
    grid_spacing_m: float = GRID_SPACING_M,
    shares: Mapping[str, float] | None = None,
    what: str = "polygons",
) -> gpd.GeoDataFrame:
    """Spread polygon counts onto the homes inside, by floor area (dasymetric).

    A polygon with no residential building inside spreads its count evenly over a grid of
    points ``grid_spacing_m`` apart (at least one point). Each polygon's total — and each
    age-group column it carries — is preserved exactly.

    The population column is ``population_column``, else found by its usual names
    (``常住人口``, ``人口`` … :data:`POPULATION_NAMES`); age groups likewise
    (``60岁及以上`` …, :data:`AGE_NAMES`), and the polygon's name (``社区名称``, ``村名`` …)
    is kept on its points as ``area_name``. ``out.attrs["columns"]`` says which column
    was read for what.
    """
    kinds = shapely.get_type_id(polygons.geometry.to_numpy())
    not_areas = ~np.isin(kinds, (3, 6)) & ~shapely.is_missing(polygons.geometry.to_numpy())
    if not_areas.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(not_areas)[:10])
        raise InputError(
            f"{what}: {int(not_areas.sum())} of {len(polygons)} features are not polygons "
            f"(features {rows}): --polygons takes areas with their counts (communities, census "
            "tracts); give points with their population as --demand"
        )
    polygons, used = standard_columns(polygons, what, population_column=population_column)
    population_column = "population"
    group_cols = [c for c in AGE_COLUMNS if c in polygons.columns]
    counts = check_counts(polygons, [population_column, *group_cols], what, first_row=1)
    metric_crs = polygons.estimate_utm_crs()
    polys = polygons.to_crs(metric_crs).reset_index(drop=True)
    origin = Path(what).name if what != "polygons" else "polygons"
    buildings_origin = (
        " + ".join(sorted({str(v) for v in buildings["source"]}))
        if buildings is not None and "source" in buildings and len(buildings)
        else "buildings"
    )
    pieces = []
    homes = None
    if buildings is not None and len(buildings):
        homes = buildings[residential_mask(buildings, landuse)].to_crs(metric_crs)
        homes = homes.assign(_area=floor_area_m2(homes.to_crs("EPSG:4326"), default_levels))
        homes = homes.set_geometry(shapely.point_on_surface(homes.geometry.to_numpy()))
    assigned = np.full(0, -1)
    if homes is not None and len(homes):
        home_idx, poly_idx = shapely.STRtree(polys.geometry.to_numpy()).query(
            homes.geometry.to_numpy(), predicate="within"
        )
        # a home on a shared border goes to the first polygon only
        first = np.unique(home_idx, return_index=True)[1]
        home_idx, poly_idx = home_idx[first], poly_idx[first]
        assigned = np.full(len(homes), -1)
        assigned[home_idx] = poly_idx
    for p in range(len(polys)):
        total = counts[population_column][p]
        mine = np.flatnonzero(assigned == p) if assigned.size else np.array([], dtype=int)
        if mine.size and homes is not None and homes["_area"].to_numpy()[mine].sum() > 0:
            weight = homes["_area"].to_numpy()[mine]
            geoms = homes.geometry.to_numpy()[mine]
            ids = [f"{p}:{h}" for h in homes["id"].to_numpy()[mine]]
            how = "buildings"
        else:
            geoms = grid_points(polys.geometry.iloc[p], grid_spacing_m)
            weight = np.ones(geoms.size)
            ids = [f"{p}:grid{i}" for i in range(geoms.size)]
            how = "grid"
        weight = weight / weight.sum()
        piece = {
            "id": ids,
            "polygon": p,
            "population": total * weight,
            "source": origin if how == "grid" else f"{origin} + {buildings_origin}",
            "method": how,
        }
        if "area_name" in polys.columns:
            piece["area_name"] = polys["area_name"].iloc[p]
        for col in group_cols:
            piece[col] = counts[col][p] * weight
        pieces.append(gpd.GeoDataFrame(piece, geometry=geoms, crs=metric_crs))
    out = pd.concat(pieces, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=metric_crs)
    out = with_groups(out, shares).to_crs("EPSG:4326")
    out.attrs["columns"] = used
    return out


def standard_columns(
    frame: pd.DataFrame, what: str, *, population_column: str | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with its population, age-group and name columns under the standard names.

    Columns are found by their usual names in Chinese and English (:data:`POPULATION_NAMES`,
    :data:`AGE_NAMES`, :data:`AREA_NAME_NAMES`), or ``population_column``.

    Returns
    -------
    frame, used
        The renamed frame, and standard name → the column it came from (only those found
        under another name).

    Raises
    ------
    InputError
        If no population column is found, listing the columns there are.
    """
    columns = list(frame.columns)
    found = find_column(columns, POPULATION_NAMES, given=population_column, what=what)
    if found is None:
        raise InputError(
            f"{what} has no population column (columns: {', '.join(map(str, columns))}): "
            "name it population or 常住人口, or give --population-column"
        )
    renames: dict[object, str] = {found: "population"}
    for standard, names in AGE_NAMES.items():
        column = find_column(columns, names)
        if column is not None and column not in renames:
            renames[column] = standard
    name_col = find_column(columns, AREA_NAME_NAMES)
    if name_col is not None and name_col not in renames:
        renames[name_col] = "area_name"
    clashes = [c for c in renames.values() if c in columns and c not in renames]
    frame = frame.drop(columns=clashes).rename(columns=renames)
    used = {new: str(old) for old, new in renames.items() if str(old) != new}
    return frame, used


def grid_points(polygon: shapely.Geometry, spacing_m: float) -> np.ndarray:
    """Points on a square grid `spacing_m` apart inside a metric polygon (at least one)."""
    minx, miny, maxx, maxy = polygon.bounds
    xs = np.arange(minx + spacing_m / 2, maxx, spacing_m)
    ys = np.arange(miny + spacing_m / 2, maxy, spacing_m)
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    pts = pts[shapely.contains(polygon, pts)] if pts.size else pts
    if pts.size == 0:
        pts = np.array([shapely.point_on_surface(polygon)])
    return pts


# ---------------------------------------------------------------------- raster
def demand_from_raster(
    path: str | os.PathLike, *, shares: Mapping[str, float] | None = None
) -> gpd.GeoDataFrame:
    """The centres of a population raster's cells (e.g. WorldPop GeoTIFF) with their values.

    Cells that are nodata, zero or negative are left out (no one lives there).
    """
    import rasterio

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"raster {path} does not exist")
    try:
        with rasterio.open(path) as src:
            band = src.read(1, masked=True)
            transform = src.transform
            crs = src.crs
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read {path} as a raster ({exc})") from None
    if crs is None:
        raise InputError(f"raster {path} has no CRS: set one (gdal_edit.py -a_srs EPSG:4326)")
    values = np.ma.filled(band.astype(np.float64), np.nan)
    rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
    if rows.size == 0:
        raise InputError(f"raster {path} has no populated cell")
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    out = gpd.GeoDataFrame(
        {
            "id": [f"r{r}c{c}" for r, c in zip(rows, cols, strict=True)],
            "population": values[rows, cols],
            "source": path.name,
            "method": "raster",
        },
        geometry=shapely.points(np.asarray(xs), np.asarray(ys)),
        crs=crs.to_wkt(),
    )
    return with_groups(out, shares).to_crs("EPSG:4326")


# ---------------------------------------------------------------------- hexagons
def hex_demand(points: gpd.GeoDataFrame, resolution: int = 9) -> gpd.GeoDataFrame:
    """Sum demand points into h3 hexagons; one point per hexagon at its centre.

    Resolution 9 cells are ~0.1 km² (edge ~200 m), 10 ~0.015 km². Totals are preserved.
    """
    import h3

    if not 0 <= resolution <= 15:
        raise InputError(f"h3 resolution must be 0..15, got {resolution}")
    pts = points.to_crs("EPSG:4326")
    cells = [
        h3.latlng_to_cell(y, x, resolution)
        for x, y in zip(pts.geometry.x, pts.geometry.y, strict=True)
    ]
    columns = ["population", *[c for c in AGE_COLUMNS if c in pts]]
    summed = pd.DataFrame(pts[columns]).assign(cell=cells).groupby("cell", sort=True).sum()
    centres = [h3.cell_to_latlng(c) for c in summed.index]
    return gpd.GeoDataFrame(
        {
            "id": summed.index.to_numpy(),
            **{c: summed[c].to_numpy() for c in columns},
            "source": " + ".join(sorted({str(v) for v in pts.get("source", ["h3"])})),
            "method": "h3",
        },
        geometry=shapely.points([(lon, lat) for lat, lon in centres]),
        crs="EPSG:4326",
    )


def hex_polygons(cells: pd.Series) -> gpd.GeoSeries:
    """The hexagon outlines of h3 cell ids (WGS-84), e.g. to map a hex demand grid."""
    import h3

    return gpd.GeoSeries(
        [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in cells],
        crs="EPSG:4326",
    )


# ---------------------------------------------------------------------- groups
def band_share(group: str) -> float | None:
    """A group's share of the population from :data:`CENSUS_2020_AGE_SHARES`.

    Ages inside a five-year group are taken as evenly spread; ``None`` for a band that
    splits the open 85+ group (``90plus``, ``85_90``) or is no age band.

    Examples
    --------
    >>> round(band_share("12_15"), 4)  # ages 12, 13 and 14: 3/5 of the 10-14 group
    0.0358
    """
    band = age_band(group)
    if band is None:
        return None
    first, end = band
    end = 200 if end is None or end >= MAX_AGE else end
    if first > 85 or 85 < end < 200:
        return None
    share = 0.0
    for start, value in CENSUS_2020_AGE_SHARES.items():
        stop = 200 if start == 85 else start + 5
        overlap = max(0, min(end, stop) - max(first, start))
        if overlap:
            share += value if start == 85 else value * overlap / 5
    return share


def with_bands(frame: gpd.GeoDataFrame, groups: Sequence[str], *, what: str) -> gpd.GeoDataFrame:
    """Add the column of each age band in ``groups`` that ``frame`` lacks, from the census.

    The share used is listed in ``frame.attrs["groups_from_shares"]``.

    Raises
    ------
    InputError
        For a group whose column is missing and whose share the census table cannot give.
    """
    filled = dict(frame.attrs.get("groups_from_shares", {}))
    for group in dict.fromkeys(groups):
        column = group_column(group)
        if column in frame.columns:
            continue
        share = band_share(group)
        if share is None:
            raise InputError(
                f"{what} has no {column!r} column and the census table (five-year groups, "
                f"85+ open) cannot give group {group!r}: add a {column} column to the demand "
                "or pass its share with --age-shares"
            )
        frame[column] = frame["population"].to_numpy(np.float64) * share
        filled[column] = f"{share:.4g} (national census 2020, five-year groups)"
    frame.attrs["groups_from_shares"] = filled
    return frame


def age_columns(frame: pd.DataFrame) -> list[str]:
    """The age-group columns of a demand frame: the standard ones and any other band."""
    extra = [c for c in frame.columns if isinstance(c, str) and c.startswith("pop_")
             and c not in AGE_COLUMNS and age_band(c[4:]) is not None]  # fmt: skip
    return [*[c for c in AGE_COLUMNS if c in frame.columns], *extra]


def unique_ids(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Demand points with an ``id`` each, unique: the rule every door reads demand by.

    Without an ``id`` column the row number is the id. An id that repeats an earlier row's
    is kept as ``id~2``, ``id~3`` … (a home is never merged with another, nor dropped).

    Returns
    -------
    frame, repeated
        The points, and the positions of the rows whose id was a repeat.
    """
    frame = frame.copy()
    if "id" not in frame.columns:
        frame["id"] = np.arange(len(frame)).astype(str)
        return frame, np.array([], dtype=np.int64)
    ids = frame["id"].astype(str)
    repeated = ids.duplicated(keep="first").to_numpy()
    count = ids.groupby(ids).cumcount() + 1
    frame["id"] = np.where(repeated, ids + "~" + count.astype(str), ids)
    return frame, np.flatnonzero(repeated)


def check_shares(shares: Mapping[str, float]) -> None:
    """Refuse age shares no population can have.

    Groups of ages that do not overlap cannot hold more than everyone (their shares add up
    to at most 1), and a band inside another cannot hold more than it (65+ ≤ 60+).

    Raises
    ------
    InputError
        Naming the groups and their total.
    """
    bands = []
    for col, share in shares.items():
        band = age_band(col[4:]) if col.startswith("pop_") else None
        if band is not None and isinstance(share, int | float) and np.isfinite(share):
            first, end = band
            bands.append((first, end if end is not None else 200, float(share), col))
    for a in bands:
        for b in bands:
            inside = a is not b and b[0] <= a[0] and a[1] <= b[1]
            if inside and a[2] > b[2] + 1e-9:
                raise InputError(f"age shares: {a[3]} ({a[2]:g}) lies within {b[3]} ({b[2]:g}) "
                                 "but is larger: give shares of one population")  # fmt: skip
    # the most that bands which do not overlap hold together (weighted interval scheduling)
    order = sorted(bands, key=lambda b: b[1])
    best: list[tuple[float, list[str]]] = []
    for i, (first, _end, share, col) in enumerate(order):
        before = max((j for j in range(i) if order[j][1] <= first), default=None)
        take = (
            share + (best[before][0] if before is not None else 0.0),
            [*(best[before][1] if before is not None else []), col],
        )
        best.append(max(take, best[i - 1], key=lambda t: t[0]) if i else take)
    if best and best[-1][0] > 1 + 1e-9:
        total, cols = best[-1]
        raise InputError(
            f"age shares: {', '.join(cols)} cover ages that do not overlap yet add up to "
            f"{total:.0%} of the population: give shares of one population (each 0-1, "
            "together at most 100 %)"
        )


def with_groups(
    frame: gpd.GeoDataFrame,
    shares: Mapping[str, float] | None = None,
    *,
    label: str = "",
) -> gpd.GeoDataFrame:
    """Add the age-group columns the frame lacks, from ``shares`` or :data:`DEFAULT_SHARES`.

    ``frame.attrs["groups_from_shares"]`` lists the groups filled in, and with which share;
    ``label`` names where ``shares`` come from (an age-share preset), and is kept in an
    ``age_shares`` column when any group is filled in.
    """
    given = dict(shares or {})
    shares = {**DEFAULT_SHARES, **given}
    check_shares({col: share for col, share in shares.items() if col not in frame.columns})
    filled = dict(frame.attrs.get("groups_from_shares", {}))
    for col, share in shares.items():
        if col not in AGE_COLUMNS and not (col.startswith("pop_") and age_band(col[4:])):
            raise InputError(
                f"unknown age group {col!r}: use {', '.join(AGE_COLUMNS)} or an age band "
                "pop_A_B (ages A to B-1, e.g. pop_12_15)"
            )
        if not (np.isfinite(share) and 0 <= share <= 1):
            raise InputError(f"share of {col} must be between 0 and 1, got {share}")
        if col not in frame.columns:
            frame[col] = frame["population"].to_numpy(np.float64) * share
            where = (f" ({label})" if label else "") if col in given else " (national default)"
            filled[col] = f"{share:g}{where}"
    if filled and label and "age_shares" not in frame.columns:
        frame["age_shares"] = label
    frame.attrs["groups_from_shares"] = filled
    return frame
