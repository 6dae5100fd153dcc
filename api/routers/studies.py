"""The studies the service holds."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from service_circle_api.deps import RegistryDep, StudyDep
from service_circle_api.schemas import JSON, Problem, StudyDetail, StudySummary

from service_circle.study import Study

router = APIRouter(prefix="/studies", tags=["studies"])

# every operation on a study takes its id from this list (OpenAPI links: clients and
# stateful tests follow them)
_ON_A_STUDY = (
    "getStudy", "getCoverage", "getGaps", "getIsochrones", "postNeighbourhood", "postReach",
    "postSiting", "getReport", "getReportWorkbook", "getUnits", "getMap",
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
    )
