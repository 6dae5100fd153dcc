"""Planning units: the communities (社区) and villages (行政村) the plan counts, and their parents.

A district's planning office holds its 社区 / 行政村 as polygons with a name, a code, a kind
(城市社区, 农村社区, 行政村), the official resident population (常住人口), households (户数),
age-group counts and the township / street (乡镇、街道) and county (县区) each belongs to.
:func:`read_units` reads such a file (GeoJSON, GPKG, SHP, GeoParquet; any CRS, GCJ-02 too)
and gives every column its standard name (:data:`UNIT_FIELDS`); :func:`check_units` names
units that overlap or leave gaps between them; :func:`assign` says which unit holds each
point (``-1``: outside every unit, reported, never dropped); :func:`fit_demand` makes the
homes inside a unit add up to its official population; :func:`parent_units` gives the
townships and counties, from their own files or by dissolving on the parent columns.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from service_circle._errors import InputError
from service_circle._validate import check_counts
from service_circle.demand import (
    AGE_COLUMNS,
    AGE_NAMES,
    POPULATION_NAMES,
    age_columns,
    band_share,
    grid_points,
)
from service_circle.readers import find_column, read_points_with_report

logger = logging.getLogger(__name__)

KINDS = ("urban", "village")
#: Residents per household (7th national census, 2020: 2.62), for units without 户数.
PERSONS_PER_HOUSEHOLD = 2.62
#: Overlaps and gaps smaller than this are drawing noise, not planning facts (m²).
SLIVER_M2 = 100.0
#: The standard columns of a unit and the names each is found by.
UNIT_FIELDS: dict[str, tuple[str, ...]] = {
    "unit_name": ("unit_name", "name", "名称", "社区名称", "村名", "村名称", "社区(村)名称",
                  "社区", "行政村", "村", "单元名称"),
    "unit_code": ("unit_code", "code", "代码", "行政区划代码", "区划代码", "统计用区划代码",
                  "社区代码", "村代码", "编码"),
    "unit_kind": ("unit_kind", "kind", "类型", "社区类型", "单元类型", "城乡分类"),
    "population": POPULATION_NAMES,
    "households": ("households", "户数", "常住户数", "总户数", "家庭户数", "户籍户数"),
    **AGE_NAMES,
    "township": ("township", "街道", "乡镇", "乡镇街道", "街道乡镇", "乡镇(街道)",
                 "街道(乡镇)", "所属街道", "所属乡镇", "所属乡镇(街道)"),
    "county": ("county", "县区", "区县", "县(区)", "区(县)", "所属县区", "所属区县", "县", "区"),
}  # fmt: skip
#: How kinds are written (normalised: NFKC, lower case, no spaces).
KIND_WORDS = {
    "urban": ("urban", "城市社区", "城镇社区", "社区", "居委会", "居民委员会", "city", "community"),
    "village": ("village", "行政村", "农村社区", "村", "村委会", "村民委员会", "rural"),
}
COUNT_FIELDS = ("population", "households", *AGE_COLUMNS)


@dataclass(frozen=True)
class UnitColumns:
    """Columns of a units file, where they are not found by their usual names."""

    name: str | None = None
    code: str | None = None
    kind: str | None = None
    population: str | None = None
    households: str | None = None
    township: str | None = None
    county: str | None = None


@dataclass
class UnitsReport:
    """What reading and checking the units found.

    Attributes
    ----------
    columns
        Standard column → the file's column it was read from.
    kinds_from
        ``"column"``, or ``"names"`` when the kind was read from the unit's name (…村 is a
        village, …社区 an urban community), or ``"unknown"``.
    problems
        One line per finding: overlaps, gaps, units without a kind, codes made unique.
    """

    columns: dict[str, str] = field(default_factory=dict)
    kinds_from: str = "column"
    problems: list[str] = field(default_factory=list)


def read_units(
    path: str | os.PathLike,
    *,
    crs: str | None = None,
    columns: UnitColumns | None = None,
    encoding: str | None = None,
) -> tuple[gpd.GeoDataFrame, UnitsReport]:
    """Planning units from a polygon file, with standard columns, in WGS-84.

    Parameters
    ----------
    path
        GeoJSON, GPKG, SHP or GeoParquet of polygons.
    crs
        The file's coordinate system where it does not say or says wrong: ``gcj02`` for
        boundaries traced on Amap, ``EPSG:4547`` …
    columns
        Column names where they are not the usual ones (:data:`UNIT_FIELDS`).
    encoding
        Text encoding of a Shapefile's attributes (default: detected).

    Returns
    -------
    units, report
        ``unit_code`` (unique), ``unit_name``, ``unit_kind`` (``urban``, ``village`` or
        empty), ``township``, ``county`` (empty when not given), ``population``,
        ``households`` and the age-group counts (NaN where not given), geometry.
    """
    path = Path(path)
    frame, _ = read_points_with_report(path, crs=crs, encoding=encoding, what=f"units file {path}")
    return units_from_frame(frame, what=str(path), columns=columns)


def units_from_frame(
    frame: gpd.GeoDataFrame, *, what: str = "units", columns: UnitColumns | None = None
) -> tuple[gpd.GeoDataFrame, UnitsReport]:
    """:func:`read_units` for a GeoDataFrame already read (any CRS)."""
    columns = columns or UnitColumns()
    if frame.crs is None:
        raise InputError(f"{what} has no coordinate system: give it (--units-crs EPSG:n)")
    geoms = frame.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    if len(frame) == 0:
        raise InputError(f"{what} has no units")
    if not polygonal.all():
        first = int(np.flatnonzero(~polygonal)[0]) + 1
        raise InputError(
            f"{what}: planning units must be polygons; feature {first} is "
            f"{shapely.get_type_id(geoms[first - 1]) if geoms[first - 1] else 'empty'!s} "
            "(give the community / village boundaries, not points)"
        )
    report = UnitsReport()
    given = {"unit_name": columns.name, "unit_code": columns.code, "unit_kind": columns.kind,
             "population": columns.population, "households": columns.households,
             "township": columns.township, "county": columns.county}  # fmt: skip
    found: dict[str, object] = {}
    names = list(frame.columns.drop(frame.geometry.name))
    for standard, aliases in UNIT_FIELDS.items():
        column = find_column(names, aliases, given=given.get(standard), what=what)
        if column is not None and column not in found.values():
            found[standard] = column
    report.columns = {k: str(v) for k, v in found.items()}
    n = len(frame)
    out = gpd.GeoDataFrame(geometry=shapely.make_valid(geoms), crs=frame.crs).to_crs("EPSG:4326")
    counts = [c for c in COUNT_FIELDS if c in found]
    table = pd.DataFrame({str(found[c]): frame[found[c]].to_numpy() for c in counts})
    checked = check_counts(table, list(table.columns), what, first_row=1, missing_ok=True)
    for column in COUNT_FIELDS:
        out[column] = checked[str(found[column])] if column in found else np.full(n, np.nan)
    if "unit_name" in found:
        name = frame[found["unit_name"]].astype("string").fillna("").str.strip()
    else:
        name = pd.Series([""] * n, dtype="string")
    out["unit_name"] = np.where(name == "", [f"unit {i + 1}" for i in range(n)], name).astype(str)
    out["unit_code"] = _codes(frame[found["unit_code"]] if "unit_code" in found else None,
                              out["unit_name"], report)  # fmt: skip
    out["unit_kind"], report.kinds_from = _kinds(
        frame[found["unit_kind"]] if "unit_kind" in found else None, out["unit_name"], what,
        report,
    )  # fmt: skip
    for parent in ("township", "county"):
        values = frame[found[parent]].astype("string").fillna("").str.strip() if parent in found \
            else pd.Series([""] * n, dtype="string")  # fmt: skip
        out[parent] = values.to_numpy(dtype=object).astype(str)
    order = ["unit_code", "unit_name", "unit_kind", "township", "county", *COUNT_FIELDS]
    out = gpd.GeoDataFrame(out[order], geometry=out.geometry, crs="EPSG:4326")
    report.problems += check_units(out)
    return out, report


def _codes(values: pd.Series | None, names: pd.Series, report: UnitsReport) -> np.ndarray:
    """Unique codes: the given ones (repeats made ``code~2``), else the names, else ``U1``."""
    if values is None:
        base = names.to_numpy(dtype=object) if not names.duplicated().any() else np.array(
            [f"U{i + 1}" for i in range(len(names))], dtype=object)  # fmt: skip
    else:
        text = values.astype("string").fillna("").str.strip().str.removesuffix(".0")
        base = np.where(text == "", [f"U{i + 1}" for i in range(len(text))], text).astype(object)
    seen: dict[str, int] = {}
    out = []
    for code in map(str, base):
        seen[code] = seen.get(code, 0) + 1
        if seen[code] > 1:
            new = f"{code}~{seen[code]}"
            report.problems.append(f"code {code!r} repeats: the unit is kept as {new!r}")
            code = new
        out.append(code)
    return np.array(out, dtype=object)


def kind_of(text: object) -> str | None:
    """``"urban"``, ``"village"`` or ``None`` for a kind as an office writes it."""
    loose = re.sub(r"\s+", "", str(text)).lower()
    for kind, words in KIND_WORDS.items():
        if loose in words:
            return kind
    return None


def kind_from_name(name: str) -> str | None:
    """A unit's kind read from its name: ``…村`` / ``…村委会`` a village, ``…社区`` urban."""
    name = re.sub(r"[\s(（].*$", "", str(name).strip())
    if re.search(r"(村|村委会|村民委员会)$", name):
        return "village"
    if re.search(r"(社区|居委会|居民委员会)$", name):
        return "urban"
    return None


def _kinds(
    values: pd.Series | None, names: pd.Series, what: str, report: UnitsReport
) -> tuple[np.ndarray, str]:
    if values is not None:
        kinds = []
        for i, value in enumerate(values):
            if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
                kinds.append(kind_from_name(names.iloc[i]) or "")
                continue
            kind = kind_of(value)
            if kind is None:
                raise InputError(
                    f"{what}, feature {i + 1}: kind {str(value)!r} is not 城市社区, 农村社区 or "
                    "行政村 (urban / village)"
                )
            kinds.append(kind)
        out, source = np.array(kinds, dtype=object), "column"
    else:
        out = np.array([kind_from_name(n) or "" for n in names], dtype=object)
        source = "names"
    unknown = [str(n) for n, k in zip(names, out, strict=True) if k == ""]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        report.problems.append(
            f"{len(unknown)} units have no kind (城市社区 / 行政村) and their names do not say: "
            f"{shown}; they count in every unit total but in neither the urban nor the "
            "village indicators — add a 类型 column"
        )
    if source == "names" and not unknown:
        logger.info("%s: kinds read from the unit names (…村: village, …社区: urban)", what)
    return out, source


def check_units(units: gpd.GeoDataFrame, *, sliver_m2: float = SLIVER_M2) -> list[str]:
    """Units that overlap, and gaps between units, each named (areas above ``sliver_m2``)."""
    metric = units.to_crs(units.estimate_utm_crs())
    geoms = metric.geometry.to_numpy()
    names = units["unit_name"].astype(str).to_numpy()
    out = []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    for a, b in zip(left[keep], right[keep], strict=True):
        area = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        if area > sliver_m2:
            out.append(f"units {names[a]} and {names[b]} overlap by {area:,.0f} m²: a home there "
                       f"counts in {names[a]} only")  # fmt: skip
    union = shapely.union_all(geoms)
    holes = [
        shapely.Polygon(ring)
        for part in getattr(union, "geoms", [union])
        for ring in getattr(part, "interiors", [])
    ]
    tree = shapely.STRtree(geoms)
    for hole in holes:
        if hole.area <= sliver_m2:
            continue
        around = sorted({names[i] for i in tree.query(hole.buffer(1.0), predicate="intersects")})
        out.append(f"a gap of {hole.area:,.0f} m² between units {', '.join(around)}: homes "
                   "there are outside any unit")  # fmt: skip
    return out


def assign(units: gpd.GeoDataFrame, points: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """The index of the unit holding each point.

    The first one on a shared border; ``-1`` outside every unit or without a location.
    """
    geoms = points.to_crs("EPSG:4326").geometry.to_numpy() if len(points) else np.array([])
    out = np.full(len(geoms), -1, dtype=np.int64)
    if not len(geoms):
        return out
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(present)
    point_i, unit_i = shapely.STRtree(units.geometry.to_numpy()).query(
        geoms[idx], predicate="intersects"
    )
    order = np.lexsort((unit_i, point_i))
    point_i, unit_i = point_i[order], unit_i[order]
    first = np.unique(point_i, return_index=True)[1]
    out[idx[point_i[first]]] = unit_i[first]
    return out


def fit_demand(
    demand: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    shares: Mapping[str, float] | None = None,
    grid_spacing_m: float = 50.0,
    source: str = "units",
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Homes scaled so that each unit's add up to its official population.

    A unit's ``population`` (and each age-group count it gives) **is** its population: the
    homes inside keep their relative weights and are scaled to it. A unit with population
    but no home inside gets an even grid of points (``grid_spacing_m``), so that its
    residents are counted (``source`` names them). Units without a population keep the
    modelled homes. Homes outside every unit are kept as they are.

    Returns
    -------
    demand, notes
        The new demand (``unit_code`` says each home's unit, empty outside) and one note
        per unit given points of its own.
    """
    from service_circle.demand import DEFAULT_SHARES

    shares = {**DEFAULT_SHARES, **(shares or {})}
    demand = demand.to_crs("EPSG:4326").reset_index(drop=True).copy()
    where = assign(units, demand)
    pop = demand["population"].to_numpy(np.float64).copy()
    columns = age_columns(demand)
    groups = {c: demand[c].to_numpy(np.float64).copy() for c in columns}
    added, notes = [], []
    for u in range(len(units)):
        official = float(units["population"].iloc[u])
        mine = np.flatnonzero(where == u)
        modelled = pop[mine].sum()
        if not np.isfinite(official):
            continue
        if mine.size and modelled > 0:
            factor = official / modelled
            weight = pop[mine] / modelled
            for c in columns:
                count = float(units[c].iloc[u]) if c in units else np.nan
                groups[c][mine] = count * weight if np.isfinite(count) else groups[c][mine] * factor
            pop[mine] = official * weight
            continue
        if official == 0:
            continue
        metric = units.iloc[[u]].to_crs(units.iloc[[u]].estimate_utm_crs())
        pts = grid_points(metric.geometry.iloc[0], grid_spacing_m)
        weight = np.full(pts.size, 1.0 / pts.size)
        piece = gpd.GeoDataFrame(
            {"id": [f"{units['unit_code'].iloc[u]}:grid{i}" for i in range(pts.size)],
             "population": official * weight, "source": source, "method": "grid"},
            geometry=pts, crs=metric.crs,
        ).to_crs("EPSG:4326")  # fmt: skip
        for c in columns:
            count = float(units[c].iloc[u]) if c in units else np.nan
            share = shares[c] if c in shares else band_share(c[4:]) or 0.0
            piece[c] = (count if np.isfinite(count) else official * share) * weight
        added.append(piece.assign(_unit=u))
        notes.append(f"unit {units['unit_name'].iloc[u]} has {official:,.0f} residents but no "
                     f"home in the demand: spread over {pts.size} grid points")  # fmt: skip
    demand["population"] = pop
    for c in columns:
        demand[c] = np.minimum(groups[c], pop)
    if added:  # grid points belong to the unit they were laid in
        where = np.concatenate([where, *(p.pop("_unit").to_numpy() for p in added)])
        demand = gpd.GeoDataFrame(pd.concat([demand, *added], ignore_index=True), crs="EPSG:4326")
    codes = units["unit_code"].to_numpy(dtype=object)
    demand["unit_code"] = np.where(where >= 0, codes[np.maximum(where, 0)], "")
    return demand, notes


def households(units: gpd.GeoDataFrame, population: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's households: its 户数, else ``population`` ÷ :data:`PERSONS_PER_HOUSEHOLD`.

    Returns
    -------
    households, official
        The counts and whether each was given (``False``: modelled).
    """
    given = units["households"].to_numpy(np.float64)
    official = np.isfinite(given)
    return np.where(official, given, population / PERSONS_PER_HOUSEHOLD), official


def parent_units(
    units: gpd.GeoDataFrame, level: str, given: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The townships or counties (``level``) and which one each unit belongs to.

    From ``given`` polygons (their name column found by its usual names; a unit belongs to
    the one holding a point inside it), else by dissolving the units on their ``level``
    column. A unit with no parent gets ``-1``.

    Returns
    -------
    parents, index
        ``name`` and geometry per parent; the parent index of each unit.
    """
    if level not in ("township", "county"):
        raise ValueError(f"level must be township or county, got {level!r}")
    if given is not None:
        column = find_column(list(given.columns), (*UNIT_FIELDS[level], *UNIT_FIELDS["unit_name"]))
        if column is None:
            raise InputError(f"the {level} file has no name column (名称, {UNIT_FIELDS[level][1]})")
        parents = gpd.GeoDataFrame({"name": given[column].astype(str).to_numpy()},
                                   geometry=given.geometry.to_numpy(), crs=given.crs)  # fmt: skip
        parents = parents.to_crs("EPSG:4326")
        inside = gpd.GeoSeries(shapely.point_on_surface(units.geometry.to_numpy()),
                               crs="EPSG:4326")  # fmt: skip
        return parents, assign(parents, inside)
    names = units[level].astype(str).to_numpy()
    known = sorted({n for n in names if n})
    if not known:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs="EPSG:4326"), np.full(
            len(units), -1)  # fmt: skip
    index = {n: i for i, n in enumerate(known)}
    geoms = [shapely.union_all(units.geometry.to_numpy()[names == n]) for n in known]
    parents = gpd.GeoDataFrame({"name": known}, geometry=geoms, crs="EPSG:4326")
    return parents, np.array([index.get(n, -1) for n in names], dtype=np.int64)
