"""Siting new facilities on a study."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter

from api.deps import RegistryDep, SettingsDep, StudyDep
from api.geojson import MEDIA_TYPE, GeoJSONResponse, feature_collection
from api.schemas import JSON, CandidateCollection, FeatureCollection, Problem, SitingRequest
from service_circle.profiles import Threshold, get_profile
from service_circle.sample import ATTRIBUTION
from service_circle.siting import site_study, site_summary

router = APIRouter(prefix="/studies/{study_id}", tags=["siting"])

RESPONSES = {
    200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}},
          "description": "The chosen sites (rank, marginal population) and a summary"},
    400: {"model": Problem, "content": JSON, "description": "The body is not UTF-8 JSON"},
    404: {"model": Problem, "content": JSON, "description": "Unknown study or category"},
    413: {"model": Problem, "content": JSON, "description": "Body too large"},
    422: {"model": Problem, "content": JSON, "description": "Invalid request, or no answer for it"},
    503: {"model": Problem, "content": JSON,
          "description": "Busy (see Retry-After), or the reach table and solve did not "
          "finish within the time limit"},
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

    def compute() -> bytes:
        result, sites, _ = site_study(
            study, request.category, threshold, p=request.p, target_share=request.target_share,
            objective=request.objective, candidates=candidates, profile=prof,
            method=request.method, time_limit_s=limit, max_candidates=settings.max_candidates,
        )  # fmt: skip
        summary = site_summary(result, study, request.category, threshold, prof)
        summary["time_limit_s"] = limit
        return feature_collection(sites, study=study_id, summary=summary, attribution=ATTRIBUTION)

    return GeoJSONResponse(await registry.compute(compute, time_limit_s=limit))
