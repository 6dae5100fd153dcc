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


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def coverage_rows(
    study: Study, keys: Sequence[str], thresholds: Sequence[Threshold], profile: str
) -> list[dict]:
    """The coverage table as JSON-ready rows."""
    return _records(cov.coverage_table(study, thresholds, categories=keys, profile=profile))


_gap_polygons: OrderedDict[tuple, gpd.GeoDataFrame] = OrderedDict()


def gaps_geojson(
    study: Study,
    study_id: str,
    category: str,
    thresholds: Sequence[Threshold],
    profile: str,
    min_population: float,
) -> bytes:
    """Gap polygons of each threshold, largest first, without those under ``min_population``."""
    key = (id(study), category, tuple(thresholds), profile)
    frame = _gap_polygons.get(key)
    if frame is None:
        parts = [gaps(study, category, t, profile=profile) for t in thresholds]
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
    study: Study, study_id: str, category: str, thresholds: Sequence[Threshold], profile: str
) -> bytes:
    """The isochrone multipolygons of each threshold."""
    frame = isochrones(study, category, thresholds, profile=profile)
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
) -> dict:
    """Coverage and completeness inside a polygon (WKB, in ``crs``)."""
    import shapely

    result = neighbourhood(
        study, shapely.from_wkb(polygon_wkb), [Threshold.minutes(m) for m in minutes], crs=crs,
        categories=categories, profile=profile,
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
) -> bytes:
    """The area within reach of a point and the facilities in it, as GeoJSON."""
    area, facilities = reach(study, lon, lat, threshold, crs=crs, profile=profile)
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
) -> bytes:
    """New sites and the summary, as GeoJSON (see :func:`service_circle.siting.site_study`)."""
    from service_circle.siting_study import site_study, site_summary

    result, sites, _ = site_study(
        study, category, threshold, candidates=candidates, time_limit_s=time_limit_s,
        max_candidates=max_candidates, **options,
    )  # fmt: skip
    summary = site_summary(result, study, category, threshold, options.get("profile"))
    summary["time_limit_s"] = time_limit_s
    return feature_collection(sites, study=study_id, summary=summary, attribution=study.attribution)


def report_parts(
    study: Study, thresholds: Sequence[Threshold], profile: str | None, preset: str | None
) -> tuple[Any, pd.DataFrame, dict]:
    """The plan's indicators (study, units, townships), the coverage table and the targets."""
    from service_circle.pipeline import analyze_study

    analysis = analyze_study(study, thresholds, profile=profile, targets_preset=preset,
                             polygons=False)  # fmt: skip
    return analysis.plan, analysis.coverage, analysis.targets


def map_page(
    study: Study,
    category: str | None,
    thresholds: Sequence[Threshold],
    profile: str | None,
    lang: Literal["zh", "en"],
    tiles: Literal["osm", "none"],
    embed: bool,
) -> str:
    """The study's Leaflet map as an HTML page (with its planning units, if it has any)."""
    from service_circle.judging import judging_rule, judging_threshold
    from service_circle.maps import render, study_map
    from service_circle.plan import plan_indicators
    from service_circle.targets import load_targets

    one, unit = judging_threshold(thresholds)
    rule = judging_rule(study.catalogue, threshold=one, profile=profile, unit=unit)
    units = plan_indicators(study, rule, load_targets()).units if study.units is not None else None
    return render(
        study_map(
            study, categories=[category] if category else None, thresholds=thresholds,
            profile=profile, lang=lang, tiles=tiles, self_contained=embed, units=units,
            judged=rule,
        )
    )  # fmt: skip
