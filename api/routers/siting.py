"""Siting new facilities on a study."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter

from api.deps import SettingsDep, StudyDep
from api.geojson import MEDIA_TYPE, GeoJSONResponse, feature_collection
from api.schemas import JSON, FeatureCollection, Problem, SitingRequest
from service_circle._errors import InputError
from service_circle.profiles import Threshold, get_profile
from service_circle.sample import ATTRIBUTION
from service_circle.siting import site_study, site_summary

router = APIRouter(prefix="/studies/{study_id}", tags=["siting"])

RESPONSES = {
    200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}},
          "description": "The chosen sites (rank, marginal population) and a summary"},
    404: {"model": Problem, "content": JSON, "description": "Unknown study or category"},
    413: {"model": Problem, "content": JSON, "description": "Body too large"},
    422: {"model": Problem, "content": JSON, "description": "Invalid request, or no answer for it"},
}  # fmt: skip


def _candidates(collection: dict, crs: str) -> gpd.GeoDataFrame:
    from service_circle.coords import geometry_to_wgs84

    if collection.get("type") != "FeatureCollection" or not isinstance(
        collection.get("features"), list
    ):
        raise InputError("candidates: a GeoJSON FeatureCollection of points is needed")
    if not collection["features"]:
        raise InputError("candidates: the FeatureCollection has no feature")
    try:
        frame = gpd.GeoDataFrame.from_features(collection["features"], crs="EPSG:4326")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(f"candidates: not valid GeoJSON features: {exc}") from None
    kinds = set(frame.geom_type.dropna())
    if frame.geometry.isna().any() or kinds - {"Point"}:
        raise InputError(f"candidates: every feature must be a Point, got {sorted(kinds)}")
    frame = frame.set_geometry(geometry_to_wgs84(frame.geometry.to_numpy(), crs), crs=4326)
    if not np.isfinite(shapely.get_coordinates(frame.geometry.to_numpy())).all():
        raise InputError("candidates: coordinates must be finite numbers")
    if "id" not in frame.columns:
        frame["id"] = [f"candidate-{i + 1}" for i in range(len(frame))]
    return frame


@router.post("/siting", response_class=GeoJSONResponse, responses=RESPONSES)
def siting(
    study_id: str, study: StudyDep, request: SitingRequest, settings: SettingsDep
) -> GeoJSONResponse:
    """Where to open new facilities of a category (MCLP, set cover or p-median).

    The solver stops at ``time_limit_s`` (at most ``SC_SITING_TIME_LIMIT_S``) and reports
    its status, objective, bound and gap in ``summary``.
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
    result, sites, _ = site_study(
        study, request.category, threshold, p=request.p, target_share=request.target_share,
        objective=request.objective, candidates=candidates, profile=prof,
        method=request.method, time_limit_s=limit,
    )  # fmt: skip
    summary = site_summary(result, study, request.category, threshold, prof)
    summary["time_limit_s"] = limit
    return GeoJSONResponse(
        feature_collection(sites, study=study_id, summary=summary, attribution=ATTRIBUTION)
    )
