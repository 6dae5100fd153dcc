"""The studies the service holds."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from service_circle_api import tasks
from service_circle_api.deps import OpeningDep, RegistryDep, StudyDep
from service_circle_api.geojson import MEDIA_TYPE, GeoJSONResponse
from service_circle_api.schemas import (
    JSON,
    FeatureCollection,
    Problem,
    StudyDetail,
    StudySummary,
    problems,
)
from service_circle_api.tasks import Task

from service_circle.study import Study

router = APIRouter(prefix="/studies", tags=["studies"])

# every operation on a study takes its id from this list (OpenAPI links: clients and
# stateful tests follow them)
_ON_A_STUDY = (
    "getStudy", "getFacilities", "getCoverage", "getGaps", "getIsochrones",
    "postNeighbourhood", "postReach", "postSiting", "getReport", "getReportPage",
    "getReportWorkbook", "getUnits", "getMap",
)  # fmt: skip
LINKS = {
    op: {"operationId": op, "parameters": {"study_id": "$response.body#/0/id"}}
    for op in _ON_A_STUDY
}


def _summary(study_id: str, study: Study) -> dict:
    bounds = study.demand.total_bounds if len(study.demand) else study.facilities.total_bounds
    return {
        "id": study_id,
        "status": "available",
        "name": study.name,
        "crs": study.network.crs.to_string(),
        "bbox": [round(float(v), 6) for v in np.nan_to_num(bounds)],
        "demand_points": len(study.demand),
        "population": float(study.demand["population"].sum()),
        "facilities": len(study.facilities),
        "attribution": study.attribution,
    }


@router.get(
    "",
    operation_id="listStudies",
    responses={200: {"description": "The studies, available first", "links": LINKS}},
)
async def list_studies(registry: RegistryDep) -> list[StudySummary]:
    """Every study, with its extent and counts; those that did not load, with the reason."""
    available = [StudySummary(**_summary(k, s)) for k, s in sorted(registry.studies.items())]
    broken = [
        StudySummary(id=k, status="unavailable", reason=reason)
        for k, reason in sorted(registry.unavailable.items())
    ]
    return available + broken


@router.get(
    "/{study_id}",
    operation_id="getStudy",
    responses={
        404: {"model": Problem, "content": JSON, "description": "Unknown study"},
        503: {"model": Problem, "content": JSON, "description": "The study did not load"},
    },
)
async def get_study(study_id: str, study: StudyDep) -> StudyDetail:
    """One study: extent (WGS-84), counts, CRS, categories present and data attribution."""
    by_category = study.facilities["category"].value_counts()
    names, counts = np.unique(study.demand_snap.status.astype(str), return_counts=True)
    status = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
    return StudyDetail(
        **_summary(study_id, study),
        nodes=study.network.n_nodes,
        edges=study.network.n_edges,
        terrain=None if study.network.terrain is None else study.network.terrain.source,
        crossings=None if study.network.crossings is None else study.network.crossings.summary(),
        facilities_by_category={str(k): int(v) for k, v in by_category.items()},
        demand_status=status,
        categories=[c.key for c in study.catalogue if c.key in by_category.index],
        units=0 if study.units is None else len(study.units),
    )


FACILITIES: dict[int | str, dict[str, Any]] = {
    200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}},
          "description": "The facilities (GeoJSON points, WGS-84)"},
    **problems(404, 422, 503),
}  # fmt: skip


@router.get(
    "/{study_id}/facilities",
    response_class=GeoJSONResponse,
    responses=FACILITIES,
    operation_id="getFacilities",
)
async def facilities(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    opening: OpeningDep,
    category: Annotated[str | None, Query(description="A category key; all when absent")] = None,
) -> GeoJSONResponse:
    """The study's facilities, one category or all, as GeoJSON points.

    Each has its id, name, category (with the category's Chinese and English names), its
    capacity columns, and whether it lies on the network (``status``, ``access_m``).
    """
    if category is not None:
        study.catalogue[category]  # unknown → 404
    task = Task(tasks.facilities_geojson, study_id, (study_id, category, opening))
    key = (study_id, "facilities", category, opening)
    return GeoJSONResponse(await registry.get(key, task))
