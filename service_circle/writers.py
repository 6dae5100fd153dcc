"""Writing results: CSV for people and GeoJSON for maps and machines, one rule for each.

- CSV: UTF-8 with a BOM (Excel then reads Chinese text right), written atomically.
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


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as UTF-8 CSV with a BOM (Excel then reads Chinese right), atomically."""
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
