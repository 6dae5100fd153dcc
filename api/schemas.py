"""Request and response models (pydantic).

The OpenAPI schema states every rule the server enforces on a request — ranges, finite
numbers, which fields exclude each other, the geometry types — so that a request valid
by the schema is accepted and an invalid one is refused with 422 naming the field. What
only the data can decide (a point off the study's streets, a category the study's
catalogue lacks) is answered 404 or 422 with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from service_circle_api.settings import MAX_CANDIDATES

from service_circle._validate import MAX_METRES, MAX_MINUTES

#: Longest siting time limit a request may ask for (the setting may lower it).
MAX_TIME_LIMIT_S = 3600.0

Crs = Literal["wgs84", "gcj02", "bd09"]
#: The walking profiles, by name (GET /profiles); the same as PROFILES' keys (tested).
ProfileName = Literal[
    "adult", "adult_winter", "elderly", "elderly_winter", "slow", "wheelchair", "walker_frame"
]
#: Error answers are JSON even on routes that answer GeoJSON or HTML.
JSON: dict = {"application/json": {}}

# numbers are strict: JSON true/false or "5" is not a number (the schema says so too)
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
Elevation = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Position = tuple[Lon, Lat] | tuple[Lon, Lat, Elevation]
Minutes = Annotated[float, Field(gt=0, le=MAX_MINUTES, allow_inf_nan=False, strict=True)]
Metres = Annotated[float, Field(gt=0, le=MAX_METRES, allow_inf_nan=False, strict=True)]
_NOT_BOTH_THRESHOLDS: JsonDict = {
    "anyOf": [
        {"properties": {"minutes": {"type": "null"}}},
        {"properties": {"metres": {"type": "null"}}},
    ]
}


class Request(BaseModel):
    """A request body: finite numbers only, unknown fields refused."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


_CLOCK = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
_WEEKDAY = (r"(?:(?:周|星期|礼拜)[一二三四五六日天]|Monday|Tuesday|Wednesday|Thursday|Friday|"
            r"Saturday|Sunday|Mon|Tue|Wed|Thu|Fri|Sat|Sun|Mo|Tu|We|Th|Fr|Sa|Su)")  # fmt: skip
_DATE = (r"(?:19|20)[0-9]{2}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
         r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)")  # fmt: skip
#: What ``at`` accepts: a weekday and a time, or a date and time (29 February aside), with
#: an optional offset.
AT_PATTERN = (rf"^(?:{_WEEKDAY} ?{_CLOCK}|{_DATE}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
              rf"(?::[0-5][0-9])?(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?)$")  # fmt: skip
#: ``at`` in a request body (see GET routes' ``at``).
At = Annotated[
    str | None,
    Field(
        max_length=40,
        pattern=AT_PATTERN,
        description="Count only the facilities open then, local time at the study: "
        "'Tue 23:00', '周二 23:00' or '2026-12-05T12:00'",
    ),
]  # fmt: skip
UnknownHoursField = Annotated[
    Literal["open", "closed"],
    Field(description="Facilities without known hours count as open or closed"),
]


class Health(BaseModel):
    """Liveness."""

    status: str
    version: str
    studies: int = Field(description="Studies loaded")
    unavailable: int = Field(description="Studies found that did not load (GET /studies)")
    running: int = Field(description="Computations running now")
    waiting: int = Field(description="Computations waiting for a worker")
    stopped: int = Field(0, description="Computations stopped since the start because their "
                         "client closed the connection")  # fmt: skip


class Category(BaseModel):
    """A facility category of the catalogue."""

    key: str
    name: str = Field(description="In the requested language")
    name_zh: str
    name_en: str
    level: str = Field(
        description="Tier: block, 5min, 10min, 15min (GB 50180), village or township (TD/T 1062)"
    )
    level_name: str = Field(description="The tier's name in the requested language")
    minutes: float
    metres: float
    road_minutes: float | None = Field(
        None, description="The township circle by road, minutes (the 乡集镇 tier)"
    )
    capacity_unit: str
    group: str = Field(description="everyone, 60plus or an age band A_B (ages A to B-1)")
    group_column: str
    profile: str = Field(
        "adult",
        description="The walking profile it is judged under unless one is asked for "
        "(its served group's: elderly services under elderly)",
    )
    basic_guarantee: bool
    mofcom: str = Field(
        description="MOFCOM format: basic (基本保障类), quality (品质提升类) or empty"
    )
    clause: str = Field(description="The standard and clause the tier and distance follow")


class ProfileOut(BaseModel):
    """A walking profile."""

    name: str
    speed_m_s: float
    description: str
    source: str
    slope: str = Field(
        "tobler", description="The slope function on a network with heights (flat: none)"
    )
    avoids_steps: bool = Field(False, description="Whether highway=steps cannot be used at all")
    step_s: float | None = Field(
        None, description="Seconds per step on highway=steps (none: walked as a path)"
    )
    crossing_wait_s: dict[str, float] | None = Field(
        None,
        description="Mean wait to cross a major road, by class and at a signal, where a "
        "study's network knows its crossings (none: crossing is free)",
    )


class StudySummary(BaseModel):
    """A study the service holds; an unavailable one has only ``id``, ``status``, ``reason``."""

    id: str
    status: Literal["available", "unavailable"]
    reason: str | None = Field(None, description="Why an unavailable study did not load")
    name: str | None = None
    crs: str | None = Field(None, description="The projected CRS metric work happens in")
    bbox: list[float] | None = Field(None, description="[west, south, east, north], WGS-84")
    demand_points: int | None = None
    population: float | None = None
    facilities: int | None = None
    attribution: str | None = None


class StudyDetail(StudySummary):
    """A study with its network size, categories and placement of demand points."""

    nodes: int
    edges: int
    terrain: str | None = Field(
        None, description="Where the network's heights come from (none: walked flat)"
    )
    crossings: str | None = Field(
        None, description="The road crossings the network charges (none: crossing is free)"
    )
    facilities_by_category: dict[str, int]
    demand_status: dict[str, int]
    categories: list[str]
    units: int = Field(
        0, description="Planning units (社区 / 村) it holds; 0 when it was built without"
    )


class CoverageRow(BaseModel):
    """Population covered by one category within one threshold, and why the rest is not.

    The shares are over every resident: those the network cannot bring to a facility
    (``unreachable``, ``off_network``, ``blocked``, ``no_geometry``) count as not covered.
    """

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
    beyond_threshold: float = Field(description="Residents a facility reaches, but not in time")
    unreachable: float = Field(description="Residents on streets no facility can be reached from")
    off_network: float = Field(description="Residents farther than the snapping distance")
    blocked: float = Field(description="Residents across water from every street")
    no_geometry: float = Field(description="Residents without a location")


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


#: What each error status of a route means, unless the route says otherwise.
PROBLEMS: dict[int, str] = {
    400: "The body is not UTF-8 JSON",
    404: "Unknown study or category",
    413: "Body too large",
    422: "Invalid parameter",
    503: "Busy (see Retry-After), past the time limit, or the study is unavailable",
}


def problems(
    *statuses: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's error statuses, each a :class:`Problem`."""
    text = {**PROBLEMS, **(described or {})}
    return {s: {"model": Problem, "content": JSON, "description": text[s]} for s in statuses}


Ring = Annotated[list[Position], Field(min_length=4)]


class PolygonGeometry(Request):
    """A GeoJSON Polygon: an outer ring (and holes), at least four positions each."""

    type: Literal["Polygon"]
    coordinates: Annotated[list[Ring], Field(min_length=1)]


class MultiPolygonGeometry(Request):
    """A GeoJSON MultiPolygon."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[Annotated[list[Ring], Field(min_length=1)]], Field(min_length=1)]


class PolygonFeature(BaseModel):
    """A GeoJSON Feature holding a Polygon or MultiPolygon."""

    model_config = ConfigDict(allow_inf_nan=False)

    type: Literal["Feature"]
    geometry: Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]
    properties: dict[str, Any] | None = None


class NeighbourhoodRequest(Request):
    """A neighbourhood polygon and the thresholds to summarise.

    A polygon that is not valid (a ring that crosses itself, an unclosed ring) is repaired
    and the answer's ``note`` says so; one without area holds no home.
    """

    at: At = None
    unknown_hours: UnknownHoursField = "open"
    geometry: Annotated[
        PolygonGeometry | MultiPolygonGeometry | PolygonFeature,
        Field(
            discriminator="type",
            description="A GeoJSON Polygon or MultiPolygon, or a Feature holding one",
            examples=[
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[24.93, 60.16], [24.95, 60.16], [24.95, 60.17], [24.93, 60.16]]
                    ],
                }
            ],
        ),
    ]
    crs: Crs = "wgs84"
    minutes: Annotated[list[Minutes], Field(min_length=1, max_length=6)] = [5, 10, 15]
    profile: ProfileName | None = None
    categories: Annotated[list[str], Field(max_length=100)] | None = None


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
    note: str | None = Field(None, description="What was done to the polygon, if anything")


class ReachRequest(Request):
    """A point and a threshold (minutes or metres; 15 minutes when neither is given)."""

    model_config = ConfigDict(json_schema_extra=_NOT_BOTH_THRESHOLDS)
    at: At = None
    unknown_hours: UnknownHoursField = "open"

    lon: Lon
    lat: Lat
    crs: Crs = "wgs84"
    minutes: Minutes | None = None
    metres: Metres | None = None
    profile: ProfileName | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> ReachRequest:
        if self.minutes is not None and self.metres is not None:
            raise ValueError("give minutes or metres, not both")
        return self


class PointGeometry(Request):
    """A GeoJSON Point."""

    type: Literal["Point"]
    coordinates: Position


class CandidateFeature(BaseModel):
    """A candidate site: a GeoJSON Point feature (an ``id`` property names it)."""

    model_config = ConfigDict(allow_inf_nan=False)

    type: Literal["Feature"]
    geometry: PointGeometry
    properties: dict[str, Any] | None = None
    id: str | int | None = None


class CandidateCollection(Request):
    """Candidate sites, at most ``MAX_CANDIDATES`` (``SC_MAX_CANDIDATES`` may lower it)."""

    type: Literal["FeatureCollection"]
    features: Annotated[list[CandidateFeature], Field(min_length=1, max_length=MAX_CANDIDATES)]


_SITING_RULES: JsonDict = {
    # p (maximal coverage or p-median) or target_share (set cover), never both; p-median is
    # exact only; and not both minutes and metres
    "oneOf": [
        {
            "required": ["p"],
            "properties": {
                "p": {"type": "integer"},
                "target_share": {"type": "null"},
                "objective": {"enum": [None, "mclp"]},
            },
        },
        {
            "required": ["p", "objective"],
            "properties": {
                "p": {"type": "integer"},
                "target_share": {"type": "null"},
                "objective": {"const": "pmedian"},
                "method": {"const": "exact"},
            },
        },
        {
            "required": ["target_share"],
            "properties": {
                "target_share": {"type": "number"},
                "p": {"type": "null"},
                "objective": {"enum": [None, "lscp"]},
            },
        },
    ],
    **_NOT_BOTH_THRESHOLDS,
}


class SitingRequest(Request):
    """What to site: the category, p or a target share, the model."""

    model_config = ConfigDict(json_schema_extra=_SITING_RULES)
    at: At = None
    unknown_hours: UnknownHoursField = "open"

    category: str
    p: Annotated[int, Field(ge=1, le=500, strict=True)] | None = None
    target_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)] | None = (
        None
    )
    objective: Literal["mclp", "lscp", "pmedian"] | None = None
    minutes: Minutes | None = None
    metres: Metres | None = None
    profile: ProfileName | None = None
    method: Literal["exact", "greedy"] = "exact"
    time_limit_s: (
        Annotated[float, Field(gt=0, le=MAX_TIME_LIMIT_S, allow_inf_nan=False, strict=True)] | None
    ) = None
    candidates: CandidateCollection | None = Field(
        None, description="Candidate points (GeoJSON); default: spots in today's gaps"
    )
    candidates_crs: Crs = "wgs84"
    gaps_after: bool = Field(
        False,
        description="Also answer the gap polygons left after the new sites (``gaps_after``: "
        "a FeatureCollection, as GET /gaps gives them)",
    )

    @model_validator(mode="after")
    def _check(self) -> SitingRequest:
        if (self.p is None) == (self.target_share is None):
            raise ValueError("give p (maximal coverage, p-median) or target_share (set cover)")
        if self.minutes is not None and self.metres is not None:
            raise ValueError("give minutes or metres, not both")
        objective = self.objective or ("mclp" if self.p is not None else "lscp")
        if (objective == "lscp") != (self.target_share is not None):
            raise ValueError("lscp needs target_share; mclp and pmedian need p")
        if objective == "pmedian" and self.method != "exact":
            raise ValueError("p-median is solved exactly only: drop method 'greedy'")
        return self
