"""GeoJSON responses: RFC 7946 (WGS-84, lon/lat) with media type ``application/geo+json``.

The text is written by :func:`service_circle.writers.feature_collection`, the same writer as
the command line's files.
"""

from __future__ import annotations

import json
from typing import Any

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
