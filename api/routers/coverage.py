"""Coverage tables, gap and isochrone polygons, neighbourhood summaries, a point's reach."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from service_circle_api import tasks
from service_circle_api.deps import (
    OpeningDep,
    ProfileDep,
    RegistryDep,
    StudyDep,
    ThresholdsDep,
    check_at,
)
from service_circle_api.geojson import MEDIA_TYPE, GeoJSONResponse
from service_circle_api.schemas import (
    CoverageRow,
    FeatureCollection,
    NeighbourhoodRequest,
    NeighbourhoodSummary,
    ReachRequest,
    problems,
)
from service_circle_api.tasks import Task

from service_circle.cost import Threshold

router = APIRouter(prefix="/studies/{study_id}", tags=["coverage"])

ERRORS = problems(404, 422, 503)
BODY_ERRORS = problems(400, 404, 413, 422, 503)
GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}}},
    **ERRORS,
}

Category = Annotated[str, Query(description="A category key (GET /categories)")]


def _categories(study, category: str | None) -> list[str]:
    if category is not None:
        study.catalogue[category]  # unknown → 404
        return [category]
    present = set(study.facilities["category"])
    return [c.key for c in study.catalogue if c.key in present]


@router.get("/coverage", responses=ERRORS, operation_id="getCoverage")
async def coverage(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    opening: OpeningDep,
    category: Annotated[str | None, Query(description="A category key; all when absent")] = None,
) -> list[CoverageRow]:
    """Population covered per category and threshold, for everyone and the group served.

    Every resident counts: those not covered are split by the reason (beyond the
    threshold, unreachable, off the network, across water, without a location).
    """
    keys = _categories(study, category)
    rows = await registry.get(
        (study_id, "coverage", tuple(keys), tuple(thresholds), profile, opening),
        Task(tasks.coverage_rows, study_id, (keys, thresholds, profile, opening)),
    )
    return [CoverageRow(**row) for row in rows]


@router.get("/gaps", response_class=GeoJSONResponse, responses=GEOJSON, operation_id="getGaps")
async def gaps(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    category: Category,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    opening: OpeningDep,
    min_population: Annotated[
        float, Query(ge=0, allow_inf_nan=False, description="Drop smaller gaps")
    ] = 0.0,
) -> GeoJSONResponse:
    """Gap polygons: the populated places beyond each threshold, largest population first."""
    study.catalogue[category]
    key = (study_id, "gaps", category, tuple(thresholds), profile, min_population, opening)
    task = Task(tasks.gaps_geojson, study_id,
                (study_id, category, thresholds, profile, min_population, opening))  # fmt: skip
    return GeoJSONResponse(await registry.get(key, task))


@router.get(
    "/isochrones",
    response_class=GeoJSONResponse,
    responses=GEOJSON,
    operation_id="getIsochrones",
)
async def isochrones(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    category: Category,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    opening: OpeningDep,
) -> GeoJSONResponse:
    """The area within each threshold of the category's facilities (multipolygons)."""
    study.catalogue[category]
    key = (study_id, "isochrones", category, tuple(thresholds), profile, opening)
    task = Task(tasks.isochrones_geojson, study_id,
                (study_id, category, thresholds, profile, opening))  # fmt: skip
    return GeoJSONResponse(await registry.get(key, task))


@router.post("/neighbourhood", responses=BODY_ERRORS, operation_id="postNeighbourhood")
async def neighbourhood(
    study_id: str, study: StudyDep, registry: RegistryDep, request: NeighbourhoodRequest
) -> NeighbourhoodSummary:
    """The coverage summary inside a polygon (a community boundary)."""
    geometry = request.geometry
    if geometry.type == "Feature":
        geometry = geometry.geometry
    polygon = _shape(geometry.type, geometry.coordinates)
    categories = None
    if request.categories:
        categories = [_categories(study, c)[0] for c in request.categories]

    opening = (check_at(study, request.at), request.unknown_hours == "open")
    task = Task(
        tasks.neighbourhood_summary, study_id,
        (polygon.wkb, list(request.minutes), request.crs, categories, request.profile, opening),
    )  # fmt: skip
    result = await registry.compute(task)
    return NeighbourhoodSummary(
        homes=result["homes"],
        population=result["population"],
        coverage=[CoverageRow(**r) for r in result["coverage"]],
        completeness=_finite(result["completeness"]),
        basic=_finite(result["basic"]),
        note=result.get("note"),
    )


def _shape(kind: str, coordinates: list):
    """A shapely (Multi)Polygon from GeoJSON coordinates, elevations dropped."""
    import shapely

    def ring(positions) -> list:
        return [(p[0], p[1]) for p in positions]

    polygons = [coordinates] if kind == "Polygon" else coordinates
    parts = [shapely.Polygon(ring(rings[0]), [ring(h) for h in rings[1:]]) for rings in polygons]
    return parts[0] if kind == "Polygon" else shapely.MultiPolygon(parts)


def _finite(summary: dict) -> dict:
    score = summary["score"]
    return {**summary, "score": None if score is None or not np.isfinite(score) else score}


@router.post(
    "/reach",
    response_class=GeoJSONResponse,
    responses={**GEOJSON, **BODY_ERRORS},
    operation_id="postReach",
)
async def reach(
    study_id: str, study: StudyDep, registry: RegistryDep, request: ReachRequest
) -> GeoJSONResponse:
    """The area within reach of a point and the facilities within it, nearest first.

    A point farther than the study's snapping distance from its streets (or across water
    from them) is refused with 422 naming the distance.
    """
    if request.metres is not None:
        threshold = Threshold.metres(request.metres)
    else:
        threshold = Threshold.minutes(request.minutes or 15)

    opening = (check_at(study, request.at), request.unknown_hours == "open")
    task = Task(
        tasks.reach_geojson, study_id,
        (study_id, request.lon, request.lat, threshold, request.crs, request.profile, opening),
    )  # fmt: skip
    return GeoJSONResponse(await registry.compute(task))
