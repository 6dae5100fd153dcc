"""Neighbourhoods: what a community, drawn as a polygon, can reach.

A polygon in WGS-84, GCJ-02 or BD-09 (a community boundary, a drawing on a map) is cut to
the study's surroundings, repaired when it is not valid, and the homes inside it get the
coverage table and the completeness summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import shapely
import shapely.geometry

from service_circle._errors import InputError
from service_circle.completeness import completeness, completeness_summary
from service_circle.cost import Threshold
from service_circle.coverage import coverage_table
from service_circle.profiles import Profile
from service_circle.study import Study

logger = logging.getLogger(__name__)


def area_of_interest(
    polygon: shapely.Geometry | dict,
    *,
    crs: str = "wgs84",
    within: tuple[float, float, float, float] | None = None,
) -> tuple[shapely.Geometry, str | None]:
    """A neighbourhood polygon in WGS-84, repaired when it is not valid.

    ``polygon`` is a shapely Polygon/MultiPolygon or a GeoJSON mapping in WGS-84, GCJ-02
    or BD-09. With ``within`` (west, south, east, north in degrees), the polygon is first
    cut to that box, so that a drawing far larger than the study costs no more than the
    study. A polygon that is not valid (a ring crossing itself) is repaired
    (:func:`shapely.make_valid`, else by its structure) and only its areas kept; the note
    says what was done.

    Returns
    -------
    geometry, note
        The polygon (possibly empty: no area) and a note, or ``None`` when it was valid.

    Raises
    ------
    InputError
        If it is not a polygon, or cannot be repaired.
    """
    from service_circle.coords import chinese_crs, geometry_to_wgs84

    system = chinese_crs(crs)
    if system is None:
        raise InputError(f"neighbourhood crs must be wgs84, gcj02 or bd09, got {crs!r}")
    geom = shapely.geometry.shape(polygon) if isinstance(polygon, dict) else polygon
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        raise InputError("a neighbourhood must be a Polygon or MultiPolygon")
    if within is not None:
        # the Chinese offsets are under 1.5 km: half a degree of margin keeps the whole study
        west, south, east, north = within
        geom = shapely.clip_by_rect(geom, west - 0.5, south - 0.5, east + 0.5, north + 0.5)
    note = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        parts = [p for p in shapely.get_parts(_repaired(geom)) if isinstance(p, shapely.Polygon)]
        geom = shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()
        note = f"the polygon was not valid ({reason}): repaired, keeping its areas"
        if geom.is_empty:
            note = f"the polygon was not valid ({reason}) and has no area: it holds no home"
        logger.warning("neighbourhood: %s", note)
    return geometry_to_wgs84(geom, system), note


def _repaired(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` made valid: by its lines, else by its structure (GEOS can refuse either)."""
    for options in ({}, {"method": "structure", "keep_collapsed": False}):
        try:
            return shapely.make_valid(geom, **options)
        except shapely.errors.GEOSException:
            continue
    raise InputError(
        "the neighbourhood polygon is not valid and cannot be repaired (its rings cross "
        "themselves too often): draw it again"
    )


def inside(study: Study, polygon: shapely.Geometry | dict, *, crs: str = "wgs84") -> np.ndarray:
    """Mask of the demand points inside a polygon given in WGS-84, GCJ-02 or BD-09.

    An invalid polygon is repaired first (see :func:`area_of_interest`).
    """
    geom, _ = area_of_interest(polygon, crs=crs)
    points = study.demand.geometry.to_numpy()
    if geom.is_empty:
        return np.zeros(points.size, dtype=bool)
    return shapely.contains(geom, points) | shapely.touches(geom, points)


def neighbourhood(
    study: Study,
    polygon: shapely.Geometry | dict,
    thresholds: Sequence[Threshold],
    *,
    crs: str = "wgs84",
    categories: Sequence[str] | None = None,
    profile: str | Profile | None = None,
) -> dict:
    """The coverage summary inside a neighbourhood (a community boundary).

    Returns a dict with ``population`` and ``homes`` inside, the coverage table restricted to
    them (``coverage``, a DataFrame), the living-circle and basic-guarantee completeness
    (``completeness``, ``basic``: score and per-category share missing) and ``note``: what
    was done to an invalid polygon (``None`` when it was valid).
    """
    points = study.demand.geometry.to_numpy()
    bounds = study.demand.total_bounds if len(points) else None
    within = None
    if bounds is not None:
        west, south, east, north = (float(v) for v in bounds)
        within = (west, south, east, north)
    geom, note = area_of_interest(polygon, crs=crs, within=within)
    mask = (
        np.zeros(points.size, dtype=bool)
        if geom.is_empty
        else shapely.contains(geom, points) | shapely.touches(geom, points)
    )
    table = coverage_table(study, thresholds, categories=categories, profile=profile, mask=mask)
    return {
        "homes": int(mask.sum()),
        "population": float(study.demand["population"].to_numpy()[mask].sum()),
        "coverage": table,
        "completeness": completeness_summary(completeness(study, profile=profile), mask),
        "basic": completeness_summary(completeness(study, profile=profile, scheme="basic"), mask),
        "note": note,
    }
