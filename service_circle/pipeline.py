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

import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle.cost import CostModel, Threshold
from service_circle.coverage import coverage_table, demand_times
from service_circle.folders import atomic_write
from service_circle.gaps import gaps
from service_circle.indicators import Indicator, load_targets, plan_report, write_report
from service_circle.isochrones import isochrones
from service_circle.maps import save_map, study_map
from service_circle.profiles import Profile, get_profile
from service_circle.search import nearest
from service_circle.snapping import Snapped
from service_circle.study import Study
from service_circle.tables import Lang, coverage_for_people, resolve_lang
from service_circle.walk_network import WalkNetwork
from service_circle.writers import write_csv, write_geojson

logger = logging.getLogger(__name__)

#: The files :func:`write_analysis` writes.
ANALYSIS_FILES = (
    "coverage.csv", "coverage.json", "demand_times.csv", "isochrones.geojson", "gaps.geojson",
    "report.json", "report.csv", "report.html", "map.html",
)  # fmt: skip


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
        :func:`~service_circle.coverage.coverage_table`.
    indicators, targets_label
        The plan-target report and the targets it was set against.
    demand_times, isochrones, gaps
        Per home times and statuses, the areas within each threshold and the gaps
        (``None`` when the polygons were not asked for).
    """

    study: Study
    thresholds: tuple[Threshold, ...]
    profile: Profile
    categories: tuple[str, ...]
    lang: Lang
    coverage: pd.DataFrame
    indicators: list[Indicator]
    targets_label: str
    demand_times: pd.DataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None


def analyze_study(
    study: Study,
    thresholds: Sequence[Threshold],
    *,
    profile: str | Profile | None = None,
    categories: Sequence[str] | None = None,
    targets_preset: str = "haidong_2025",
    targets_file: str | os.PathLike | None = None,
    lang: str = "auto",
    polygons: bool = True,
) -> Analysis:
    """Compute every output of ``study`` once.

    Parameters
    ----------
    study
        The study.
    thresholds
        Minutes and/or metres.
    profile
        The walking profile (default adult).
    categories
        Category keys (default: every category with a facility, in catalogue order).
    targets_preset, targets_file
        The plan targets (see :func:`~service_circle.indicators.load_targets`).
    lang
        ``"zh"``, ``"en"`` or ``"auto"`` (Chinese for a study in China).
    polygons
        Also the per-home times, isochrones and gaps (the report alone does not need
        them).
    """
    prof = get_profile(profile)
    keys = (
        [study.catalogue[c].key for c in categories]
        if categories
        else sorted(set(study.facilities["category"]), key=study.catalogue.keys().index)
    )
    thresholds = tuple(thresholds)
    table = coverage_table(study, thresholds, categories=keys, profile=prof)
    indicators = plan_report(study, preset=targets_preset, targets_file=targets_file,
                             profile=prof)  # fmt: skip
    label = str(load_targets(targets_preset, targets_file).get("label", targets_preset))
    extra: dict = {}
    if polygons:
        extra["demand_times"] = demand_times(study, categories=keys, profile=prof)
        extra["isochrones"] = _stack([isochrones(study, k, thresholds, profile=prof)
                                      for k in keys])  # fmt: skip
        extra["gaps"] = _stack([gaps(study, k, t, profile=prof) for k in keys for t in thresholds])
    return Analysis(
        study=study, thresholds=thresholds, profile=prof, categories=tuple(keys),
        lang=resolve_lang(lang, study), coverage=table, indicators=indicators,
        targets_label=label, **extra,
    )  # fmt: skip


def _stack(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def write_analysis(analysis: Analysis, folder: str | os.PathLike) -> list[str]:
    """Write an analysis into ``folder`` (an existing folder; the caller publishes it).

    Returns
    -------
    list of str
        The files written (:data:`ANALYSIS_FILES`).
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
    write_report(study, analysis.indicators, analysis.coverage, folder,
                 preset_label=analysis.targets_label, lang=lang)  # fmt: skip
    fmap = study_map(
        study, categories=list(analysis.categories), thresholds=list(analysis.thresholds),
        profile=analysis.profile, lang=lang, self_contained=True,
        computed_isochrones=analysis.isochrones, computed_gaps=analysis.gaps,
    )  # fmt: skip
    save_map(fmap, folder / "map.html")
    return list(ANALYSIS_FILES)


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
        Per category: ``facilities`` placed, ``median_min``, ``p90_min``,
        ``within_<m>_min`` (share of homes), ``unreachable``, ``off_network``; and one row
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
        rows.append(
            {
                "category": key,
                "facilities": int(snapped.on_network.sum()),
                "median_min": round(float(np.median(t_min[ok])), 1) if ok.any() else np.nan,
                "p90_min": round(float(np.percentile(t_min[ok], 90)), 1) if ok.any() else np.nan,
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
