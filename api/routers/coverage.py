"""Coverage tables, gap and isochrone polygons, neighbourhood summaries, a point's reach."""

from __future__ import annotations

import json
from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Query

from api.deps import ProfileDep, RegistryDep, StudyDep, ThresholdsDep
from api.geojson import MEDIA_TYPE, GeoJSONResponse, feature_collection
from api.schemas import (
    JSON,
    CoverageRow,
    FeatureCollection,
    NeighbourhoodRequest,
    NeighbourhoodSummary,
    Problem,
    ReachRequest,
)
from service_circle import coverage as cov
from service_circle.profiles import Threshold
from service_circle.sample import ATTRIBUTION

router = APIRouter(prefix="/studies/{study_id}", tags=["coverage"])

ERRORS = {404: {"model": Problem, "content": JSON, "description": "Unknown study or category"},
          422: {"model": Problem, "content": JSON, "description": "Invalid parameter"}}  # fmt: skip
GEOJSON = {200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}}}, **ERRORS}

Category = Annotated[str, Query(description="A category key (GET /categories)")]


def _categories(study, category: str | None) -> list[str]:
    if category is not None:
        study.catalogue[category]  # unknown → 404
        return [category]
    present = set(study.facilities["category"])
    return [c.key for c in study.catalogue if c.key in present]


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


@router.get("/coverage", responses=ERRORS)
def coverage(
    study: StudyDep,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    category: Annotated[str | None, Query(description="A category key; all when absent")] = None,
) -> list[CoverageRow]:
    """Population covered per category and threshold, for everyone and the group served."""
    table = cov.coverage_table(
        study, thresholds, categories=_categories(study, category), profile=profile
    )
    return [CoverageRow(**row) for row in _records(table)]


@router.get("/gaps", response_class=GeoJSONResponse, responses=GEOJSON)
async def gaps(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    category: Category,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    min_population: Annotated[float, Query(ge=0, description="Drop smaller gaps")] = 0.0,
) -> GeoJSONResponse:
    """Gap polygons: the populated places beyond each threshold, largest population first."""
    study.catalogue[category]

    base = (study_id, "gaps", category, tuple(thresholds), profile)

    def polygons() -> gpd.GeoDataFrame:
        frame = pd.concat(
            [cov.gaps(study, category, t, profile=profile) for t in thresholds], ignore_index=True
        )
        return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")

    def answer() -> bytes:
        # the polygons once per (category, thresholds, profile); each filter serialised once
        frame = registry.cached(base, polygons)
        shown = frame[frame["population"] >= min_population] if min_population else frame
        return feature_collection(shown, study=study_id, category=category, attribution=ATTRIBUTION)

    return GeoJSONResponse(await registry.get((*base, "geojson", min_population), answer))


@router.get("/isochrones", response_class=GeoJSONResponse, responses=GEOJSON)
async def isochrones(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    category: Category,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
) -> GeoJSONResponse:
    """The area within each threshold of the category's facilities (multipolygons)."""
    study.catalogue[category]
    key = (study_id, "isochrones", category, tuple(thresholds), profile)
    body = await registry.get(
        key,
        lambda: feature_collection(
            cov.isochrones(study, category, thresholds, profile=profile),
            study=study_id,
            category=category,
            attribution=ATTRIBUTION,
        ),
    )
    return GeoJSONResponse(body)


@router.post("/neighbourhood", responses=ERRORS)
def neighbourhood(study: StudyDep, request: NeighbourhoodRequest) -> NeighbourhoodSummary:
    """The coverage summary inside a polygon (a community boundary)."""
    geometry = request.geometry
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    polygon = _shape(geometry)
    categories = None
    if request.categories:
        categories = [_categories(study, c)[0] for c in request.categories]
    result = cov.neighbourhood(
        study, polygon, [Threshold.minutes(m) for m in request.minutes], crs=request.crs,
        categories=categories, profile=request.profile,
    )  # fmt: skip
    return NeighbourhoodSummary(
        homes=result["homes"],
        population=result["population"],
        coverage=[CoverageRow(**r) for r in _records(result["coverage"])],
        completeness=_finite(result["completeness"]),
        basic=_finite(result["basic"]),
    )


def _shape(geometry: dict):
    import shapely.geometry

    from service_circle._errors import InputError

    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InputError(
            f"geometry: a Polygon or MultiPolygon is needed, got {geometry.get('type')!r}"
        )
    try:
        return shapely.geometry.shape(geometry)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InputError(f"geometry: not a valid GeoJSON {geometry['type']}: {exc}") from None


def _finite(summary: dict) -> dict:
    score = summary["score"]
    return {**summary, "score": None if score is None or not np.isfinite(score) else score}


@router.post("/reach", response_class=GeoJSONResponse, responses=GEOJSON)
def reach(study_id: str, study: StudyDep, request: ReachRequest) -> GeoJSONResponse:
    """The area within reach of a point and the facilities within it, nearest first."""
    if request.metres is not None:
        threshold = Threshold.metres(request.metres)
    else:
        threshold = Threshold.minutes(request.minutes or 15)
    area, facilities = cov.reach(
        study, request.lon, request.lat, threshold, crs=request.crs, profile=request.profile
    )
    area = area.assign(kind="reach_area")
    facilities = facilities.assign(kind="facility")
    frame = gpd.GeoDataFrame(pd.concat([area, facilities], ignore_index=True), crs="EPSG:4326")
    return GeoJSONResponse(
        feature_collection(
            frame,
            study=study_id,
            origin=[request.lon, request.lat],
            crs=request.crs,
            attribution=ATTRIBUTION,
        )
    )
