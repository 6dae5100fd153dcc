"""GeoJSON responses: RFC 7946 (WGS-84, lon/lat) with media type ``application/geo+json``."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
from fastapi.responses import JSONResponse

MEDIA_TYPE = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """A response whose body is already GeoJSON text (or a dict to serialise).

    A JSON response to FastAPI, so that the OpenAPI schema of a GeoJSON route is the
    FeatureCollection model alone.
    """

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        """Bytes as they are; anything else as JSON."""
        if isinstance(content, bytes):
            return content
        return json.dumps(content, ensure_ascii=False, allow_nan=False).encode("utf-8")


def features(frame: gpd.GeoDataFrame) -> list[dict]:
    """The rows of a GeoDataFrame as GeoJSON features (WGS-84; NaN → null)."""
    if frame.empty:
        return []
    frame = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
    collection = json.loads(frame.to_json(na="null", drop_id=True, to_wgs84=True))
    for feature in collection["features"]:
        feature.pop("bbox", None)
        if feature["geometry"] is not None and not feature["geometry"].get("coordinates"):
            feature["geometry"] = None  # an empty geometry is null in RFC 7946
        feature["properties"] = {k: _clean(v) for k, v in feature["properties"].items()}
    return collection["features"]


def feature_collection(frame: gpd.GeoDataFrame, **members: Any) -> bytes:
    """A FeatureCollection of the frame, with extra top-level members (foreign members)."""
    body = {"type": "FeatureCollection", "features": features(frame)}
    body |= {k: _clean(v) for k, v in members.items()}
    return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf → null, numpy scalars → Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
