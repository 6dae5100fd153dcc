"""Reading the files a planning office hands over (writing is :mod:`.writers`).

:func:`read_table`, :func:`read_points` and :func:`read_points_with_report`:

- **Encodings.** Tables may be UTF-8 (with or without BOM), GBK or GB18030 (what Excel
  saves in China): detected with ``charset-normalizer``, or given as ``encoding``.
- **Coordinates scoped to their file.** A GeoJSON is WGS-84 (RFC 7946); a GeoPackage,
  Shapefile or GeoParquet carries its own CRS; a table (CSV/XLSX) has none, so the
  caller states it (``crs`` for this file, or ``table_crs``, the default for tables). A
  table that looks like an Amap / Tencent / Baidu export (``location``, ``typecode``,
  ``adcode`` …) is refused unless its system is stated: those are GCJ-02 or BD-09, and
  taking them as WGS-84 would move every point 300–1000 m.
- **Columns by name or alias**, Chinese included: ``lon``/``lng``/``经度``,
  ``lat``/``纬度``, or one ``location`` column ``"lon,lat"`` (Amap).
- **Nothing dropped.** Rows without usable coordinates are kept with an empty geometry and
  named in the report; a row whose latitude is not a latitude while its longitude is (lon
  and lat swapped) is swapped back and named.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from service_circle._errors import CRSError, InputError, InputNotFoundError
from service_circle.coords import chinese_crs, geometry_to_wgs84

logger = logging.getLogger(__name__)

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "gcj_lng", "wgs_lng")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "gcj_lat", "wgs_lat")
LOCATION_NAMES = ("location", "坐标", "经纬度", "lnglat", "lonlat")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb")
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xls")
#: Columns that only exports from Chinese map services carry (Amap, Tencent, Baidu).
EXPORT_COLUMNS = (
    "location", "typecode", "adcode", "citycode", "pcode", "pname", "cityname", "adname",
    "biz_type", "business_area", "navi_poiid", "entr_location", "gridcode", "ad_info",
    "uid", "street_id", "detail_info",
)  # fmt: skip
#: Chinese headers of the platforms' POI exports (Amap's, and the download tools').
EXPORT_COLUMNS_ZH = (
    "类型编码", "区域编码", "城市编码", "行政区编码", "高德id", "poi编号", "百度uid",
)  # fmt: skip
#: Columns that may hold a platform's type text (``大类;中类;小类``).
TYPE_TEXT_COLUMNS = ("type", "类型", "分类", "poi类型")
_TEXT_ENCODINGS = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "hz": "gb18030"}


@dataclass
class ReadReport:
    """What reading a file understood: format, coordinates, encoding, rows not usable.

    Attributes
    ----------
    what
        The file's name for messages.
    coordinates
        One line: the coordinate system taken and why (e.g. ``"GeoJSON: WGS-84
        (RFC 7946)"`` or ``"GCJ-02 (stated), converted to WGS-84"``).
    encoding
        The text encoding of a table (``None`` for other formats).
    problems
        ``(line, reason)`` of rows kept without a location, or changed (swapped lon/lat).
    columns
        Which column was read for what, where it was found by an alias.
    """

    what: str
    coordinates: str = ""
    encoding: str | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the console: the file, its coordinates and its encoding."""
        parts = [self.coordinates]
        if self.encoding:
            parts.append(f"encoding {self.encoding}")
        if self.columns:
            parts.append(", ".join(f"{k} from {v!r}" for k, v in self.columns.items()))
        return f"read {self.what}: " + "; ".join(p for p in parts if p)


def check_file(path: Path, what: str) -> None:
    """Raise a clear error when ``path`` is missing or empty."""
    if not path.exists():
        raise InputNotFoundError(f"{what} does not exist")
    if path.is_dir():
        raise InputError(f"{what} is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} is empty")


def normalise_name(name: object) -> str:
    """A column name compared loosely: NFKC, lower case, no spaces, dashes and tildes as -."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = re.sub(r"\s+", "", text)
    return re.sub(r"[－—–~～至到]", "-", text)


def find_column(
    columns: Sequence[object], names: Sequence[str], *, given: str | None = None, what: str = ""
) -> object | None:
    """The column among ``columns`` matching one of ``names`` (loosely), or ``given``.

    Raises
    ------
    InputError
        If ``given`` is not a column.
    """
    if given is not None and given in columns:
        return given
    loose = {normalise_name(c): c for c in columns}
    if given is None:
        return next((loose[key] for n in names if (key := normalise_name(n)) in loose), None)
    if normalise_name(given) in loose:
        return loose[normalise_name(given)]
    raise InputError(f"{what} has no column {given!r} (columns: {', '.join(map(str, columns))})")


def decode(data: bytes, what: str, encoding: str | None = None) -> tuple[str, str]:
    """Text of a file's bytes and the encoding used (UTF-8 with or without BOM, GBK …).

    Raises
    ------
    InputError
        If ``encoding`` does not decode the file, or no encoding could be found.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(
                f"cannot read {what} as {encoding} ({exc}): give the file's encoding with "
                "--encoding (utf-8, gb18030 …)"
            ) from None
    bom = data[:3] == b"\xef\xbb\xbf"
    try:
        return data.decode("utf-8-sig"), "UTF-8 with BOM" if bom else "UTF-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    name = None if best is None else str(best.encoding).lower()
    name = _TEXT_ENCODINGS.get(name or "", name)
    if name is None:
        raise InputError(
            f"cannot tell the text encoding of {what}: save it as UTF-8, or give --encoding "
            "(gb18030 for files saved by Excel in China)"
        )
    try:
        return data.decode(name), name.upper().replace("_", "-")
    except (UnicodeDecodeError, LookupError):
        raise InputError(
            f"cannot read {what} as text (tried UTF-8 and {name}): give --encoding"
        ) from None


#: The most rows a sheet can hold in Excel (2^20): a workbook with more was not made by a
#: spreadsheet, and reading it cell by cell would take many minutes.
MAX_SHEET_ROWS = 1_048_576


def _check_sheet_rows(path: Path, what: str) -> None:
    """Refuse a workbook whose first sheet has more rows than Excel holds.

    The rows are counted in the sheet's XML as it is decompressed, without reading a cell
    (a declared size can lie: 2 million empty rows pack into 0.6 MB).
    """
    import zipfile

    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):  # not a workbook: pandas says why below
        return
    with book:
        sheets = sorted((n for n in book.namelist()
                         if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                        key=lambda n: int(re.sub(r"\D", "", n)))  # fmt: skip
        if not sheets:
            return
        rows, tail = 0, b""
        with book.open(sheets[0]) as fh:
            while chunk := fh.read(1 << 20):
                block = tail + chunk
                rows += block.count(b"<row ") + block.count(b"<row>")
                tail = block[-5:]
                rows -= tail.count(b"<row ") + tail.count(b"<row>")
                if rows + tail.count(b"<row ") > MAX_SHEET_ROWS:
                    raise InputError(
                        f"{what}: its first sheet has more than {MAX_SHEET_ROWS:,} rows, more "
                        "than a spreadsheet holds: export the rows you need, or save them as "
                        "CSV"
                    )


def read_table(
    path: str | os.PathLike, *, what: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """Read a CSV (any delimiter, UTF-8/GBK/GB18030) or an Excel sheet, every cell as text.

    Cells are read as text so that codes keep their leading zeros (Amap typecode
    ``050000``); numbers are converted where they are used. The encoding used is in
    ``table.attrs["encoding"]``.

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
    used = None
    try:
        if path.suffix.lower() == ".xlsx":
            _check_sheet_rows(path, what)
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=object)
            table = table.map(lambda v: v if v is None or isinstance(v, float) else str(v))
        else:
            text, used = decode(path.read_bytes(), what, encoding)
            table = pd.read_csv(io.StringIO(text), sep=None, engine="python", dtype=str)
    except InputError:
        raise
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
    table.columns = [str(c).strip() for c in table.columns]
    table.attrs["encoding"] = used
    return table


def looks_like_export(columns: Sequence[object], table: pd.DataFrame | None = None) -> list[str]:
    """The columns that mark a table as an Amap / Tencent / Baidu export (maybe none).

    Their own column names (``typecode``, ``adcode`` … and the Chinese headers the
    platforms' download tools write: ``类型编码``, ``区域编码`` …), or, with ``table``, a type
    column (``type``, ``类型``, ``分类``) holding the platforms' type text in levels
    (``购物服务;便民商店/便利店;便民商店/便利店``): a POI export with Chinese headers is
    GCJ-02 or BD-09 too.
    """
    loose = {normalise_name(c): str(c) for c in columns}
    found = [loose[c] for c in (*EXPORT_COLUMNS, *EXPORT_COLUMNS_ZH) if c in loose]
    if table is not None:
        for name in TYPE_TEXT_COLUMNS:
            column = loose.get(name)
            if column is None or column in found or column not in table:
                continue
            values = table[column].dropna().astype(str).head(200)
            levels = values.str.count(r"[;|；]") >= 1
            if len(values) and levels.mean() >= 0.5:
                found.append(column)
    return found


def read_points(
    source: str | os.PathLike | pd.DataFrame,
    *,
    crs: str | None = None,
    table_crs: str | None = None,
    what: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    location: str | None = None,
) -> gpd.GeoDataFrame:
    """Read points from a vector file, or from a CSV/XLSX (or a table) with coordinates.

    Rows whose coordinates are missing or not numbers are kept with an empty geometry, so
    that they are reported (status ``no_geometry``) rather than silently dropped. See
    :func:`read_points_with_report` for the parameters and for what was understood.
    """
    frame, report = read_points_with_report(
        source, crs=crs, table_crs=table_crs, what=what, encoding=encoding, lon=lon, lat=lat,
        location=location,
    )  # fmt: skip
    for line, reason in report.problems[:10]:
        logger.warning("%s, line %d: %s", report.what, line, reason)
    return frame


def read_points_with_report(
    source: str | os.PathLike | pd.DataFrame,
    *,
    crs: str | None = None,
    table_crs: str | None = None,
    what: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    location: str | None = None,
    bbox: BBox | None = None,
) -> tuple[gpd.GeoDataFrame, ReadReport]:
    """Points (or polygons) of a file or table, and a report of what was understood.

    Parameters
    ----------
    source
        ``.csv``/``.xlsx`` (longitude/latitude columns, or a ``location`` column
        ``"lon,lat"``), a vector file (``.geojson``, ``.gpkg``, ``.shp``, ``.parquet``), or
        a DataFrame with such columns.
    crs
        The coordinate system of this input, stated by the user: ``"wgs84"``, ``"gcj02"``
        (Amap, Tencent), ``"bd09"`` (Baidu), or an EPSG code such as ``"EPSG:4547"``
        (``x``/``y`` in metres). It applies whatever the format; the Chinese systems are
        converted to WGS-84.
    table_crs
        The coordinate system of tables (CSV/XLSX) when ``crs`` is not given (the
        command line's ``--input-crs``); vector files keep their own.
    what
        Name for messages (default: the path).
    encoding
        The text encoding of a CSV (default: detected).
    lon, lat, location
        Column names, where they are not found by their usual names.

    bbox
        Read only the features near this box (WGS-84 ``west, south, east, north``) of a
        GeoPackage, FlatGeobuf or shapefile (through its spatial index) or a GeoParquet
        file with a bbox column; tables are read whole. The box is grown by about a
        kilometre (a datum shift): the caller keeps what it needs.

    Returns
    -------
    geopandas.GeoDataFrame, ReadReport
        The rows, with geometry in WGS-84 (EPSG:4326) unless ``crs`` names another EPSG.

    Raises
    ------
    InputNotFoundError
        If the file does not exist.
    InputError
        If it is empty, unreadable, has no geometry or coordinate columns, or looks like an
        export of a Chinese map service while its coordinate system is not stated.
    """
    if isinstance(source, pd.DataFrame):
        report = ReadReport(what or "table")
        frame = _points_from_table(source, report, crs or table_crs, lon, lat, location)
        return frame, report
    path = Path(source)
    report = ReadReport(what or str(path))
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        table = read_table(path, what=report.what, encoding=encoding)
        report.encoding = table.attrs.get("encoding")
        frame = _points_from_table(table, report, crs or table_crs, lon, lat, location)
        return frame, report
    check_file(path, report.what)
    if suffix not in VECTOR_SUFFIXES:
        raise InputError(
            f"cannot tell the format of {report.what}: use .csv/.xlsx (lon, lat columns) or "
            f"{', '.join(VECTOR_SUFFIXES)}"
        )
    try:
        with warnings.catch_warnings():
            # a column mixing numbers and text stays text: the numbers are checked where
            # they are used, with the row and the value named
            warnings.filterwarnings(
                "ignore", message="Could not parse column", category=UserWarning
            )
            shp_encoding = None
            if suffix == ".shp":
                shp_encoding, said = shapefile_encoding(path, encoding)
                report.encoding = said.removeprefix("encoding ") or None
            frame = _read_vector(path, bbox, shp_encoding)
    except InputError:
        raise
    except Exception as exc:  # pyogrio / JSON errors: name the file, not the stack
        raise InputError(f"cannot read {report.what} ({type(exc).__name__}: {exc})") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise InputError(
            f"{report.what} has no geometry: give points (GeoJSON/GeoPackage) or a CSV with "
            "lon and lat columns"
        )
    if frame.empty:
        raise InputError(f"{report.what} has no features")
    kind = "GeoJSON" if suffix in (".geojson", ".json") else suffix.lstrip(".").upper()
    if crs is not None:
        report.coordinates = f"{kind}, taken as {_system_label(crs)} (stated for this file)"
        return _declare(frame, crs, report.what), report
    if suffix in (".geojson", ".json"):
        declared = frame.crs
        if declared is not None and not declared.equals(pyproj.CRS("EPSG:4326")):
            report.coordinates = f"GeoJSON declaring {declared.to_string()}, converted to WGS-84"
            return frame.to_crs("EPSG:4326"), report
        report.coordinates = "GeoJSON: WGS-84 (RFC 7946)"
        return frame.set_crs("EPSG:4326", allow_override=True), report
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise CRSError(
                f"{report.what} declares no coordinate system and its coordinates are not "
                "degrees: state it with the file's CRS option (e.g. EPSG:4547 for CGCS2000 "
                "3-degree Gauss-Kruger, central meridian 114°E)"
            )
        report.coordinates = f"{kind} declaring no CRS: degrees taken as WGS-84"
        return frame.set_crs("EPSG:4326"), report
    report.coordinates = f"{kind}: its own CRS, {frame.crs.to_string()}"
    return frame, report


def shapefile_encoding(path: Path, encoding: str | None = None) -> tuple[str | None, str]:
    """The text encoding of a Shapefile's attributes, and how it was found.

    A ``.cpg`` beside the file names it (GDAL reads it; ``None`` is returned). Without one,
    GDAL would take the bytes as Latin-1 and a GBK file (ArcGIS in China writes many)
    would come out garbled: the ``.dbf``'s field names and records are decoded here as a
    CSV is (UTF-8, else detected: GBK / GB18030). ``encoding`` (``--encoding``) wins.
    """
    if encoding is not None:
        return encoding, f"encoding {encoding} (stated)"
    cpg = next((p for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")) if p.exists()),
               None)  # fmt: skip
    if cpg is not None:
        return None, f"encoding {cpg.read_text(errors='replace').strip() or '?'} (its .cpg)"
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()),
               None)  # fmt: skip
    if dbf is None:
        return None, ""
    data = dbf.read_bytes()
    header = int.from_bytes(data[8:10], "little") if len(data) >= 32 else len(data)
    names = b" ".join(data[i : i + 11].split(b"\0", 1)[0] for i in range(32, header - 31, 32))
    text = names + b" " + data[header:]
    if text.isascii():
        return None, ""
    _, used = decode(text, str(dbf))
    if used.startswith("UTF-8"):
        return "UTF-8", "encoding UTF-8 (no .cpg: detected)"
    return used, f"encoding {used} (no .cpg: detected)"


def as_points(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """``frame`` with every area or line (a lot, a building) replaced by a point inside it.

    Returns the frame and how many geometries were replaced; points, missing and empty
    geometries stay as they are.
    """
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    area = present & (shapely.get_type_id(geoms) != 0)
    if area.any():
        geoms = geoms.copy()
        geoms[area] = shapely.point_on_surface(geoms[area])
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
    return frame, int(area.sum())


def _read_vector(path: Path, bbox: BBox | None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """A vector file, or the part of it near ``bbox`` where its format can read a part."""
    parquet = path.suffix.lower() in (".parquet", ".geoparquet")
    options = {"encoding": encoding} if encoding else {}
    if bbox is None:
        return gpd.read_parquet(path) if parquet else gpd.read_file(path, **options)
    wide = (bbox[0] - 0.01, bbox[1] - 0.01, bbox[2] + 0.01, bbox[3] + 0.01)
    try:
        if parquet:  # its bbox is in the file's CRS: only degrees are read by box
            return gpd.read_parquet(path, bbox=wide) if _parquet_in_degrees(path) else (
                gpd.read_parquet(path))  # fmt: skip
        return gpd.read_file(path, mask=gpd.GeoSeries([shapely.box(*wide)], crs="EPSG:4326"),
                             **options)  # fmt: skip
    except ValueError:  # no bbox column, or no CRS to reproject the box to: read it whole
        return gpd.read_parquet(path) if parquet else gpd.read_file(path, **options)


def _parquet_in_degrees(path: Path) -> bool:
    """Whether a GeoParquet file's geometry is in longitude/latitude (its default)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path).metadata or {}
    geo = json.loads(meta.get(b"geo", b"{}"))
    column = geo.get("columns", {}).get(geo.get("primary_column", "geometry"), {})
    crs = column.get("crs", "OGC:CRS84")  # absent: longitude/latitude
    return crs is None or pyproj.CRS.from_user_input(crs).is_geographic


def _system_label(crs: str) -> str:
    system = chinese_crs(crs)
    if system == "gcj02":
        return "GCJ-02, converted to WGS-84"
    if system == "bd09":
        return "BD-09, converted to WGS-84"
    if system == "wgs84":
        return "WGS-84"
    return str(crs)


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


def _numbers(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip().str.replace("°", "", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(np.float64)


def _points_from_table(
    table: pd.DataFrame,
    report: ReadReport,
    crs: str | None,
    lon_name: str | None,
    lat_name: str | None,
    location_name: str | None,
) -> gpd.GeoDataFrame:
    what = report.what
    columns = list(table.columns)
    lon_col = find_column(columns, LON_NAMES, given=lon_name, what=what)
    lat_col = find_column(columns, LAT_NAMES, given=lat_name, what=what)
    loc_col = find_column(columns, LOCATION_NAMES, given=location_name, what=what)
    if location_name is None and lon_col is not None and lat_col is not None:
        loc_col = None  # separate columns win over a location column
    if loc_col is not None:
        parts = table[loc_col].astype("string").str.replace("，", ",").str.split(",", n=1)
        lon = _numbers(parts.str[0])
        lat = _numbers(parts.str[1])
        report.columns["lon,lat"] = str(loc_col)
    elif lon_col is not None and lat_col is not None:
        lon, lat = _numbers(table[lon_col]), _numbers(table[lat_col])
        for key, col in (("lon", lon_col), ("lat", lat_col)):
            if normalise_name(col) != key:
                report.columns[key] = str(col)
    else:
        raise InputError(
            f"{what} has no coordinate columns (found {', '.join(map(str, columns))}): name "
            'them lon and lat (经度, 纬度), or give one location column "lon,lat"'
        )
    if crs is None:
        export = looks_like_export(columns, table)
        if export:
            raise CRSError(
                f"{what} looks like an export of a Chinese map service (columns "
                f"{', '.join(export)}), whose coordinates are GCJ-02 (Amap, Tencent) or BD-09 "
                "(Baidu), 300-1000 m from WGS-84: say which with the file's CRS option "
                "(e.g. --crs gcj02, or --facilities-crs gcj02)"
            )
        report.coordinates = "a table: WGS-84 (no coordinate system stated)"
        crs_used = "wgs84"
    else:
        report.coordinates = f"a table: {_system_label(crs)} (stated)"
        crs_used = crs
    degrees = _in_degrees(crs_used)
    line = np.arange(len(table)) + 2  # header on line 1
    if degrees:
        swapped = (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
        for i in np.flatnonzero(swapped):
            report.problems.append(
                (int(line[i]), f"longitude and latitude swapped (lon {lon[i]:g}, lat {lat[i]:g} "
                 "is not a latitude): read as swapped back")
            )  # fmt: skip
        lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if degrees:
        bad |= (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.all():
        unit = "in degrees" if degrees else ""
        raise InputError(f"{what}: no row has numeric coordinates {unit}".rstrip())
    for i in np.flatnonzero(bad):
        report.problems.append((int(line[i]), "no usable location (coordinates missing, not "
                                "numbers or out of range)"))  # fmt: skip
    report.problems.sort()
    geometry = shapely.points(np.where(bad, np.nan, lon), np.where(bad, np.nan, lat))
    geometry[bad] = None
    frame = gpd.GeoDataFrame(table.copy(), geometry=geometry, crs="EPSG:4326")
    return _declare(frame, crs_used, what) if crs_used != "wgs84" else frame


#: A box in longitude and latitude (WGS-84): ``(west, south, east, north)``.
BBox = tuple[float, float, float, float]


def open_pbf(path: str | os.PathLike, bbox: BBox | None = None) -> Any:
    """A pyrosm reader of an ``.osm.pbf`` file; with ``bbox``, of what lies in that box.

    pyrosm's default (out-of-core) engine streams the file once and keeps only the box:
    a county read out of a national file without loading the nation.
    """
    import pyrosm

    return pyrosm.OSM(str(path), bounding_box=None if bbox is None else [float(v) for v in bbox])


@contextmanager
def edge_of_extract_quiet() -> Iterator[None]:
    """Silence pyrosm's warning that relations run beyond the file's or the box's edge.

    Every extract cuts some relations (a landuse area, a riverbank); the warning says so
    on every read, and where warnings are errors it would abort the read. The halo of a
    batch, and the file's own extent otherwise, are what bound such cuts.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*extend beyond the bounding box")
        yield


def check_box_source(path: Path, bbox: BBox | None) -> None:
    """Refuse a box on an OSM XML file (read whole by osmnx): only PBF is read by box."""
    if bbox is not None and not path.name.lower().endswith(".pbf"):
        raise InputError(
            f"{path}: reading a box out of an OSM file needs an .osm.pbf file; convert it "
            "(e.g. `osmium cat FILE.osm -o FILE.osm.pbf`)"
        )
