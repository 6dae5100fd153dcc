"""Candidate sites for new facilities: the street spots of today's gaps, thinned."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np

from service_circle._errors import InputError
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.study import Study

logger = logging.getLogger(__name__)


def generate_candidates(
    study: Study,
    category: str,
    threshold: Threshold,
    *,
    profile: str | Profile | None = None,
    spacing_m: float = 150.0,
    exclude: gpd.GeoDataFrame | None = None,
    max_candidates: int | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites on the network inside today's gaps, thinned to ``spacing_m``.

    The street spots of the homes the category does not cover within ``threshold``, one per
    ``spacing_m`` square (the most populous home's spot in it), outside ``exclude``
    polygons (WGS-84). With ``max_candidates``, the squares grow (× 1.5 at a time) until
    no more than that many remain, so that a large gap costs a bounded reach table.
    Returns a GeoDataFrame of points (WGS-84) with ``id``.
    """
    import shapely

    cost = CostModel.for_threshold(threshold, profile)
    result = study.search(category, cost)
    limit = cost.limit(threshold)
    s = study.demand_snap
    weight = study.demand[study.catalogue[category].group_column].to_numpy(np.float64)
    open_rows = np.flatnonzero(~(result.point_cost <= limit) & s.on_network & (weight > 0))
    if open_rows.size == 0:
        raise InputError(
            f"no gap to site {category} in: every home within reach of the network is "
            f"covered within {threshold.label}"
        )
    xy = study.network.edge_points(s.edge[open_rows], s.pos_m[open_rows])
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise InputError(
            f"candidate spacing must be a positive number of metres, got {spacing_m!r}"
        )
    while True:
        cell = np.floor(xy / spacing_m).astype(np.int64)
        order = np.lexsort((-weight[open_rows], cell[:, 1], cell[:, 0]))
        first = np.r_[True, np.any(np.diff(cell[order], axis=0) != 0, axis=1)]
        keep = order[first]
        if max_candidates is None or keep.size <= max_candidates:
            break
        spacing_m *= 1.5
        logger.info("more than %d candidates: thinning to %.0f m", max_candidates, spacing_m)
    frame = gpd.GeoDataFrame(
        {"id": [f"cand-{i}" for i in range(keep.size)]},
        geometry=shapely.points(xy[keep]),
        crs=study.network.crs,
    ).to_crs("EPSG:4326")
    if exclude is not None and len(exclude):
        zones = exclude.to_crs("EPSG:4326").geometry.to_numpy()
        blocked = np.zeros(len(frame), bool)
        idx, _ = shapely.STRtree(zones).query(frame.geometry.to_numpy(), predicate="within")
        blocked[idx] = True
        frame = frame[~blocked].reset_index(drop=True)
        if frame.empty:
            raise InputError("every candidate lies inside the excluded areas")
    return frame
