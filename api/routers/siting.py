"""Siting new facilities on a study."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter
from service_circle_api import tasks
from service_circle_api.deps import RegistryDep, SettingsDep, StudyDep, check_at
from service_circle_api.geojson import MEDIA_TYPE, GeoJSONResponse
from service_circle_api.schemas import (
    CandidateCollection,
    FeatureCollection,
    SitingRequest,
    problems,
)
from service_circle_api.tasks import Task

from service_circle.cost import Threshold
from service_circle.profiles import get_profile

router = APIRouter(prefix="/studies/{study_id}", tags=["siting"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}},
          "description": "The chosen sites (rank, marginal population) and a summary"},
    **problems(400, 404, 413, 422, 503, described={
        422: "Invalid request, or no answer for it",
        503: "Busy (see Retry-After), or the reach table and solve did not finish within "
             "the time limit",
    }),
}  # fmt: skip


def _candidates(collection: CandidateCollection, crs: str) -> gpd.GeoDataFrame:
    from service_circle.coords import geometry_to_wgs84

    lon = np.array([f.geometry.coordinates[0] for f in collection.features], dtype=np.float64)
    lat = np.array([f.geometry.coordinates[1] for f in collection.features], dtype=np.float64)
    ids = []
    for i, feature in enumerate(collection.features):
        given = (feature.properties or {}).get("id", feature.id)
        ids.append(str(given) if given is not None else f"candidate-{i + 1}")
    points = geometry_to_wgs84(shapely.points(lon, lat), crs)
    return gpd.GeoDataFrame({"id": ids}, geometry=points, crs="EPSG:4326")


@router.post(
    "/siting", response_class=GeoJSONResponse, responses=RESPONSES, operation_id="postSiting"
)
async def siting(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    request: SitingRequest,
    settings: SettingsDep,
) -> GeoJSONResponse:
    """Where to open new facilities of a category (MCLP, set cover or p-median).

    Everything — candidates, the reach table, the model and the solve — runs within
    ``time_limit_s`` (at most ``SC_SITING_TIME_LIMIT_S``); a solve stopped by the limit
    reports its status, objective, bound and gap in ``summary``. At most
    ``SC_MAX_CANDIDATES`` candidates are accepted (the generated ones are thinned to it).
    """
    cat = study.catalogue[request.category]
    prof = get_profile(request.profile)
    if request.metres is not None:
        threshold = Threshold.metres(request.metres)
    else:
        threshold = Threshold.minutes(request.minutes or cat.minutes)
    limit = min(request.time_limit_s or settings.siting_time_limit_s,
                settings.siting_time_limit_s)  # fmt: skip
    candidates = None
    if request.candidates is not None:
        candidates = _candidates(request.candidates, request.candidates_crs)

    options = {
        "p": request.p,
        "target_share": request.target_share,
        "objective": request.objective,
        "profile": prof.name,
        "method": request.method,
    }
    task = Task(
        tasks.siting_geojson, study_id,
        (study_id, request.category, threshold, options, limit, settings.max_candidates,
         candidates),
        {"gaps_after": request.gaps_after,
         "opening": (check_at(study, request.at), request.unknown_hours == "open")},
    )  # fmt: skip
    return GeoJSONResponse(await registry.compute(task, time_limit_s=limit))
