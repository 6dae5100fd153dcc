"""The studies the service holds."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from api.deps import RegistryDep, StudyDep
from api.schemas import StudyDetail, StudySummary
from service_circle.sample import ATTRIBUTION
from service_circle.study import Study

router = APIRouter(prefix="/studies", tags=["studies"])


def _summary(study_id: str, study: Study) -> dict:
    bounds = study.demand.total_bounds if len(study.demand) else study.facilities.total_bounds
    return {
        "id": study_id,
        "name": study.name,
        "crs": str(study.network.crs),
        "bbox": [round(float(v), 6) for v in np.nan_to_num(bounds)],
        "demand_points": len(study.demand),
        "population": float(study.demand["population"].sum()),
        "facilities": len(study.facilities),
        "attribution": ATTRIBUTION,
    }


@router.get("")
def list_studies(registry: RegistryDep) -> list[StudySummary]:
    """Every study, with its extent and counts."""
    return [StudySummary(**_summary(k, s)) for k, s in sorted(registry.studies.items())]


@router.get("/{study_id}", responses={404: {"description": "Unknown study"}})
def get_study(study_id: str, study: StudyDep) -> StudyDetail:
    """One study: extent (WGS-84), counts, CRS, categories present and data attribution."""
    by_category = study.facilities["category"].value_counts()
    names, counts = np.unique(study.demand_snap.status.astype(str), return_counts=True)
    status = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
    return StudyDetail(
        **_summary(study_id, study),
        nodes=study.network.n_nodes,
        edges=study.network.n_edges,
        facilities_by_category={str(k): int(v) for k, v in by_category.items()},
        demand_status=status,
        categories=[c.key for c in study.catalogue if c.key in by_category.index],
    )
