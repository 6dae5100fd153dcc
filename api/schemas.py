"""Request and response models (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Longest threshold a request may ask for.
MAX_MINUTES = 60.0
MAX_METRES = 5000.0

Crs = Literal["wgs84", "gcj02", "bd09"]
#: Error answers are JSON even on routes that answer GeoJSON or HTML.
JSON: dict = {"application/json": {}}


class Health(BaseModel):
    """Liveness."""

    status: str
    version: str
    studies: int


class Category(BaseModel):
    """A facility category of the catalogue."""

    key: str
    name: str = Field(description="In the requested language")
    name_zh: str
    name_en: str
    level: str = Field(description="Circle level (GB 50180 tier)")
    minutes: float
    metres: float
    capacity_unit: str
    group: str
    group_column: str
    basic_guarantee: bool


class ProfileOut(BaseModel):
    """A walking profile."""

    name: str
    speed_m_s: float
    description: str
    source: str


class StudySummary(BaseModel):
    """A study the service holds."""

    id: str
    name: str
    crs: str = Field(description="The projected CRS metric work happens in")
    bbox: list[float] = Field(description="[west, south, east, north], WGS-84")
    demand_points: int
    population: float
    facilities: int
    attribution: str


class StudyDetail(StudySummary):
    """A study with its network size, categories and placement of demand points."""

    nodes: int
    edges: int
    facilities_by_category: dict[str, int]
    demand_status: dict[str, int]
    categories: list[str]


class CoverageRow(BaseModel):
    """Population covered by one category within one threshold."""

    model_config = ConfigDict(extra="allow")

    category: str
    threshold: float
    unit: str
    profile: str
    facilities: int
    population: float
    covered: float
    share: float | None
    group: str
    group_population: float
    group_covered: float
    group_share: float | None


class Geometry(BaseModel):
    """A GeoJSON geometry."""

    model_config = ConfigDict(extra="allow")

    type: str
    coordinates: Any = None
    geometries: list[Any] | None = None


class Feature(BaseModel):
    """A GeoJSON feature."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946), with foreign members."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[Feature]


class Problem(BaseModel):
    """An error: what is wrong and how to fix it."""

    detail: Any


class NeighbourhoodRequest(BaseModel):
    """A neighbourhood polygon and the thresholds to summarise."""

    geometry: dict[str, Any] = Field(
        description="A GeoJSON Polygon or MultiPolygon (or a Feature holding one)",
        examples=[
            {
                "type": "Polygon",
                "coordinates": [[[24.93, 60.16], [24.95, 60.16], [24.95, 60.17], [24.93, 60.16]]],
            }
        ],
    )
    crs: Crs = "wgs84"
    minutes: list[float] = Field([5, 10, 15], min_length=1, max_length=6)
    profile: str | None = None
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> NeighbourhoodRequest:
        if any(not 0 < m <= MAX_MINUTES for m in self.minutes):
            raise ValueError(f"minutes must lie in (0, {MAX_MINUTES:g}]")
        return self


class Completeness(BaseModel):
    """Share of required categories reached, and who misses what (缺配)."""

    population: float
    score: float | None
    missing_share: dict[str, float]


class NeighbourhoodSummary(BaseModel):
    """Coverage inside a neighbourhood."""

    homes: int
    population: float
    coverage: list[CoverageRow]
    completeness: Completeness
    basic: Completeness


class ReachRequest(BaseModel):
    """A point and a threshold."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = "wgs84"
    minutes: float | None = Field(None, gt=0, le=MAX_MINUTES)
    metres: float | None = Field(None, gt=0, le=MAX_METRES)
    profile: str | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> ReachRequest:
        if self.minutes is not None and self.metres is not None:
            raise ValueError("give minutes or metres, not both")
        return self


class SitingRequest(BaseModel):
    """What to site: the category, p or a target share, the model."""

    category: str
    p: int | None = Field(None, ge=1, le=500)
    target_share: float | None = Field(None, gt=0, le=1)
    objective: Literal["mclp", "lscp", "pmedian"] | None = None
    minutes: float | None = Field(None, gt=0, le=MAX_MINUTES)
    metres: float | None = Field(None, gt=0, le=MAX_METRES)
    profile: str | None = None
    method: Literal["exact", "greedy"] = "exact"
    time_limit_s: float | None = Field(None, gt=0)
    candidates: dict[str, Any] | None = Field(
        None, description="A GeoJSON FeatureCollection of candidate points (default: in the gaps)"
    )
    candidates_crs: Crs = "wgs84"

    @model_validator(mode="after")
    def _check(self) -> SitingRequest:
        if (self.p is None) == (self.target_share is None):
            raise ValueError("give p (maximal coverage, p-median) or target_share (set cover)")
        if self.minutes is not None and self.metres is not None:
            raise ValueError("give minutes or metres, not both")
        return self
