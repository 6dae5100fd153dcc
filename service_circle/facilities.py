"""Facilities by category: from OSM (tag rules and name keywords) or from POI files.

Both readers return the same normalised GeoDataFrame (WGS-84 points):

``id``, ``name``, ``category``, ``capacity`` (a number or NaN, in the category's capacity
unit), ``source`` (``osm`` or the file name), ``osm_id``/``osm_type`` (OSM only), ``row``
(the file's line number, files only), and the facility fields of :data:`FIELDS` (``places``,
``seats``, ``beds``, ``care_beds``, ``floor_area_m2`` …; NaN where not given). From OSM,
``footprint_m2`` is the area of a feature drawn as a polygon (a pitch's ground).

An OSM ``capacity`` tag is a head count: it fills places, seats or beds, never an area.

Nothing read is dropped silently: rows that cannot be used are listed in the
:class:`FacilityReport` with their line number and reason, and likely duplicates (the same
category within a few metres) are listed there too.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from service_circle._errors import InputError, InputNotFoundError, NetworkDownloadError
from service_circle.catalogue import Catalogue, load_catalogue
from service_circle.hours import HOURS_COLUMNS, normalise_hours
from service_circle.readers import (
    BBox,
    ReadReport,
    check_box_source,
    edge_of_extract_quiet,
    find_column,
    open_pbf,
    read_points_with_report,
)

logger = logging.getLogger(__name__)

#: Two facilities of one category closer than this are reported as likely duplicates.
DUPLICATE_M = 5.0
CAPACITY_TAGS = ("capacity", "beds", "seats", "capacity:persons")
#: Facility fields read from POI files by their usual names (Chinese and English). Units:
#: counts for places, seats and beds; square metres for the areas. ``area_m2`` is an area
#: a file does not say more of (``面积``): floor area for a building, ground for a pitch.
FIELDS: dict[str, tuple[str, ...]] = {
    "places": ("places", "托位数", "托位", "学位数", "学位", "托育位数"),
    "nursery_places": ("nursery_places", "托班托位数", "托班托位", "托班学位数", "托班学位"),
    "seats": ("seats", "座位数", "座位", "餐位数", "餐位", "就餐座位数"),
    "beds": ("beds", "床位数", "床位", "总床位数", "养老床位数"),
    "care_beds": ("care_beds", "护理型床位数", "护理型床位", "护理床位数", "护理床位"),
    "floor_area_m2": ("floor_area_m2", "建筑面积", "建筑面积(平方米)", "建筑面积(m2)",
                      "用房面积", "服务用房面积", "floor_area"),
    "ground_area_m2": ("ground_area_m2", "场地面积", "场地面积(平方米)", "占地面积", "用地面积",
                       "ground_area"),
    "area_m2": ("area_m2", "面积", "面积(平方米)", "面积(m2)", "area"),
}  # fmt: skip
#: The field that holds a category's capacity, by its capacity unit (in order of preference).
UNIT_FIELDS = {
    "places": ("places",),
    "seats": ("seats",),
    "beds": ("beds",),
    "m2": ("floor_area_m2", "area_m2", "ground_area_m2"),
    "none": (),
}
COLUMNS = ["id", "name", "category", "capacity", "source", "osm_id", "osm_type", "row",
           *FIELDS, "footprint_m2", "opening_hours", "hours_status"]  # fmt: skip


@dataclass(frozen=True)
class FacilityReport:
    """What a facility reader could not use, and what looks duplicated.

    Attributes
    ----------
    problems
        One row per input row that was not used, or used with a change: ``row`` (line
        number in the file, header = 1) and ``reason`` (which says whether it was kept).
    duplicates
        Pairs of the same category closer than :data:`DUPLICATE_M`: ``id_a``, ``id_b``,
        ``category``, ``distance_m``.
    read
        What reading the file understood (coordinates, encoding, columns), for files.
    """

    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "reason"]))
    duplicates: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["id_a", "id_b", "category", "distance_m"])
    )
    read: ReadReport | None = None


def osm_ids(osm_type: Sequence[str], osm_id: Sequence[int]) -> list[str]:
    """OSM feature ids as ``"node/123"``, ``"way/456"``, unique across element types."""
    return [f"{t}/{int(i)}" for t, i in zip(osm_type, osm_id, strict=True)]


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns=[*COLUMNS, "geometry"], geometry="geometry", crs="EPSG:4326")


# ---------------------------------------------------------------------- OSM
def facilities_from_osm(
    path: str | os.PathLike,
    catalogue: Catalogue | None = None,
    *,
    categories: Sequence[str] | None = None,
    bbox: BBox | None = None,
) -> tuple[gpd.GeoDataFrame, FacilityReport]:
    """Facilities in an ``.osm.pbf`` (pyrosm) or ``.osm``/``.osm.bz2`` (osmnx) file.

    A feature belongs to every category whose tag rules it matches; a POI that matches no
    rule is classified by the longest catalogue keyword in its name. Polygons (a school's
    grounds) become a point inside them; the ``capacity``, ``beds`` or ``seats`` tag gives
    the capacity. With ``bbox`` (WGS-84), only those in that box of an ``.osm.pbf`` file.
    """
    catalogue = (catalogue or load_catalogue()).select(categories)
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"OSM file {path} does not exist")
    check_box_source(path, bbox)
    keys = catalogue.osm_keys() | set(CAPACITY_TAGS)
    features = _osm_features(path, {k for k in keys if k != "name" and ":" not in k}, bbox)
    return _classify(features, catalogue, keys | {"opening_hours"}, source=str(path))


def _classify(
    features: gpd.GeoDataFrame | None, catalogue: Catalogue, keys: set[str], *, source: str
) -> tuple[gpd.GeoDataFrame, FacilityReport]:
    if features is None or features.empty:
        return _empty(), FacilityReport()
    tags = _feature_tags(features, keys)
    rows, cats = [], []
    for i, t in enumerate(tags):
        for key in catalogue.classify_tags(t):
            rows.append(i)
            cats.append(key)
    if not rows:
        return _empty(), FacilityReport()
    picked = features.iloc[rows]
    picked_tags = [tags[i] for i in rows]
    heads = np.array([_capacity(t) for t in picked_tags])
    units = np.array([catalogue[k].capacity_unit for k in cats], dtype=object)
    fields = {f: np.full(len(picked), np.nan) for f in FIELDS}
    for field_name in ("places", "seats", "beds"):  # a head count, never an area
        fields[field_name] = np.where(units == field_name, heads, np.nan)
    frame = gpd.GeoDataFrame(
        {
            "id": osm_ids(picked["osm_type"].astype(str), picked["osm_id"]),
            "name": [t.get("name") for t in picked_tags],
            "category": cats,
            "capacity": np.where(np.isin(units, ["places", "seats", "beds"]), heads, np.nan),
            "source": "osm",
            "osm_id": picked["osm_id"].to_numpy(np.int64),
            "osm_type": picked["osm_type"].astype(str).to_numpy(),
            "row": pd.array([None] * len(picked), dtype="Int64"),
            **fields,
            "footprint_m2": _footprint_m2(picked),
            **hours_columns([t.get("opening_hours") for t in picked_tags]),
        },
        geometry=_as_points(picked.geometry.to_numpy()),
        crs=picked.crs or "EPSG:4326",
    ).to_crs("EPSG:4326")
    logger.info("%s: %d facilities in %d categories", source, len(frame), frame.category.nunique())
    return frame, FacilityReport(duplicates=find_duplicates(frame))


def _osm_features(path: Path, keys: set[str], bbox: BBox | None = None) -> gpd.GeoDataFrame | None:
    """POI-like features carrying any of ``keys``, with ``osm_id``/``osm_type`` columns."""
    try:
        if path.name.lower().endswith(".pbf"):
            with edge_of_extract_quiet():
                found = open_pbf(path, bbox).get_pois(custom_filter={k: True for k in keys})
            if found is None:
                return None
            return found.rename(columns={"id": "osm_id"})
        import osmnx as ox

        found = ox.features_from_xml(path, tags={k: True for k in keys})
    except ValueError as exc:
        if "No matching features" in str(exc) or "No data elements" in str(exc):
            return None
        raise InputError(f"cannot read POIs from {path} ({exc})") from None
    except Exception as exc:
        raise InputError(f"cannot read POIs from {path} ({type(exc).__name__}: {exc})") from None
    return _from_osmnx(found)


def _from_osmnx(found: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Features from osmnx (indexed by element and id) with ``osm_type``/``osm_id`` columns."""
    found = found.reset_index()
    return found.rename(columns={"element": "osm_type", "id": "osm_id"})


def facilities_from_place(
    query: str | dict,
    catalogue: Catalogue | None = None,
    *,
    categories: Sequence[str] | None = None,
) -> tuple[gpd.GeoDataFrame, FacilityReport]:
    """Facilities of a place downloaded from OSM (osmnx; needs internet)."""
    import osmnx as ox

    catalogue = (catalogue or load_catalogue()).select(categories)
    keys = catalogue.osm_keys() | set(CAPACITY_TAGS)
    tags: dict[str, bool | str | list[str]] = {
        k: True for k in keys if k != "name" and ":" not in k
    }
    try:
        found = ox.features_from_place(query, tags=tags)
    except ValueError as exc:  # InsufficientResponseError: nothing there
        logger.warning("OSM has no POIs for %r: %s", query, exc)
        return _empty(), FacilityReport()
    except Exception as exc:
        raise NetworkDownloadError(
            f"downloading POIs for {query!r} failed ({type(exc).__name__}: {exc}); without "
            "internet, pass an .osm.pbf file instead"
        ) from None
    return _classify(_from_osmnx(found), catalogue, keys | {"opening_hours"},
                     source=f"OSM place {query!r}")  # fmt: skip


def _feature_tags(features: pd.DataFrame, keys: set[str]) -> list[dict[str, str]]:
    """Tags of each feature: its tag columns merged with a JSON ``tags`` column (pyrosm)."""
    columns = [k for k in keys if k in features.columns]
    n = len(features)
    extra = features["tags"].to_numpy(dtype=object) if "tags" in features else [None] * n
    records = features[columns].to_dict("records") if columns else [{}] * n
    out = []
    for record, raw in zip(records, extra, strict=True):
        tags = {k: str(v) for k, v in record.items() if isinstance(v, str) and v}
        if isinstance(raw, str) and raw:
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = {}
            tags.update({k: str(v) for k, v in parsed.items() if k in keys and k not in tags})
        out.append(tags)
    return out


def _capacity(tags: dict[str, str]) -> float:
    for key in CAPACITY_TAGS:
        if key in tags:
            match = re.search(r"\d+(\.\d+)?", tags[key])
            if match:
                return float(match.group())
    return float("nan")


def _footprint_m2(features: gpd.GeoDataFrame) -> np.ndarray:
    """The area of each feature drawn as a polygon, m² (NaN for points and lines)."""
    out = np.full(len(features), np.nan)
    geoms = features.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])  # Polygon, MultiPolygon
    if polygonal.any():
        frame = gpd.GeoSeries(geoms[polygonal], crs=features.crs or "EPSG:4326")
        out[polygonal] = frame.to_crs(frame.estimate_utm_crs()).area.to_numpy()
    return out


def _as_points(geoms: np.ndarray) -> np.ndarray:
    geoms = geoms.copy()
    not_point = ~shapely.is_missing(geoms) & (shapely.get_type_id(geoms) != 0)
    geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    return geoms


# ---------------------------------------------------------------------- files
@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a POI file hold what; ``None`` means: find it by its usual names."""

    lon: str | None = None
    lat: str | None = None
    location: str | None = None
    category: str | None = None
    typecode: str | None = None
    name: str | None = None
    capacity: str | None = None
    id: str | None = None


_USUAL = {
    "category": ("category", "类别", "设施类型", "类型", "分类"),
    "typecode": ("typecode", "type_code", "类型编码", "类型代码"),
    "name": ("name", "名称", "设施名称", "机构名称", "poi名称"),
    "capacity": ("capacity", "容量", "床位", "床位数", "座位", "座位数", "托位", "托位数", "学位",
                 "学位数", "面积", "建筑面积", "beds", "seats", "places"),
    "id": ("id", "poi_id", "poiid", "编号", "序号"),
}  # fmt: skip


def facilities_from_file(
    path: str | os.PathLike,
    catalogue: Catalogue | None = None,
    *,
    crs: str | None = None,
    table_crs: str | None = None,
    columns: ColumnMap | None = None,
    category: str | None = None,
    categories: Sequence[str] | None = None,
    encoding: str | None = None,
    bbox: BBox | None = None,
) -> tuple[gpd.GeoDataFrame, FacilityReport]:
    """Facilities from a CSV, XLSX, GeoJSON or GeoPackage file of POIs.

    Parameters
    ----------
    path
        The file. CSV/XLSX need longitude/latitude columns (``lon``/``lat``, ``经度``/
        ``纬度`` …) or one ``location`` column ``"lon,lat"`` (as Amap exports it).
    catalogue
        The category catalogue (default: the built-in one).
    crs
        The file's coordinate system, stated: ``wgs84``, ``gcj02`` (Amap, Tencent),
        ``bd09`` (Baidu) or ``EPSG:n``. Without it a GeoJSON is WGS-84, a GeoPackage
        keeps its own CRS, and a table takes ``table_crs`` — or is refused when it looks
        like an Amap / Tencent / Baidu export (see :func:`service_circle.readers.read_points`).
    table_crs
        The coordinate system of tables when ``crs`` is not given.
    columns
        Column names, where they are not the usual ones.
    category
        One category for every row (a bureau's list of elderly canteens), instead of a
        category or typecode column; a key, or a Chinese or English name (``老年食堂``).
    categories
        Keep only these categories.
    encoding
        The text encoding of a CSV (default: detected; UTF-8, GBK and GB18030 are found).
    bbox
        Read only the part of a GeoPackage or GeoParquet file near this WGS-84 box
        (:func:`~service_circle.readers.read_points_with_report`).

    Each row's category comes from ``category``, else its category column (a key or a
    name, ``老年食堂``), else :meth:`~service_circle.catalogue.Catalogue.classify`: its
    primary Amap typecode (kept as six-digit text) unless its name is more specific or
    excluded, else the longest catalogue keyword in its name.
    Rows without a usable location or category are reported with their line number and
    kept out; a capacity that is not a count is reported and left empty; repeated ids are
    reported and made unique (``id~2``).
    """
    catalogue = catalogue or load_catalogue()
    path = Path(path)
    columns = columns or ColumnMap()
    table, geometry, read = _read_poi_table(path, crs, table_crs, columns, encoding, bbox)
    what = str(path)
    n = len(table)
    line = np.arange(n) + 2  # header on line 1 for CSV/XLSX; feature order for vector files
    problems: list[tuple[int, str]] = list(read.problems)
    bad_location = {row for row, reason in read.problems if reason.startswith("no usable")}
    problems = [(row, reason) for row, reason in problems if row not in bad_location]

    def col(field_name: str) -> pd.Series | None:
        found = find_column(
            list(table.columns), _USUAL[field_name], given=getattr(columns, field_name),
            what=what,
        )  # fmt: skip
        return None if found is None else table[found]

    typecodes = col("typecode")
    if typecodes is not None:
        typecodes = typecodes.map(_typecode)
        table = table.assign(**{str(typecodes.name): typecodes})
    cats = _categories(table, catalogue, category, col("category"), typecodes, col("name"))
    ok = np.ones(n, dtype=bool)
    missing_geom = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    for row in np.flatnonzero(missing_geom):
        problems.append(
            (int(line[row]), "not used: no usable location (coordinates missing, not numbers or "
             "out of range)")
        )  # fmt: skip
    ok &= ~missing_geom
    for i, (key, why) in enumerate(cats):
        if ok[i] and key is None:
            problems.append((int(line[i]), f"not used: {why}"))
            ok[i] = False
    keys = np.array([k for k, _ in cats], dtype=object)
    if categories:
        for k in categories:
            catalogue[k]  # unknown keys are an error, not an empty result
        ok &= np.isin(keys, list(categories))
    names = col("name")
    ids = col("id")
    numbers, read_from = {}, {}
    for field_name, aliases in FIELDS.items():
        found = find_column(list(table.columns), aliases)
        if found is not None:
            read_from[found] = field_name
            numbers[field_name] = _numbers_of(table[found], field_name, line, ok, problems)
    capacity = col("capacity")
    if capacity is None:
        generic = np.full(n, np.nan)
    elif capacity.name in read_from:  # the same column, read once
        generic = numbers[read_from[capacity.name]]
    else:
        generic = _numbers_of(capacity, "capacity", line, ok, problems)
    cap_values = _capacity_of(keys, catalogue, numbers, generic)
    id_values = (
        ids.astype("string").fillna("").str.strip().to_numpy(dtype=object)
        if (ids is not None)
        else line.astype(str).astype(object)
    )
    id_values = np.where(id_values == "", line.astype(str), id_values).astype(object)
    id_values, repeated = _unique_ids(id_values, ok)
    for i, original in repeated:
        problems.append((int(line[i]), f"id {original!r} repeats an earlier row: kept as "
                         f"{id_values[i]!r}"))  # fmt: skip
    extra = {}
    if typecodes is not None:
        extra["typecode"] = typecodes.to_numpy(dtype=object)[ok]
    found_hours = find_column(list(table.columns), HOURS_COLUMNS)
    given_hours = table[found_hours].to_numpy(dtype=object) if found_hours else np.full(n, None)
    hours = hours_columns(given_hours)
    for row in np.flatnonzero((hours["hours_status"] == "invalid") & ok):
        problems.append((int(line[row]), f"kept with unknown hours: {found_hours} "
                         f"{given_hours[row]!r} is not hours this tool can read (write e.g. "
                         "08:00-20:00, 24小时 or 周一至周五 11:00-13:00)"))  # fmt: skip
    frame = gpd.GeoDataFrame(
        {
            "id": id_values[ok],
            "name": (
                names.to_numpy(dtype=object) if names is not None else np.full(n, None, object)
            )[ok],
            "category": keys[ok],
            "capacity": cap_values[ok],
            "source": path.name,
            "osm_id": pd.array([None] * int(ok.sum()), dtype="Int64"),
            "osm_type": None,
            "row": pd.array(line[ok], dtype="Int64"),
            **{f: numbers.get(f, np.full(n, np.nan))[ok] for f in FIELDS},
            "footprint_m2": np.full(int(ok.sum()), np.nan),
            **{k: v[ok] for k, v in hours.items()},
            **extra,
        },
        geometry=geometry[ok],
        crs="EPSG:4326",
    )
    report = FacilityReport(
        problems=pd.DataFrame(sorted(problems), columns=["row", "reason"]),
        duplicates=find_duplicates(frame),
        read=read,
    )
    if len(report.problems):
        logger.info("%s: %d rows not used or changed (see the report)", path, len(report.problems))
    return frame.reset_index(drop=True), report


def hours_columns(given: Sequence[object] | np.ndarray) -> dict[str, np.ndarray]:
    """``opening_hours`` (OSM syntax, or ``None``) and ``hours_status`` of each facility.

    See :func:`~service_circle.hours.normalise_hours`; ``hours_status`` is ``ok``,
    ``unknown`` (none given) or ``invalid`` (given, not readable: counted as unknown).
    """
    pairs = [normalise_hours(v) for v in given]
    return {
        "opening_hours": np.array([p[0] for p in pairs], dtype=object),
        "hours_status": np.array([p[1] for p in pairs], dtype=object),
    }


def _numbers_of(
    column: pd.Series, field_name: str, line: np.ndarray, ok: np.ndarray,
    problems: list[tuple[int, str]],
) -> np.ndarray:  # fmt: skip
    """A numeric facility field; a value that is not a number ≥ 0 is reported and left NaN."""
    text = column.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    given = (text.notna() & (text != "")).fillna(False).to_numpy(bool)
    bad = given & (~np.isfinite(values) | (values < 0))
    for row in np.flatnonzero(bad & ok):
        problems.append((int(line[row]), f"kept without {field_name}: {column.name} "
                         f"{column.iloc[row]!r} is not a number ≥ 0"))  # fmt: skip
    return np.where(bad, np.nan, values)


def _capacity_of(
    keys: np.ndarray, catalogue: Catalogue, fields: dict[str, np.ndarray], generic: np.ndarray
) -> np.ndarray:
    """Each row's capacity in its category's unit.

    Its field (:data:`UNIT_FIELDS`), else the generic capacity column.
    """
    out = generic.copy()
    for key in {k for k in keys if k is not None}:
        rows = keys == key
        for field_name in reversed(UNIT_FIELDS[catalogue[key].capacity_unit]):
            if field_name in fields:
                values = fields[field_name]
                out[rows] = np.where(np.isfinite(values[rows]), values[rows], out[rows])
    return out


def _typecode(value) -> str | None:
    """An Amap typecode as six-digit text (a spreadsheet turns ``050000`` into 50000)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    codes = []
    for part in str(value).replace("｜", "|").split("|"):
        part = part.strip().removesuffix(".0")
        if part.isdigit() and len(part) < 6:
            part = part.zfill(6)
        if part:
            codes.append(part)
    return "|".join(codes) or None


def _unique_ids(ids: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Ids made unique among the used rows (``x``, ``x~2``, ``x~3``); the rows renamed."""
    seen: dict[str, int] = {}
    out = ids.copy()
    renamed = []
    taken = set(ids[used].tolist())
    for i in np.flatnonzero(used):
        value = str(ids[i])
        count = seen.get(value, 0) + 1
        seen[value] = count
        if count > 1:
            new = f"{value}~{count}"
            while new in taken:
                count += 1
                new = f"{value}~{count}"
            seen[value] = count
            taken.add(new)
            out[i] = new
            renamed.append((int(i), value))
    return out, renamed


def _read_poi_table(
    path: Path, crs: str | None, table_crs: str | None, columns: ColumnMap, encoding: str | None,
    bbox: BBox | None = None,
) -> tuple[pd.DataFrame, np.ndarray, ReadReport]:  # fmt: skip
    """The table, WGS-84 point geometry (empty where unusable) and read report of a POI file."""
    points, read = read_points_with_report(
        path, crs=crs, table_crs=table_crs, encoding=encoding, lon=columns.lon, lat=columns.lat,
        location=columns.location, bbox=bbox,
    )  # fmt: skip
    if points.crs is not None and not pyproj.CRS(points.crs).equals(pyproj.CRS("EPSG:4326")):
        points = points.to_crs("EPSG:4326")
    table = pd.DataFrame(points.drop(columns=points.geometry.name))
    geoms = _as_points(points.geometry.to_numpy())
    return table.reset_index(drop=True), geoms, read


def _categories(
    table: pd.DataFrame,
    catalogue: Catalogue,
    fixed: str | None,
    category: pd.Series | None,
    typecode: pd.Series | None,
    name: pd.Series | None,
) -> list[tuple[str | None, str]]:
    """``(category key or None, reason when None)`` per row."""
    n = len(table)
    if fixed is not None:
        key = catalogue.resolve(fixed)
        if key is None:
            catalogue[fixed]  # an unknown category: the error lists the known ones
        return [(key, "")] * n
    out: list[tuple[str | None, str]] = []
    for i in range(n):
        value = category.iloc[i] if category is not None else None
        if isinstance(value, str) and value.strip():
            key = catalogue.resolve(value)
            out.append((key, "") if key else (None, f"unknown category {value.strip()!r}"))
            continue
        code = typecode.iloc[i] if typecode is not None else None
        text = name.iloc[i] if name is not None else None
        found = catalogue.classify(
            text if isinstance(text, str) else None,
            typecode=code if isinstance(code, str) and code else None,
        )
        if found:
            out.append((found[0], ""))
            continue
        shown = f" (typecode {code})" if code else ""
        why = (
            f"no category: {text!r} names no facility (an exclusion: 停车场, 批发 …)"
            if isinstance(text, str) and catalogue.excluded(text)
            else f"no category: no category, typecode or name keyword matches{shown}"
        )
        out.append((None, why))
    return out


def find_duplicates(frame: gpd.GeoDataFrame, within_m: float = DUPLICATE_M) -> pd.DataFrame:
    """Pairs of facilities of the same category closer than ``within_m`` metres."""
    columns = ["id_a", "id_b", "category", "distance_m"]
    if len(frame) < 2:
        return pd.DataFrame(columns=columns)
    metric = frame.to_crs(frame.estimate_utm_crs())
    geoms = metric.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=within_m)
    keep = (a < b) & (frame["category"].to_numpy()[a] == frame["category"].to_numpy()[b])
    a, b = a[keep], b[keep]
    ids = frame["id"].to_numpy()
    return pd.DataFrame(
        {
            "id_a": ids[a],
            "id_b": ids[b],
            "category": frame["category"].to_numpy()[a],
            "distance_m": np.round(shapely.distance(geoms[a], geoms[b]), 2),
        },
        columns=columns,
    )
