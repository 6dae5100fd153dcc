"""The computations the API runs, as small picklable tasks.

A route builds a :class:`Task` — a module-level function of this module, a study id and
plain arguments — and hands it to the :class:`~api.compute.ComputePool`, which runs it in
a worker process that holds the studies (or a thread, where processes cannot fork). Each
function takes the study first and returns what the route sends: JSON-ready values or
serialised GeoJSON/HTML, so that little crosses back to the server.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from service_circle import coverage as cov
from service_circle.cost import Threshold
from service_circle.gaps import gaps
from service_circle.isochrones import isochrones
from service_circle.neighbourhood import neighbourhood
from service_circle.reach import reach
from service_circle.study import Study
from service_circle.writers import feature_collection

#: Gap polygons kept per worker (a category's gaps serve every ``min_population``).
GAP_POLYGONS_KEPT = 32


@dataclass(frozen=True)
class Task:
    """A computation on one study: ``fn(study, *args, **kwargs)``."""

    fn: Callable[..., Any]
    study_id: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def run(self, studies: dict[str, Study]) -> Any:
        """Run it on the study of that id."""
        return self.fn(studies[self.study_id], *self.args, **self.kwargs)


#: ``(at, unknown_open)``: the moment (ISO local time, or ``None`` for all hours) and
#: whether facilities without known hours count as open.
Opening = tuple[str | None, bool]


def _view(study: Study, opening: Opening | None) -> Study:
    """The study with only the facilities open at ``opening``'s moment (or all of them)."""
    if opening is None or opening[0] is None:
        return study
    return study.open_at(opening[0], unknown_open=opening[1])


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def coverage_rows(
    study: Study,
    keys: Sequence[str],
    thresholds: Sequence[Threshold],
    profile: str,
    opening: Opening | None = None,
) -> list[dict]:
    """The coverage table as JSON-ready rows."""
    return _records(cov.coverage_table(_view(study, opening), thresholds, categories=keys,
                                       profile=profile))  # fmt: skip


_gap_polygons: OrderedDict[tuple, gpd.GeoDataFrame] = OrderedDict()


def gaps_geojson(
    study: Study,
    study_id: str,
    category: str,
    thresholds: Sequence[Threshold],
    profile: str,
    min_population: float,
    opening: Opening | None = None,
) -> bytes:
    """Gap polygons of each threshold, largest first, without those under ``min_population``."""
    key = (id(study), category, tuple(thresholds), profile, opening)
    frame = _gap_polygons.get(key)
    if frame is None:
        view = _view(study, opening)
        parts = [gaps(view, category, t, profile=profile) for t in thresholds]
        frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry",
                                 crs="EPSG:4326")  # fmt: skip
        _gap_polygons[key] = frame
        while len(_gap_polygons) > GAP_POLYGONS_KEPT:
            _gap_polygons.popitem(last=False)
    shown = frame[frame["population"] >= min_population] if min_population else frame
    return feature_collection(
        shown, study=study_id, category=category, attribution=study.attribution
    )


def isochrones_geojson(
    study: Study,
    study_id: str,
    category: str,
    thresholds: Sequence[Threshold],
    profile: str,
    opening: Opening | None = None,
) -> bytes:
    """The isochrone multipolygons of each threshold."""
    frame = isochrones(_view(study, opening), category, thresholds, profile=profile)
    return feature_collection(
        frame, study=study_id, category=category, attribution=study.attribution
    )


def neighbourhood_summary(
    study: Study,
    polygon_wkb: bytes,
    minutes: Sequence[float],
    crs: str,
    categories: Sequence[str] | None,
    profile: str | None,
    opening: Opening | None = None,
) -> dict:
    """Coverage and completeness inside a polygon (WKB, in ``crs``)."""
    import shapely

    result = neighbourhood(
        _view(study, opening), shapely.from_wkb(polygon_wkb),
        [Threshold.minutes(m) for m in minutes], crs=crs, categories=categories, profile=profile,
    )  # fmt: skip
    return {**result, "coverage": _records(result["coverage"])}


def reach_geojson(
    study: Study,
    study_id: str,
    lon: float,
    lat: float,
    threshold: Threshold,
    crs: str,
    profile: str | None,
    opening: Opening | None = None,
) -> bytes:
    """The area within reach of a point and the facilities in it, as GeoJSON."""
    area, facilities = reach(_view(study, opening), lon, lat, threshold, crs=crs, profile=profile)
    area = area.assign(kind="reach_area")
    facilities = facilities.assign(kind="facility")
    frame = gpd.GeoDataFrame(pd.concat([area, facilities], ignore_index=True), crs=4326)
    return feature_collection(
        frame, study=study_id, origin=[lon, lat], crs=crs, attribution=study.attribution
    )


def siting_geojson(
    study: Study,
    study_id: str,
    category: str,
    threshold: Threshold,
    options: dict,
    time_limit_s: float,
    max_candidates: int,
    candidates: gpd.GeoDataFrame | None,
    *,
    gaps_after: bool = False,
    opening: Opening | None = None,
) -> bytes:
    """New sites and the summary, as GeoJSON (see :func:`service_circle.siting.site_study`).

    With ``gaps_after``, the gap polygons of the study with the new sites added come as
    the member ``gaps_after`` (a FeatureCollection, as :func:`gaps_geojson` writes them).
    """
    from service_circle.siting_study import site_study, site_summary
    from service_circle.writers import geojson_text

    study = _view(study, opening)
    result, sites, after = site_study(
        study, category, threshold, candidates=candidates, time_limit_s=time_limit_s,
        max_candidates=max_candidates, **options,
    )  # fmt: skip
    summary = site_summary(result, study, category, threshold, options.get("profile"))
    summary["time_limit_s"] = time_limit_s
    members: dict[str, Any] = {}
    if gaps_after:
        left = gaps(after, category, threshold, profile=options.get("profile"))
        members["gaps_after"] = json.loads(geojson_text(left, category=category))
    return feature_collection(sites, study=study_id, summary=summary, **members,
                              attribution=study.attribution)  # fmt: skip


def report_parts(
    study: Study,
    thresholds: Sequence[Threshold],
    profile: str | None,
    preset: str | None,
    opening: Opening | None = None,
) -> tuple[Any, pd.DataFrame, dict, Any, Any, Any]:
    """What the report says, computed once.

    The plan's indicators (study, units, townships), the coverage table, the targets, the
    "open when needed" section, what ``opening`` chose and what hills and crossings cost
    (:class:`~service_circle.indicators.Report`'s parts, without the study, which the
    server holds already): the same sections as ``analyze``'s report.
    """
    from service_circle.pipeline import analyze_study

    at, unknown_open = opening or (None, True)
    analysis = analyze_study(study, thresholds, profile=profile, targets_preset=preset,
                             polygons=False, at=at, unknown_open=unknown_open)  # fmt: skip
    return (analysis.plan, analysis.coverage, analysis.targets, analysis.hours,
            analysis.opening, analysis.terrain)  # fmt: skip


def map_page(
    study: Study,
    category: str | None,
    thresholds: Sequence[Threshold],
    profile: str | None,
    lang: Literal["zh", "en"],
    tiles: Literal["osm", "none"],
    embed: bool,
) -> str:
    """The study's Leaflet map as an HTML page, as every door draws it.

    That is :func:`~service_circle.pipeline.map_of`: its units, each group at its own pace.
    """
    from service_circle.maps import render
    from service_circle.pipeline import map_of

    return render(map_of(
        study, categories=[category] if category else None, thresholds=thresholds,
        profile=profile, lang=lang, tiles=tiles, self_contained=embed,
    ))  # fmt: skip


#: The columns of a facility a planner reads (those the study has).
FACILITY_COLUMNS = ("id", "name", "category", "capacity", "places", "nursery_places", "seats",
                    "beds", "care_beds", "floor_area_m2", "ground_area_m2", "area_m2",
                    "footprint_m2", "source")  # fmt: skip


def _facility_frame(study: Study, rows: Any) -> gpd.GeoDataFrame:
    """Facilities of the given rows with the columns a planner reads and their names."""
    frame = study.facilities.iloc[rows]
    keep = [c for c in FACILITY_COLUMNS if c in frame]
    out = gpd.GeoDataFrame(frame[keep].copy(), geometry=frame.geometry.to_numpy(),
                           crs="EPSG:4326")  # fmt: skip
    names = {c.key: (c.name_zh, c.name_en) for c in study.catalogue}
    out["category_zh"] = [names.get(k, (k, k))[0] for k in out["category"]]
    out["category_en"] = [names.get(k, (k, k))[1] for k in out["category"]]
    return out


def facilities_geojson(
    study: Study, study_id: str, category: str | None, opening: Opening | None = None
) -> bytes:
    """The study's facilities (one category, or all), with their snapping status and hours.

    With a moment, only those open then.
    """
    import numpy as np

    study = _view(study, opening)
    keys = study.facilities["category"].to_numpy()
    rows = np.arange(keys.size) if category is None else np.flatnonzero(keys == category)
    frame = _facility_frame(study, rows)
    frame["status"] = study.facility_snap.status[rows].astype(str)
    frame["access_m"] = np.round(study.facility_snap.access_m[rows], 1)
    frame["opening_hours"] = study.opening_hours[rows]
    return feature_collection(frame, study=study_id, category=category,
                              attribution=study.attribution)  # fmt: skip


def unit_facilities(
    study: Study,
    index: int,
    judged: Sequence[tuple[str, Threshold, str]],
    opening: Opening | None = None,
) -> dict[str, list[dict]]:
    """The facilities inside planning unit ``index`` and those that serve its homes.

    ``judged`` holds each category with the threshold and profile it is judged at. A
    facility serves the unit when it is the nearest of its category for some of the
    unit's homes; each comes with those homes, their people and their median and
    longest cost (seconds or metres) to it, and whether that is within the threshold.
    """
    import numpy as np

    from service_circle.cost import CostModel
    from service_circle.units import assign

    assert study.units is not None
    study = _view(study, opening)
    inside = np.flatnonzero(assign(study.units, study.facilities) == index)
    home = assign(study.units, study.demand) == index
    population = study.demand["population"].to_numpy(np.float64)[home]
    keys = study.facilities["category"].to_numpy()
    rows: list[int] = []  # the facility row each serving entry is about
    stats: list[dict] = []
    for category, threshold, profile in judged:
        if category not in study.catalogue or not (keys == category).any():
            continue
        cost = CostModel.for_threshold(threshold, profile)
        result = study.search(category, cost)
        nearest = result.point_facility[home]
        times = result.point_cost[home]
        rows_of = np.flatnonzero(keys == category)
        for f in np.unique(nearest[nearest >= 0]):
            mine = nearest == f
            median = float(np.median(times[mine]))
            rows.append(int(rows_of[f]))
            stats.append({
                "homes": int(mine.sum()), "population": float(population[mine].sum()),
                "cost_unit": cost.unit, "median": median, "max": float(times[mine].max()),
                "threshold": threshold.value, "threshold_unit": threshold.unit,
                "profile": cost.name, "within": bool(median <= cost.limit(threshold)),
            })  # fmt: skip
    serving = [{**record, **extra} for record, extra in
               zip(_located_records(study, rows), stats, strict=True)]  # fmt: skip
    unplaced = study.unplaced_facilities()
    ids = set(study.facilities["id"].astype(str).iloc[inside])
    unplaced = unplaced[unplaced["id"].isin(ids)]
    return {"inside": _located_records(study, inside), "serving": serving,
            "unplaced": _records(unplaced)}  # fmt: skip


def _located_records(study: Study, rows: Any) -> list[dict]:
    """The facilities of ``rows`` as JSON-ready records with ``lon`` and ``lat``."""
    frame = _facility_frame(study, rows)
    records = _records(frame.drop(columns="geometry"))
    for record, point in zip(records, frame.geometry, strict=True):
        record.update(lon=float(point.x), lat=float(point.y))
    return records
