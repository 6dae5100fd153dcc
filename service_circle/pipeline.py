"""The analysis of a study, end to end: what ``analyze``, ``demo`` and the API's report run.

:func:`analyze_study` computes every output of a study once — the coverage table with why
the rest is not covered, each home's times, isochrones, gaps and the plan-target report —
as an :class:`Analysis`; :func:`write_analysis` writes it into a folder (coverage for
people and raw, demand times, GeoJSON, report, map). :func:`nearest_summary` is the
demo's table of walking times to the nearest facility.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle.cost import CostModel, Threshold
from service_circle.coverage import coverage_table, demand_times
from service_circle.folders import atomic_write
from service_circle.gaps import gaps
from service_circle.indicators import Indicator, Report, write_report
from service_circle.isochrones import isochrones
from service_circle.judging import Judgement, judging_rule, judging_threshold
from service_circle.maps import save_map, study_map
from service_circle.opening import OpenWhenNeeded, open_when_needed
from service_circle.plan import PlanResult, PlanSettings, plan_indicators
from service_circle.profiles import Profile, get_profile
from service_circle.rural import DEFAULT_ROAD_SPEED_KMH, RoadCircle, road_circle
from service_circle.search import nearest
from service_circle.snapping import Snapped
from service_circle.study import OpenAt, Study
from service_circle.tables import (
    Lang,
    check_lang,
    coverage_for_people,
    hours_for_people,
    resolve_lang,
)
from service_circle.targets import load_targets, targets_for
from service_circle.terrain_effect import TerrainEffect, terrain_effect
from service_circle.walk_network import WalkNetwork
from service_circle.writers import write_csv, write_geojson

logger = logging.getLogger(__name__)

#: The files :func:`write_analysis` writes.
ANALYSIS_FILES = (
    "coverage.csv", "coverage.json", "demand_times.csv", "isochrones.geojson", "gaps.geojson",
    "report.json", "report.csv", "report.html", "report.xlsx", "map.html",
)  # fmt: skip
#: Written as well when the study has planning units.
UNIT_FILES = ("units.csv", "units.geojson")
#: Written as well with the township circle by road.
ROAD_FILES = ("road_circle.csv",)
#: Written as well when a category with windows (elderly canteen, pharmacy …) has facilities.
HOURS_FILES = ("open_when_needed.csv",)
#: Written as well on a network with heights.
TERRAIN_FILES = ("terrain_effect.csv",)


@dataclass(frozen=True)
class Analysis:
    """Everything computed about a study for a set of thresholds.

    Attributes
    ----------
    study
        The study.
    thresholds, profile, categories
        What was asked.
    lang
        The language of the outputs for people.
    coverage
        :func:`~service_circle.coverage.coverage_table` for each category under its own
        profile; ``judged`` marks the row each category is judged at.
    judged
        The threshold and profile each category is judged at (:mod:`.judging`).
    plan
        The plan's indicators for the study and per unit (:mod:`.plan`).
    targets
        The targets preset (:func:`~service_circle.targets.load_targets`).
    indicators, targets_label
        ``plan.indicators`` and the targets' label.
    demand_times, isochrones, gaps
        Per home times and statuses, the areas within each threshold and the gaps
        (``None`` when the polygons were not asked for).
    road
        The township circle by road (:mod:`.rural`), when a drive network was given.
    terrain
        Coverage with the hills and on the flat (:mod:`.terrain_effect`), when the
        network carries heights.
    hours
        Coverage in the windows each category is needed next to all hours
        (:mod:`.opening`), over every facility whatever ``at`` says.
    opening
        With ``at``: the moment, and how many facilities were open then (of which how
        many assumed open without known hours).
    """

    study: Study
    thresholds: tuple[Threshold, ...]
    profile: Profile
    categories: tuple[str, ...]
    lang: Lang
    coverage: pd.DataFrame
    indicators: list[Indicator]
    targets_label: str
    judged: dict[str, Judgement]
    plan: PlanResult
    targets: dict
    demand_times: pd.DataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    road: RoadCircle | None = None
    terrain: TerrainEffect | None = None
    hours: OpenWhenNeeded | None = None
    opening: OpenAt | None = None


def analyze_study(
    study: Study,
    thresholds: Sequence[Threshold],
    *,
    profile: str | Profile | None = None,
    categories: Sequence[str] | None = None,
    targets_preset: str | None = None,
    targets_file: str | os.PathLike | None = None,
    lang: str = "auto",
    polygons: bool = True,
    settings: PlanSettings | None = None,
    road_network: WalkNetwork | None = None,
    road_speed_kmh: float = DEFAULT_ROAD_SPEED_KMH,
    road_minutes: float | None = None,
    at: str | None = None,
    unknown_open: bool = True,
) -> Analysis:
    """Compute every output of ``study`` once.

    Parameters
    ----------
    study
        The study.
    thresholds
        Minutes and/or metres for the coverage table and isochrones. One threshold is also
        the one every category is judged at; with several, each category is judged at its
        catalogue default — its metres when only metres are given
        (:func:`~service_circle.judging.judging_rule`).
    profile
        One walking profile for every category (default: each served group's own —
        elderly services under ``elderly``, the rest ``adult``).
    categories
        Category keys (default: every category with a facility, in catalogue order).
    targets_preset, targets_file
        The plan targets (:func:`~service_circle.targets.load_targets`); default the plan
        governing the study's place (Haidong's inside Haidong, else national).
    settings
        The parameters of the indicator definitions.
    lang
        ``"zh"``, ``"en"`` or ``"auto"`` (Chinese for a study in China).
    polygons
        Also the per-home times, isochrones and gaps (the report alone does not need
        them).
    road_network, road_speed_kmh, road_minutes
        A drive network: the township services are also measured by road
        (:func:`~service_circle.rural.road_circle`), reported apart from the walk.
    at
        A moment (``"Tue 23:00"``, ``"2026-12-05T12:00"``, local time): coverage, gaps,
        isochrones and indicators with only the facilities open then
        (:meth:`~service_circle.study.Study.open_at`).
    unknown_open
        Whether facilities without known hours count as open (at ``at`` and in the
        windows of the "open when needed" section).
    """
    keys = (
        [study.catalogue[c].key for c in categories]
        if categories
        else sorted(set(study.facilities["category"]), key=study.catalogue.keys().index)
    )
    thresholds = tuple(thresholds)
    one, unit = judging_threshold(thresholds)
    # every category: the plan's indicators and completeness need them, whichever are shown
    rule = judging_rule(study.catalogue, threshold=one, profile=profile, unit=unit)
    shown = {k: rule[k] for k in keys}
    extra: dict = {"hours": open_when_needed(study, shown, unknown_open=unknown_open)}
    stock = study  # what exists: a moment narrows who can reach it, not how much there is
    if at is not None:
        study = study.open_at(at, unknown_open=unknown_open)
        extra["opening"] = study.opening
    table = judged_coverage(study, shown, thresholds)
    preset = targets_preset or (targets_for(*study_centre(study)) if targets_file is None
                                else None)  # fmt: skip
    targets = load_targets(preset, targets_file)
    plan = plan_indicators(study, rule, targets, settings=settings, stock=stock)
    if road_network is not None:
        extra["road"] = road_circle(study, road_network, speed_kmh=road_speed_kmh,
                                    minutes=road_minutes)  # fmt: skip
    if study.network.terrain is not None or study.network.crossings is not None:
        extra["terrain"] = terrain_effect(study, rule)
    if polygons:
        extra["demand_times"] = demand_times(study, categories=keys, profile=get_profile(profile))
        extra["isochrones"] = _stack([isochrones(study, k, thresholds, profile=rule[k].profile)
                                      for k in keys])  # fmt: skip
        extra["gaps"] = _stack([gaps(study, k, rule[k].threshold, profile=rule[k].profile)
                                for k in keys])  # fmt: skip
    return Analysis(
        study=study, thresholds=thresholds, profile=get_profile(profile), categories=tuple(keys),
        lang=resolve_lang(lang, study), coverage=table, indicators=plan.indicators,
        targets_label=str(targets["label"]), judged=rule, plan=plan, targets=targets, **extra,
    )  # fmt: skip


def judged_coverage(
    study: Study, judged: dict[str, Judgement], thresholds: Sequence[Threshold] = ()
) -> pd.DataFrame:
    """The coverage table of each category under its own profile.

    At ``thresholds`` and at the threshold it is judged at (column ``judged``).
    """
    parts = []
    for key, rule in judged.items():
        at = list(dict.fromkeys([*thresholds, rule.threshold]))
        part = coverage_table(study, at, categories=[key], profile=rule.profile)
        part["judged"] = [t == rule.threshold for t in at]
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def map_of(
    study: Study,
    *,
    categories: Sequence[str] | None = None,
    thresholds: Sequence[Threshold] | None = None,
    profile: str | Profile | None = None,
    lang: str = "auto",
    tiles: Literal["osm", "none"] = "none",
    self_contained: bool = True,
    sites: gpd.GeoDataFrame | None = None,
    neighbourhoods: gpd.GeoDataFrame | None = None,
    analysis: Analysis | None = None,
) -> folium.Map:
    """The map of a study, assembled in one place for every door.

    ``analyze``, ``service-circle map``, ``GET /studies/{id}/map`` and the batch draw it
    here: each category under the profile and at the threshold its report judges it by
    (:func:`~service_circle.judging.judging_rule`: the elderly canteen at the elderly's
    pace), and with planning units their layer coloured by what each misses (缺配). With
    ``analysis`` its judging, units, isochrones and gaps are drawn, not computed again.

    Parameters
    ----------
    study
        The study.
    categories, thresholds, profile
        As :func:`analyze_study` (default every category with a facility; 5, 10 and 15
        minutes; each group's own profile).
    lang, tiles, self_contained, sites, neighbourhoods
        As :func:`~service_circle.maps.study_map` (``lang="auto"``: the study's own).
    analysis
        An analysis of ``study`` already at hand.
    """
    if analysis is not None:
        return study_map(
            study, categories=list(analysis.categories), thresholds=list(analysis.thresholds),
            profile=analysis.profile, lang=check_lang(resolve_lang(lang, study)), tiles=tiles,
            self_contained=self_contained, sites=sites, neighbourhoods=neighbourhoods,
            computed_isochrones=analysis.isochrones, computed_gaps=analysis.gaps,
            units=analysis.plan.units, judged=analysis.judged,
            unknown_open=analysis.hours.unknown_open if analysis.hours is not None else True,
        )  # fmt: skip
    chosen = list(thresholds or [Threshold.minutes(m) for m in (5, 10, 15)])
    one, unit = judging_threshold(chosen)
    rule = judging_rule(study.catalogue, threshold=one, profile=profile, unit=unit)
    units = None
    if study.units is not None:
        targets = load_targets(targets_for(*study_centre(study)))
        units = plan_indicators(study, rule, targets).units
    return study_map(
        study, categories=categories, thresholds=chosen, profile=profile,
        lang=check_lang(resolve_lang(lang, study)), tiles=tiles, self_contained=self_contained,
        sites=sites, neighbourhoods=neighbourhoods, units=units, judged=rule,
    )  # fmt: skip


def study_centre(study: Study) -> tuple[float | None, float | None]:
    """The centre of a study's homes and facilities (lon, lat), or ``None``s."""
    west, south, east, north = study.extent()
    if not np.isfinite(west):
        return None, None
    return (west + east) / 2, (south + north) / 2


def _stack(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def write_analysis(analysis: Analysis, folder: str | os.PathLike) -> list[str]:
    """Write an analysis into ``folder`` (an existing folder; the caller publishes it).

    Returns
    -------
    list of str
        The files written (:data:`ANALYSIS_FILES`, and :data:`UNIT_FILES` with units).
    """
    folder = Path(folder)
    if analysis.isochrones is None or analysis.gaps is None or analysis.demand_times is None:
        raise ValueError("write_analysis needs an analysis computed with polygons=True")
    study, lang = analysis.study, analysis.lang
    write_csv(coverage_for_people(analysis.coverage, lang), folder / "coverage.csv")
    with atomic_write(folder / "coverage.json") as fh:
        fh.write(analysis.coverage.to_json(orient="records", force_ascii=False, indent=2))
    write_csv(analysis.demand_times, folder / "demand_times.csv")
    write_geojson(analysis.isochrones, folder / "isochrones.geojson",
                  attribution=study.attribution)  # fmt: skip
    write_geojson(analysis.gaps, folder / "gaps.geojson", attribution=study.attribution)
    write_report(report_of(analysis), folder)
    if analysis.hours is not None and len(analysis.hours.table):
        write_csv(hours_for_people(analysis.hours, study.catalogue, lang),
                  folder / "open_when_needed.csv")  # fmt: skip
    save_map(map_of(analysis.study, analysis=analysis, lang=lang), folder / "map.html")
    hours = analysis.hours is not None and len(analysis.hours.table) > 0
    return [*ANALYSIS_FILES, *(UNIT_FILES if analysis.plan.units is not None else ()),
            *(HOURS_FILES if hours else ()),
            *(ROAD_FILES if analysis.road is not None else ()),
            *(TERRAIN_FILES if analysis.terrain is not None else ())]  # fmt: skip


def report_of(analysis: Analysis) -> Report:
    """The report of an analysis."""
    return Report(analysis.study, analysis.plan, analysis.coverage, analysis.targets,
                  analysis.lang, analysis.road, analysis.terrain, analysis.hours,
                  analysis.opening)  # fmt: skip


def _quantile_min(minutes: np.ndarray, q: float) -> float:
    """The ``q`` quantile of every home's minutes (inf: more than 1 - q cannot reach one)."""
    if not minutes.size:
        return np.nan
    value = float(np.quantile(minutes, q, method="inverted_cdf"))
    return round(value, 1) if np.isfinite(value) else np.inf


def nearest_summary(
    network: WalkNetwork,
    facilities: dict[str, Snapped],
    homes: Snapped,
    *,
    profile: str | Profile | None = None,
    minutes: Sequence[float] = (5, 10, 15),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Walking time from every home to the nearest facility of each category.

    Returns
    -------
    summary, times
        Per category: ``facilities`` placed, ``median_min``, ``p90_min`` (over every home:
        inf when more than half, or a tenth, cannot reach one), ``within_<m>_min`` (share
        of homes), ``unreachable``, ``off_network``; and one row
        per home and category (:meth:`~service_circle.search.SearchResult.to_frame` plus
        ``category``).
    """
    cost = CostModel.walking(profile)
    rows, long = [], []
    for key, snapped in facilities.items():
        result = nearest(network, snapped, homes, cost=cost)
        frame = result.to_frame().assign(category=key)
        long.append(frame)
        t_min = np.asarray(cost.to_minutes(frame[cost.cost_column].to_numpy()))
        ok = np.isfinite(t_min)
        every = np.where(ok, t_min, np.inf)  # every home: the unreachable ones too
        rows.append(
            {
                "category": key,
                "facilities": int(snapped.on_network.sum()),
                "median_min": _quantile_min(every, 0.5),
                "p90_min": _quantile_min(every, 0.9),
                **{
                    f"within_{m:g}_min": round(float(np.mean(np.where(ok, t_min, np.inf) <= m)), 3)
                    for m in minutes
                },
                "unreachable": int((frame["status"] == "unreachable").sum()),
                "off_network": int((frame["status"] == "off_network").sum()),
            }
        )
    times = pd.concat(long, ignore_index=True) if long else pd.DataFrame()
    return pd.DataFrame(rows), times
