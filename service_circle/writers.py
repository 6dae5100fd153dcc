"""Writing results: CSV for people and GeoJSON for maps and machines, one rule for each.

- CSV: UTF-8 with a BOM (Excel then reads Chinese text right), written atomically; a text
  cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` …: a POI
  named ``=HYPERLINK(…)``) is written with a leading ``'``, so that it stays text.
- XLSX: the same tables as sheets; text is always a text cell, never a formula.
- GeoJSON: RFC 7946 — WGS-84 longitude/latitude, no ``bbox`` members; a NaN or infinite
  number is ``null``, an empty geometry is ``null``. The command line's files
  (:func:`write_geojson`) and the API's answers (:func:`feature_collection`) are written by
  the same code, so they say the same thing the same way.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle.folders import atomic_write

logger = logging.getLogger(__name__)


#: How a spreadsheet cell that runs as a formula begins (OWASP: CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """Text a spreadsheet shows as text: a formula-like string gets a leading ``'``.

    Numbers written as text (``"-5"``, ``"+86 10 1234"`` is not one) are left alone.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as UTF-8 CSV with a BOM (Excel then reads Chinese right), atomically.

    Text cells that a spreadsheet would run as formulas stay text (:func:`spreadsheet_text`).
    """
    text = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) == "str"
            or isinstance(frame[c].dtype, pd.StringDtype)]  # fmt: skip
    if text:
        frame = frame.assign(**{str(c): frame[c].map(spreadsheet_text) for c in text})
    with atomic_write(path, "w", encoding="utf-8-sig") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
    return Path(path)


def features(frame: gpd.GeoDataFrame) -> list[dict]:
    """The rows of a GeoDataFrame as RFC 7946 features (WGS-84; NaN and empty → null)."""
    if frame.empty:
        return []
    frame = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
    collection = json.loads(frame.to_json(na="null", drop_id=True, to_wgs84=True))
    for feature in collection["features"]:
        feature.pop("bbox", None)
        if feature["geometry"] is not None and not feature["geometry"].get("coordinates"):
            feature["geometry"] = None  # an empty geometry is null in RFC 7946
        feature["properties"] = {k: json_safe(v) for k, v in feature["properties"].items()}
    return collection["features"]


def geojson_text(frame: gpd.GeoDataFrame, **members: Any) -> str:
    """A FeatureCollection of ``frame`` as text, with extra top-level (foreign) members."""
    body: dict[str, Any] = {"type": "FeatureCollection", "features": features(frame)}
    body |= {k: json_safe(v) for k, v in members.items()}
    return json.dumps(body, ensure_ascii=False, allow_nan=False)


def feature_collection(frame: gpd.GeoDataFrame, **members: Any) -> bytes:
    """:func:`geojson_text` as UTF-8 bytes (the API's answers)."""
    return geojson_text(frame, **members).encode("utf-8")


def write_geojson(frame: gpd.GeoDataFrame, path: str | os.PathLike, **members: Any) -> Path:
    """Write RFC 7946 GeoJSON (WGS-84 lon/lat), atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(geojson_text(frame, **members))
    return Path(path)


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """A workbook with one sheet per table (openpyxl), written atomically.

    Columns are sized to their text, the header row frozen.
    """
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        _workbook(sheets).save(fh)
    return path


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """The workbook of :func:`write_xlsx` as bytes (a download)."""
    import io

    buffer = io.BytesIO()
    _workbook(sheets).save(buffer)
    return buffer.getvalue()


def _workbook(sheets: dict[str, pd.DataFrame]) -> Any:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name[:31])
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
        for cells in sheet.iter_rows(min_row=1):
            for cell in cells:  # text is text: never a formula (openpyxl reads "=…" as one)
                if cell.data_type == "f":
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
        for i, column in enumerate(frame.columns, start=1):
            width = max([len(str(column)), *(len(str(v)) for v in frame[column].head(200))])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, 2 + 1.6 * width)
    return book


def _cell(value: Any) -> Any:
    """A value openpyxl writes: numbers and text; NaN, NA and None as an empty cell."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def json_safe(value: Any) -> Any:
    """JSON-safe: NaN/inf → null, numpy scalars → Python."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
