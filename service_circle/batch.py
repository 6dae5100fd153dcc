"""Many areas in one run, on Dask: every county of a province, every pilot city of a country.

Each area (a *unit*: a county, district or city, one row of ``--units``) is one Dask task.
A task reads only its unit's box plus a *halo* out of the big ``.osm.pbf`` (pyrosm streams
the file and keeps the box: :func:`~service_circle.readers.open_pbf`), builds and analyses
the study there, and keeps what lies **inside** the unit: its homes with their times, its
gaps (clipped to the unit), its indicators, coverage, facilities and planning units. The
halo is wide enough for the longest threshold walked at the fastest speed any profile
walks, plus a snap distance at each end (:meth:`BatchSpec.halo_m`), so a home on a county
border walks to a facility across it exactly as in one big run — up to that threshold.
Beyond it the batch says "farther" and gives no time (:data:`BEYOND`).

The dataset (``--out``) is written one unit at a time, each unit's files renamed into
place and its completion marker (``_done/KEY.json``, holding its summary row) written
last; a unit that fails on its data is marked ``_failed/KEY.json`` with its error. A rerun
skips the units done with the same settings, so a batch resumes where it stopped. The
tables are GeoParquet partitioned by unit (``homes/area=KEY/part-0.parquet`` …), readable
with ``geopandas.read_parquet(DATASET / "homes")`` or ``dask_geopandas.read_parquet``;
``summary.parquet`` and the report (``report.html``, ``report.xlsx``) rank the units, the
worst served first.

Dask's scheduler runs the tasks: a ``LocalCluster`` of this machine's cores by default,
or any running cluster (``tcp://HOST:8786``); a task whose worker dies is run again
elsewhere (Dask reschedules it, and ``retries`` covers errors that are not the data's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from service_circle._errors import InputError, ServiceCircleError
from service_circle.folders import MARKER, atomic_write, check_target
from service_circle.readers import (
    TABLE_SUFFIXES,
    BBox,
    edge_of_extract_quiet,
    read_points_with_report,
)
from service_circle.writers import write_csv

logger = logging.getLogger(__name__)

#: The tables of a batch dataset, one folder each, partitioned by unit.
TABLES = ("homes", "gaps", "indicators", "coverage", "facilities", "units")
#: The status of a home whose nearest facility lies beyond what the batch measures.
BEYOND = "beyond_threshold"
#: The status of every home of a unit where the category has no facility within reach.
NO_FACILITY = "no_facility"
#: Names a unit's key may keep as its folder name; others are hashed.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Candidate key and name columns of a units file, in order of preference.
KEY_COLUMNS = ("key", "code", "adcode", "区划代码", "行政区划代码", "编码", "代码", "id")
NAME_COLUMNS = ("name", "名称", "区县", "县区", "NAME", "Name")
#: Metres per degree of latitude.
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class BatchSpec:
    """What every unit of a batch is asked (sent to every task).

    Attributes
    ----------
    network
        The ``.osm.pbf`` file (a province, a country); each task reads its box.
    facilities
        Facility files (points); empty: the network file's own OSM facilities.
    demand
        A file of demand points (population, age groups); ``None``: people in the
        network file's residential buildings (floor area ÷ 40 m² a person).
    units
        Planning units (communities, villages) whose rows go into the dataset, each in
        the area that holds it; ``None`` for none.
    categories, profile, minutes, metres, targets_preset, lang
        As ``analyze``: the categories (default all with a facility), one profile
        (default each group's own), the thresholds, the targets and the language.
    crs
        One metric CRS for every unit (default: each unit's own UTM zone).
    max_access_m
        The longest access leg from a point to the network, metres.
    table_crs, facilities_crs, demand_crs, encoding
        As ``build``'s ``--input-crs``, ``--facilities-crs``, ``--demand-crs`` and
        ``--encoding``: the coordinates of tables (``wgs84``, ``gcj02``, ``bd09``,
        ``EPSG:n``), of the facility files and of the demand file whatever their format,
        and the text encoding of CSV files. A table that looks like an Amap / Tencent /
        Baidu export is refused until its system is stated (:func:`check_inputs`).
    """

    network: str
    facilities: tuple[str, ...] = ()
    demand: str | None = None
    units: str | None = None
    categories: tuple[str, ...] = ()
    profile: str | None = None
    minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
    metres: tuple[float, ...] = ()
    targets_preset: str | None = None
    lang: str = "auto"
    crs: str | None = None
    max_access_m: float = 300.0
    table_crs: str | None = None
    facilities_crs: str | None = None
    demand_crs: str | None = None
    encoding: str | None = None

    def thresholds(self) -> list[Any]:
        """The thresholds, as :class:`~service_circle.cost.Threshold` values."""
        from service_circle.cost import Threshold

        return [Threshold.minutes(m) for m in self.minutes] + [
            Threshold.metres(m) for m in self.metres
        ]

    def bound(self) -> Any:
        """The longest time the batch measures exactly, as a minutes threshold.

        The longest threshold in minutes, or the longest minutes a category is judged at.
        """
        from service_circle.catalogue import load_catalogue
        from service_circle.cost import Threshold

        catalogue = load_catalogue()
        keys = self.categories or tuple(catalogue.keys())
        own = [catalogue[k].minutes for k in keys]
        return Threshold.minutes(max([*self.minutes, *own]))

    def bound_s(self) -> float:
        """:meth:`bound` in seconds."""
        from service_circle.cost import CostModel

        return CostModel.walking().limit(self.bound())

    def halo_m(self) -> float:
        """How far beyond a unit its network, facilities and water are read, metres.

        The farthest a walk within :meth:`bound` goes at the fastest flat speed of any
        profile, downhill at Tobler's best (1.19 × the flat speed, at a 5 % descent), or
        the longest metre threshold; plus an access leg at each end.
        """
        from service_circle.cost import CostModel
        from service_circle.profiles import PROFILES, tobler

        downhill = float(tobler(np.array(-0.05)))
        walk = max(CostModel.walking(p).reach_m(self.bound()) for p in PROFILES) * downhill
        return max([walk, *self.metres]) + 2 * self.max_access_m

    def fingerprint(self) -> str:
        """A digest of the settings and of the input files' sizes and times.

        A unit done under another fingerprint is done again.
        """
        files = [Path(f) for f in (self.network, *self.facilities, self.demand, self.units) if f]
        stamps = [(str(f), f.stat().st_size, int(f.stat().st_mtime)) for f in files if f.exists()]
        text = json.dumps([asdict(self), stamps], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class BatchResult:
    """What a batch run did: the summary (one row per unit) and the counts."""

    summary: pd.DataFrame
    done: int = 0
    skipped: int = 0
    failed: int = 0
    files: list[str] = field(default_factory=list)


def check_inputs(spec: BatchSpec) -> list[str]:
    """Read each facility and demand table once, before any task runs, as a task would.

    A table without a stated coordinate system that looks like an export of a Chinese map
    service (GCJ-02 or BD-09, 300-1000 m from WGS-84) is refused here, with the option that
    states it, instead of in every task; so is one without coordinates.

    Returns
    -------
    list[str]
        One line per file: how it was read (format, coordinates, encoding).

    Raises
    ------
    InputError
        As :func:`~service_circle.readers.read_points_with_report` (a ``CRSError`` for a
        system that must be stated).
    """
    lines = []
    files = [(p, spec.facilities_crs, "--facilities") for p in spec.facilities]
    if spec.demand:
        files.append((spec.demand, spec.demand_crs, "--demand"))
    for path, crs, option in files:
        if Path(path).suffix.lower() not in TABLE_SUFFIXES:
            continue
        what = f"{option} {path}"
        _, report = read_points_with_report(
            path, crs=crs, table_crs=spec.table_crs, encoding=spec.encoding, what=what
        )
        lines.append(f"read {path}: {report.coordinates}")
    return lines


# ---------------------------------------------------------------------- the units
def read_areas(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    name: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """The areas of a batch (counties, districts, cities): ``key``, ``name``, geometry.

    Parameters
    ----------
    path
        A polygon file (GPKG, GeoJSON, SHP, GeoParquet).
    key, name
        The key and name columns (default: the first of :data:`KEY_COLUMNS` and
        :data:`NAME_COLUMNS` the file has; the key falls back to the name).
    crs
        The coordinates of a file that does not say (``wgs84``, ``gcj02``, ``EPSG:n``).
    encoding
        The text encoding of a table (default: detected).

    Raises
    ------
    InputError
        A missing column, an empty or repeated key — naming the rows. Broken geometries
        are kept: their unit fails alone, with the reason, and the others run.
    """
    frame, _ = read_points_with_report(path, crs=crs, encoding=encoding, what=str(path))
    columns = list(frame.columns)
    key_col = key or next((c for c in KEY_COLUMNS if c in columns), None)
    name_col = name or next((c for c in NAME_COLUMNS if c in columns), None)
    key_col = key_col or name_col
    for option, col in (("--key", key), ("--name", name)):
        if col is not None and col not in columns:
            raise InputError(f"{path}: no column {col!r} for {option}; columns: {columns}")
    if key_col is None:
        raise InputError(
            f"{path}: no key column (one of {', '.join(KEY_COLUMNS)} or a name column): "
            "give --key COLUMN"
        )
    keys = frame[key_col].astype("string").str.strip()
    empty = np.flatnonzero(keys.isna().to_numpy() | (keys == "").fillna(True).to_numpy())
    if empty.size:
        raise InputError(
            f"{path}: column {key_col!r} is empty on rows {', '.join(map(str, empty[:10] + 1))}"
            ": every area needs a key"
        )
    repeated = keys[keys.duplicated(keep=False)]
    if len(repeated):
        raise InputError(
            f"{path}: keys repeat in column {key_col!r} ({', '.join(sorted(set(repeated))[:10])})"
            ": give a column whose values are unique with --key"
        )
    names = frame[name_col].astype("string").fillna("") if name_col else keys
    return gpd.GeoDataFrame(
        {"key": keys.to_numpy(dtype=object), "name": names.to_numpy(dtype=object)},
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )


def partition_name(key: str) -> str:
    """The folder name of a unit's partition: the key when it is plain ASCII, else a digest.

    A key comes from a file: it never becomes a path as it is.
    """
    if _SAFE_KEY.match(key):
        return key
    return "u" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def halo_box(geometry: shapely.Geometry, halo_m: float) -> BBox:
    """The unit's bounds (WGS-84) grown by ``halo_m`` metres on every side."""
    west, south, east, north = shapely.bounds(geometry)
    dlat = halo_m / _M_PER_DEG
    widest = max(abs(south - dlat), abs(north + dlat))
    dlon = halo_m / (_M_PER_DEG * max(math.cos(math.radians(min(widest, 89.0))), 1e-6))
    return (west - dlon, south - dlat, east + dlon, north + dlat)


def box_km2(box: BBox) -> float:
    """The area of a WGS-84 box, square kilometres."""
    west, south, east, north = box
    mid = math.radians((south + north) / 2)
    return (east - west) * (north - south) * (_M_PER_DEG / 1000) ** 2 * math.cos(mid)


def plan_tasks(areas: gpd.GeoDataFrame, spec: BatchSpec, out: str | os.PathLike) -> pd.DataFrame:
    """One row per unit: what a run would do.

    Columns ``key``, ``name``, ``area`` (its folder name), the halo ``box``, its ``box_km2`` and
    ``status``: ``done`` with these settings, ``failed`` before, or ``todo``.
    """
    out = Path(out)
    halo = spec.halo_m()
    finger = spec.fingerprint()
    rows = []
    for key, name, geom in zip(areas["key"], areas["name"], areas.geometry, strict=True):
        part = partition_name(str(key))
        box = halo_box(geom, halo) if geom is not None and not geom.is_empty else None
        status = "todo"
        done = _read_marker(out / "_done" / f"{part}.json")
        if done is not None and done.get("fingerprint") == finger:
            status = "done"
        elif (out / "_failed" / f"{part}.json").is_file():
            status = "failed"
        area = box_km2(box) if box else float("nan")
        rows.append({"key": key, "name": name, "area": part, "box": box, "box_km2": area,
                     "status": status})  # fmt: skip
    return pd.DataFrame(rows)


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------- one unit
def run_unit(task: dict, spec: BatchSpec, out: str, wkb: bytes) -> dict:
    """Build and analyse one unit in its halo and write its partitions (a Dask task).

    Returns the unit's summary row. A unit that fails on its data (no street, no valid
    geometry) is marked failed with its reason and returned as such; any other error is
    raised, for Dask to retry.
    """
    started = time.perf_counter()
    out_dir = Path(out)
    part = task["area"]
    row: dict[str, Any] = {"key": task["key"], "name": task["name"], "area": part}
    try:
        with edge_of_extract_quiet(), _scratch_folder() as scratch:
            # what the box cuts lies in the halo, not the unit
            row.update(_analyse_unit(task, spec, out_dir, shapely.from_wkb(wkb), scratch))
        row["status"], row["error"] = "done", ""
    except ServiceCircleError as exc:  # the unit's data: said, not retried
        row.update(status="failed", error=str(exc))
    row["seconds"] = round(time.perf_counter() - started, 2)
    row["worker_peak_mb"] = _peak_rss_mb()
    row["fingerprint"] = spec.fingerprint()
    folder = out_dir / ("_done" if row["status"] == "done" else "_failed")
    folder.mkdir(parents=True, exist_ok=True)
    if row["status"] == "done":  # a failure that is now done is no longer one
        (out_dir / "_failed" / f"{part}.json").unlink(missing_ok=True)
    with atomic_write(folder / f"{part}.json") as fh:  # last: the unit is complete
        json.dump(row, fh, ensure_ascii=False, default=_json_value)
    return row


#: The machine's temporary folder, read once at import: scratch folders are made in it,
#: whatever another task's read has set ``tempfile.tempdir`` to at that moment.
_TEMP_ROOT = tempfile.gettempdir()
#: One pyrosm read at a time in a worker process (see :func:`_reading`).
_READ_LOCK = threading.Lock()


@contextmanager
def _scratch_folder() -> Iterator[Path]:
    """A temporary folder of the task's own, removed after it."""
    with tempfile.TemporaryDirectory(prefix="service-circle-unit-", dir=_TEMP_ROOT) as scratch:
        yield Path(scratch)


@contextmanager
def _reading(scratch: Path) -> Iterator[None]:
    """Read OSM data with pyrosm's spills and result cache in the task's ``scratch``.

    pyrosm writes its decoding and each read's result to ``tempfile.gettempdir()``, which
    is one setting for the whole process; a national run would leave gigabytes there. A
    task's reads are never repeated, so they go to the task's own folder, removed with it.
    Tasks that share a worker process (``dask worker --nthreads 2``) take turns to read, so
    that no task's reads land in, or lose, another task's folder; their analyses still run
    side by side.
    """
    with _READ_LOCK:
        previous = tempfile.tempdir
        tempfile.tempdir = str(scratch)
        try:
            yield
        finally:
            tempfile.tempdir = previous


def _peak_rss_mb() -> float:
    """The worker process's peak resident memory so far, MB (NaN where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _analyse_unit(task: dict, spec: BatchSpec, out: Path, geometry: Any, scratch: Path) -> dict:
    from service_circle.catalogue import load_catalogue
    from service_circle.network import barriers_from_osm, load_network
    from service_circle.pipeline import analyze_study
    from service_circle.study import Study

    key = str(task["key"])
    if geometry is None or geometry.is_empty:
        raise InputError(f"unit {key}: it has no geometry")
    if not shapely.is_valid(geometry):
        raise InputError(
            f"unit {key}: its geometry is not valid ({shapely.is_valid_reason(geometry)}): fix "
            "it (e.g. QGIS Fix geometries, or shapely.make_valid) and run again"
        )
    box = tuple(task["box"])
    catalogue = load_catalogue()
    with _reading(scratch):
        net = load_network(spec.network, bbox=box, crs=spec.crs)
        facilities = _facilities(spec, box, catalogue)
        demand = _demand(spec, box)
        barriers = barriers_from_osm(spec.network, bbox=box)
    homes = _homes_inside(demand, geometry, task.get("others"))
    if homes.empty:
        raise InputError(
            f"unit {key}: no demand point (or residential building) lies in it: nobody to "
            "measure; give --demand points that cover it"
        )
    study = Study.build(
        net, facilities, homes, name=str(task["name"]), catalogue=catalogue,
        barriers=barriers, max_access_m=spec.max_access_m,
    )  # fmt: skip
    if spec.units:
        study = _with_planning_units(study, spec.units, geometry)
    analysis = analyze_study(
        study, spec.thresholds(), profile=spec.profile,
        categories=[c for c in spec.categories if c in set(study.facilities["category"])] or None,
        targets_preset=spec.targets_preset, lang=spec.lang,
    )  # fmt: skip
    wanted = spec.categories or tuple(catalogue.keys())
    tables = _unit_tables(analysis, geometry, key, spec.bound_s(), wanted)
    _write_partitions(out, task["area"], tables)
    return _summary_row(analysis, net, tables)


def _facilities(spec: BatchSpec, box: BBox, catalogue: Any) -> gpd.GeoDataFrame:
    from service_circle.facilities import facilities_from_file, facilities_from_osm

    if not spec.facilities:
        frame, _ = facilities_from_osm(spec.network, catalogue, bbox=box)
        return frame
    frames = []
    for path in spec.facilities:
        frame, _ = facilities_from_file(
            path,
            catalogue,
            bbox=box,
            crs=spec.facilities_crs,
            table_crs=spec.table_crs,
            encoding=spec.encoding,
        )
        frame = _in_box(frame, box)
        frame["id"] = Path(path).name + ":" + frame["id"].astype(str)  # unique across files
        frames.append(frame)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _demand(spec: BatchSpec, box: BBox) -> gpd.GeoDataFrame:
    from service_circle import demand as dm
    from service_circle.study import check_demand
    from service_circle.targets import age_shares, age_shares_for, shares_only

    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    shares = shares_only(age_shares(age_shares_for(*centre)))
    if spec.demand is None:
        try:
            buildings = dm.buildings_from_osm(spec.network, bbox=box)
            landuse = dm.landuse_from_osm(spec.network, bbox=box)
            return dm.demand_from_buildings(buildings, landuse=landuse, shares=shares)
        except InputError:  # no (residential) building in the box: nobody to count
            return gpd.GeoDataFrame({"id": [], "population": []}, geometry=[], crs="EPSG:4326")
    frame, _ = read_points_with_report(spec.demand, what=spec.demand, bbox=box,
                                       crs=spec.demand_crs, table_crs=spec.table_crs,
                                       encoding=spec.encoding)  # fmt: skip
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    frame, _ = dm.standard_columns(frame, spec.demand)
    frame = _in_box(frame, box)
    check_demand(frame, spec.demand, first_row=1)
    frame, _ = dm.unique_ids(frame)  # as build reads it: a repeated id is kept as id~2
    return dm.with_groups(frame, shares)


def _in_box(frame: gpd.GeoDataFrame, box: BBox) -> gpd.GeoDataFrame:
    x, y = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    inside = (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
    return frame[inside].reset_index(drop=True)


def _homes_inside(homes: gpd.GeoDataFrame, unit: Any, others: list | None) -> gpd.GeoDataFrame:
    """The homes of ``unit``, each home in one unit only.

    Inside it, and on its border only if no earlier unit (a lower key among ``others``,
    WKB) holds them too.
    """
    if homes.empty:
        return homes
    points = homes.geometry.to_numpy()
    shapely.prepare(unit)
    mine = shapely.intersects(unit, points)
    border = mine & ~shapely.contains_properly(unit, points)
    for other in others or ():
        if not border.any():
            break
        border_rows = np.flatnonzero(border)
        taken = shapely.intersects(shapely.from_wkb(other), points[border_rows])
        mine[border_rows[taken]] = False
        border[border_rows[taken]] = False
    return homes[mine].reset_index(drop=True)


def _with_planning_units(study: Any, path: str, unit: Any) -> Any:
    from service_circle.units import read_units

    frame, _ = read_units(path)
    inside = shapely.intersects(unit, shapely.point_on_surface(frame.geometry.to_numpy()))
    if not inside.any():
        return study
    return study.with_units(frame[inside].reset_index(drop=True), source=Path(path).name)


def _unit_tables(
    analysis: Any, unit: Any, key: str, bound_s: float, categories: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """The unit's tables for the dataset, every row tagged with the unit's key.

    Every unit's homes carry a time and a status for each of ``categories`` (status
    :data:`NO_FACILITY` where the unit and its halo have none), so that the partitions
    share one schema.
    """
    study = analysis.study
    homes = analysis.demand_times.copy()
    for cat in categories:
        if f"time_s_{cat}" not in homes:
            homes[f"time_s_{cat}"] = np.nan
            homes[f"status_{cat}"] = NO_FACILITY
    for col in [c for c in homes.columns if c.startswith("time_s_")]:
        cat = col[len("time_s_") :]
        status = homes[f"status_{cat}"].to_numpy(dtype=object)
        far = (homes[col].to_numpy() > bound_s) | (status == "unreachable")
        homes.loc[far, col] = np.nan  # beyond what the halo measures exactly
        homes.loc[far & (status != "ok"), f"status_{cat}"] = BEYOND
    homes = gpd.GeoDataFrame(homes, geometry=study.demand.geometry.to_numpy(), crs="EPSG:4326")
    gaps = analysis.gaps
    if gaps is not None and len(gaps):
        gaps = gaps.copy()
        gaps["geometry"] = shapely.intersection(gaps.geometry.to_numpy(), unit)
    fac = study.facilities
    facilities = fac[shapely.intersects(unit, fac.geometry.to_numpy())].reset_index(drop=True)
    indicators = pd.DataFrame([_indicator_row(i) for i in analysis.indicators])
    tables: dict[str, pd.DataFrame] = {
        "homes": homes, "gaps": gaps if gaps is not None else pd.DataFrame(),
        "indicators": indicators, "coverage": analysis.coverage.copy(),
        "facilities": facilities,
    }  # fmt: skip
    if analysis.plan.units is not None:
        tables["units"] = analysis.plan.units.copy()
    for name, table in tables.items():
        if len(table):
            table.insert(0, "unit_key", key)
        tables[name] = table
    return tables


def _indicator_row(ind: Any) -> dict:
    return {
        "indicator": ind.key, "name_zh": ind.name_zh, "name_en": ind.name_en,
        "value": ind.value, "target": ind.target, "unit": ind.unit, "status": ind.status,
        "note": ind.note,
    }  # fmt: skip


def _write_partitions(out: Path, part: str, tables: dict[str, pd.DataFrame]) -> None:
    """Each table of a unit into ``TABLE/area=PART/part-0.parquet``, renamed into place.

    A unit's older files (a run that died half way) are replaced, an empty table leaves
    no file.
    """
    for name in TABLES:
        folder = out / name / f"area={part}"
        table = tables.get(name)
        if folder.exists():
            shutil.rmtree(folder)  # ours: this unit's partition of an earlier attempt
        if table is None or not len(table):
            continue
        folder.mkdir(parents=True)
        target = folder / "part-0.parquet"
        staging = folder / f".part-0.parquet.{os.getpid()}.tmp"
        clean = _parquet_ready(table)
        if isinstance(clean, gpd.GeoDataFrame):
            clean.to_parquet(staging, index=False)
        else:
            pd.DataFrame(clean).to_parquet(staging, index=False)
        staging.replace(target)


def _parquet_ready(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns as strings, empty or not, so that every partition has one schema."""
    out = table.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col != geometry and out[col].dtype == object:
            values = out[col]
            out[col] = values.where(values.isna(), values.astype(str)).astype("string")
    return out


def _summary_row(analysis: Any, net: Any, tables: dict[str, pd.DataFrame]) -> dict:
    study = analysis.study
    coverage = analysis.coverage[analysis.coverage["judged"]]
    row: dict[str, Any] = {
        "population": float(study.demand["population"].sum()) if len(study.demand) else 0.0,
        "homes": len(study.demand),
        "facilities": len(tables["facilities"]),
        "network_nodes": int(net.n_nodes),
        "network_edges": int(net.n_edges),
        "categories": len(coverage),
        "mean_share": float(coverage["share"].mean()) if len(coverage) else float("nan"),
        "lowest_share": float(coverage["share"].min()) if len(coverage) else float("nan"),
        "targets_met": sum(i.status == "met" for i in analysis.indicators),
        "targets_not_met": sum(i.status == "not met" for i in analysis.indicators),
        "gaps": len(tables["gaps"]),
        "attribution": study.attribution,
    }
    for r in coverage.itertuples():
        row[f"share_{r.category}"] = float(r.share)
    return row


# ---------------------------------------------------------------------- the run
def run_batch(
    areas: gpd.GeoDataFrame,
    spec: BatchSpec,
    out: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    retries: int = 2,
    on_progress: Callable[[int, int, int, int], None] | None = None,
    client: Any = None,
) -> BatchResult:
    """Run every unit not done yet on Dask, then write the summary and the report.

    Parameters
    ----------
    areas
        The units (:func:`read_areas`).
    spec
        What each unit is asked.
    out
        The dataset folder: new, empty, or a batch dataset (resumed).
    scheduler
        A running Dask scheduler's address; default a ``LocalCluster`` on this machine.
    workers, memory_limit
        The local cluster's worker processes (default: the cores) and memory per worker
        (e.g. ``"4GB"``).
    retries
        How often a task whose error is not the data's is run again.
    on_progress
        Called with (done, failed, running, total) as units finish.
    client
        A ``distributed.Client`` to use as it is (tests, notebooks).
    """
    out = Path(out)
    check_target(out)
    tasks = plan_tasks(areas, spec, out)
    todo = tasks[tasks["status"] != "done"]
    geometry = dict(zip(areas["key"], areas.geometry, strict=True))
    counts = {"done": 0, "failed": 0}
    total = len(tasks)
    skipped = total - len(todo)
    own_client = client is None and len(todo) > 0
    if own_client:  # a scheduler that cannot be reached: refused before anything is written
        client = _client(scheduler, workers, memory_limit)
    try:
        _prepare_dataset(out, spec)
    except BaseException:
        if own_client:
            _close(client)
        raise
    if len(todo):
        assert client is not None
        try:
            spec_future = client.scatter(spec, broadcast=True)
            finger = spec.fingerprint()
            futures = []
            keys = areas["key"].to_numpy(dtype=object)
            tree = shapely.STRtree(areas.geometry.to_numpy())
            for task in todo.to_dict("records"):
                # the areas with a lower key that may share a border: they own its homes
                near = tree.query(shapely.box(*task["box"])) if task["box"] else []
                task["others"] = [shapely.to_wkb(geometry[keys[i]]) for i in near
                                  if keys[i] < task["key"]]  # fmt: skip
                futures.append(client.submit(
                    run_unit, task, spec_future, str(out), shapely.to_wkb(geometry[task["key"]]),
                    key=f"unit-{task['area']}-{finger}-{time.time_ns()}",
                    retries=retries, pure=False,
                ))  # fmt: skip
            _wait(futures, todo, out, spec, counts, total, skipped, on_progress)
        finally:
            if own_client:
                _close(client)
    summary = _write_summary(out, tasks, spec)
    files = sorted(p.name for p in out.iterdir())
    return BatchResult(summary=summary, done=counts["done"], skipped=skipped,
                       failed=counts["failed"], files=files)  # fmt: skip


def _wait(
    futures: list[Any], todo: pd.DataFrame, out: Path, spec: BatchSpec, counts: dict[str, int],
    total: int, skipped: int, on_progress: Callable[[int, int, int, int], None] | None,
) -> None:  # fmt: skip
    """Follow the tasks as they finish; record a task that failed for good."""
    from distributed import as_completed

    rows = todo.to_dict("records")
    by_key = {f.key: row for f, row in zip(futures, rows, strict=True)}
    if on_progress:
        on_progress(skipped, 0, len(futures), total)
    running = len(futures)
    for future in as_completed(futures):
        running -= 1
        if future.status == "finished":
            result = future.result()
            counts["done" if result["status"] == "done" else "failed"] += 1
        else:  # retried and failed still, or cancelled: the error goes into the summary
            try:
                exc, tb = future.exception(), future.traceback()
            except Exception as lost:  # a cancelled future has no exception of its own
                exc, tb = lost, None
            _mark_failed(out, by_key[future.key], spec, f"{type(exc).__name__}: {exc}", tb)
            counts["failed"] += 1
        if on_progress:
            on_progress(skipped + counts["done"], counts["failed"], running, total)


def _mark_failed(out: Path, row: dict, spec: BatchSpec, error: str, tb: Any) -> None:
    folder = out / "_failed"
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_tb(tb)) if tb is not None else ""
    logger.error("unit %s failed: %s\n%s", row["key"], error, text)
    entry = {"key": row["key"], "name": row["name"], "area": row["area"],
             "status": "failed", "error": error, "fingerprint": spec.fingerprint()}  # fmt: skip
    with atomic_write(folder / f"{row['area']}.json") as fh:
        json.dump(entry, fh, ensure_ascii=False)


def _close(client: Any) -> None:
    """Close a client this run started, and its local cluster."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def _client(scheduler: str | None, workers: int | None, memory_limit: str | None) -> Any:
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="30s")
        except (ValueError, OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); give "
                "its address as tcp://HOST:8786, or leave --scheduler out for a local cluster"
            ) from None
    if memory_limit is not None:
        try:
            if parse_bytes(memory_limit) <= 0:
                raise ValueError("not a positive size")
        except (ValueError, TypeError):
            raise InputError(
                f"--memory-limit {memory_limit!r}: give a size per worker such as 4GB or 1500MB"
            ) from None
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
        memory_limit=memory_limit or "auto",
    )  # fmt: skip
    return Client(cluster)


def _prepare_dataset(out: Path, spec: BatchSpec) -> None:
    """Refuse a folder that is not new, empty or a batch dataset; mark it as ours."""
    marker = _read_marker(out / MARKER) if out.exists() else None
    if marker is None or marker.get("kind") != "batch":
        check_target(out)
        if out.exists() and any(out.iterdir()):
            raise InputError(
                f"--out {out}: a service-circle folder that is not a batch dataset; give a new "
                "or empty folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    from service_circle import __version__

    with atomic_write(out / MARKER) as fh:
        json.dump({"written_by": "service-circle", "version": __version__, "kind": "batch",
                   "spec": asdict(spec), "halo_m": spec.halo_m(), "bound_min": spec.bound().value,
                   "files": [*TABLES, "_done", "_failed", "summary.parquet", "summary.csv",
                             "report.html", "report.xlsx"]},
                  fh, ensure_ascii=False, indent=2)  # fmt: skip


# ---------------------------------------------------------------------- summary
def _write_summary(out: Path, tasks: pd.DataFrame, spec: BatchSpec) -> pd.DataFrame:
    """``summary.parquet`` / ``summary.csv`` and the ranked report over every unit."""
    rows = []
    finger = spec.fingerprint()
    for task in tasks.itertuples():
        done = _read_marker(out / "_done" / f"{task.area}.json")
        failed = _read_marker(out / "_failed" / f"{task.area}.json")
        if done is not None and done.get("fingerprint") == finger:
            rows.append(done)
        elif failed is not None:
            rows.append(failed)
        else:
            rows.append({"key": task.key, "name": task.name, "area": task.area,
                         "status": "not run", "error": ""})  # fmt: skip
    summary = pd.DataFrame(rows).drop(columns=["fingerprint"], errors="ignore")
    rank = summary["mean_share"] if "mean_share" in summary else pd.Series(np.nan, summary.index)
    summary = summary.assign(_failed=summary["status"] != "done", _rank=rank)
    summary = summary.sort_values(["_failed", "_rank"], ascending=[False, True], kind="stable")
    summary = summary.drop(columns=["_failed", "_rank"]).reset_index(drop=True)
    summary.insert(0, "rank", np.arange(1, len(summary) + 1))
    summary["halo_m"] = spec.halo_m()
    summary["bound_min"] = spec.bound().value
    with atomic_write(out / "summary.parquet", "wb") as fh:
        summary.to_parquet(fh, index=False)
    write_csv(summary, out / "summary.csv")  # a key such as =2+2 stays text in Excel
    from service_circle.batch_report import write_batch_report

    write_batch_report(summary, out, lang=_lang(spec, tasks))
    return summary


def _lang(spec: BatchSpec, tasks: pd.DataFrame) -> str:
    if spec.lang != "auto":
        return spec.lang
    from service_circle.coords import in_china

    boxes = [b for b in tasks["box"] if b is not None]
    if not boxes:
        return "en"
    lon = np.array([(b[0] + b[2]) / 2 for b in boxes])
    lat = np.array([(b[1] + b[3]) / 2 for b in boxes])
    return "zh" if in_china(lon, lat).mean() >= 0.5 else "en"


def read_table(out: str | os.PathLike, table: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """One table of a batch dataset, every unit's partition (empty when none has rows)."""
    if table not in TABLES:
        raise InputError(f"no table {table!r} in a batch dataset: one of {', '.join(TABLES)}")
    folder = Path(out) / table
    if not folder.is_dir() or not any(folder.iterdir()):
        return pd.DataFrame()
    try:
        return gpd.read_parquet(folder)
    except ValueError:  # a table without geometry
        return pd.read_parquet(folder)


def describe_tasks(tasks: pd.DataFrame) -> list[str]:
    """Lines for ``--dry-run``: each task, the size of the box it reads, its status."""
    lines = []
    for t in tasks.itertuples():
        size = f"{t.box_km2:,.0f} km²" if np.isfinite(t.box_km2) else "no geometry"
        lines.append(f"{t.key}\t{t.name}\t{size}\t{t.status}")
    return lines
