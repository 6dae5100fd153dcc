"""Reading point files and writing results atomically.

Points (facilities, homes) come as GeoJSON, GeoPackage, Shapefile, GeoParquet, or CSV with
longitude/latitude columns in WGS-84. Results are written to a temporary file beside the
target and renamed over it, so that a reader never sees half a file and a failed run
leaves the previous result in place.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from service_circle._errors import CRSError, InputError, InputNotFoundError
from service_circle.coords import chinese_crs, geometry_to_wgs84

logger = logging.getLogger(__name__)

LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb")


def check_file(path: Path, what: str) -> None:
    """Raise a clear error when ``path`` is missing or empty."""
    if not path.exists():
        raise InputNotFoundError(f"{what} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"{what} is empty")


def read_table(path: str | os.PathLike, *, what: str | None = None) -> pd.DataFrame:
    """Read a CSV (any delimiter, UTF-8 with or without BOM) or an Excel sheet.

    Raises
    ------
    InputNotFoundError
        If the file does not exist.
    InputError
        If it is empty or cannot be parsed.
    """
    path = Path(path)
    what = what or str(path)
    check_file(path, what)
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path)
        else:
            table = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig")
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        csv.Error,
        ValueError,
        ImportError,
    ) as exc:
        raise InputError(f"cannot read {what} as a table ({exc})") from None
    if table.empty:
        raise InputError(f"{what} has a header but no rows")
    return table


def read_points(
    source: str | os.PathLike | pd.DataFrame,
    *,
    crs: str | None = None,
    what: str | None = None,
) -> gpd.GeoDataFrame:
    """Read points from a vector file, or from a CSV/XLSX (or a table) with lon/lat columns.

    Rows whose coordinates are missing or not numbers are kept with an empty geometry, so
    that they are reported (status ``no_geometry``) rather than silently dropped.

    Parameters
    ----------
    source
        ``.csv``/``.xlsx`` (columns ``lon``/``lat``, or ``lng``/``longitude``/``x`` and
        ``latitude``/``y``), a vector file (``.geojson``, ``.gpkg``, ``.shp``,
        ``.parquet``), or a DataFrame with such columns.
    crs
        The coordinate system of the coordinates: ``"wgs84"`` (the default for tables
        and for files that declare none), ``"gcj02"`` (Amap, Tencent), ``"bd09"``
        (Baidu), or an EPSG code such as ``"EPSG:4547"`` (``x``/``y`` columns in metres).
        The Chinese systems are converted to WGS-84; it overrides what a file declares.
    what
        Name for messages (default: the path).

    Returns
    -------
    geopandas.GeoDataFrame
        The rows, with geometry in WGS-84 (EPSG:4326) unless ``crs`` names another EPSG.

    Raises
    ------
    InputNotFoundError
        If the file does not exist.
    InputError
        If it is empty, unreadable, has no geometry or no lon/lat columns.
    """
    if isinstance(source, pd.DataFrame):
        what = what or "table"
        return _declare(_points_from_table(source, what, degrees=_in_degrees(crs)), crs, what)
    path = Path(source)
    what = what or str(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv", ".xlsx", ".xls"):
        table = read_table(path, what=what)
        return _declare(_points_from_table(table, what, degrees=_in_degrees(crs)), crs, what)
    check_file(path, what)
    if suffix not in VECTOR_SUFFIXES:
        raise InputError(
            f"cannot tell the format of {what}: use .csv/.xlsx (lon, lat columns) or "
            f"{', '.join(VECTOR_SUFFIXES)}"
        )
    try:
        if suffix in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio / JSON errors: name the file, not the stack
        raise InputError(f"cannot read {what} ({type(exc).__name__}: {exc})") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise InputError(
            f"{what} has no geometry: give points (GeoJSON/GeoPackage) or a CSV with "
            "lon and lat columns"
        )
    if frame.empty:
        raise InputError(f"{what} has no features")
    if frame.crs is None and crs is None:
        logger.warning("%s declares no CRS: assuming WGS-84 (EPSG:4326)", what)
        frame = frame.set_crs("EPSG:4326")
    return _declare(frame, crs, what)


def _declare(frame: gpd.GeoDataFrame, crs: str | None, what: str) -> gpd.GeoDataFrame:
    """Apply the caller's statement of the coordinate system, converting to WGS-84."""
    if crs is None:
        return frame
    system = chinese_crs(crs)
    if system is None:
        try:
            return frame.set_crs(crs, allow_override=True)
        except Exception:
            raise CRSError(
                f"{what}: unknown coordinate system {crs!r}: use wgs84, gcj02, bd09 or an "
                "EPSG code such as EPSG:4547"
            ) from None
    frame = frame.set_crs("EPSG:4326", allow_override=True)
    if system == "wgs84":
        return frame
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out = geoms.copy()
    out[present] = geometry_to_wgs84(geoms[present], system)
    logger.info("%s: converted %d features from %s to WGS-84", what, int(present.sum()), system)
    return frame.set_geometry(gpd.GeoSeries(out, index=frame.index, crs="EPSG:4326"))


def _in_degrees(crs: str | None) -> bool:
    """Whether coordinates in ``crs`` are longitude/latitude degrees."""
    if crs is None or chinese_crs(crs) is not None:
        return True
    try:
        return pyproj.CRS.from_user_input(crs).is_geographic
    except pyproj.exceptions.CRSError:
        raise CRSError(
            f"unknown coordinate system {crs!r}: use wgs84, gcj02, bd09 or an EPSG code "
            "such as EPSG:4547"
        ) from None


def _points_from_table(table: pd.DataFrame, what: str, *, degrees: bool) -> gpd.GeoDataFrame:
    lower = {str(c).strip().lower(): c for c in table.columns}
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col is None or lat_col is None:
        raise InputError(
            f"{what} has no lon/lat columns (found {', '.join(map(str, table.columns))}): "
            "name them lon and lat (WGS-84 degrees)"
        )
    lon = pd.to_numeric(table[lon_col], errors="coerce").to_numpy(np.float64)
    lat = pd.to_numeric(table[lat_col], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if degrees:
        bad |= (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.all():
        unit = "in degrees" if degrees else ""
        raise InputError(f"{what}: no row has numeric coordinates {unit}".rstrip())
    if bad.any():
        rows = (np.flatnonzero(bad) + 2).tolist()  # +2: header line, 1-based
        logger.warning("%s: %d rows without usable lon/lat (lines %s)", what, bad.sum(), rows[:10])
    geometry = shapely.points(np.where(bad, np.nan, lon), np.where(bad, np.nan, lat))
    geometry[bad] = None
    return gpd.GeoDataFrame(table.copy(), geometry=geometry, crs="EPSG:4326")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    Examples
    --------
    >>> with atomic_write("out.csv") as fh:  # doctest: +SKIP
    ...     frame.to_csv(fh, index=False)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
        Path(tmp).chmod(0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as UTF-8 CSV, atomically."""
    with atomic_write(path, "w") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
    return Path(path)


def write_geojson(frame: gpd.GeoDataFrame, path: str | os.PathLike) -> Path:
    """Write RFC 7946 GeoJSON (WGS-84 lon/lat), atomically."""
    out = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
    text = out.to_json(drop_id=True, to_wgs84=False, ensure_ascii=False)
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)
