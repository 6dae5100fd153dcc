"""What hills and road crossings cost: coverage as walked against the same walk made easy.

On a network with heights (:mod:`service_circle.terrain`) every walking time follows the
slope; on one with its crossings (:mod:`service_circle.crossings`) every crossing of a
major road costs its wait and width. :func:`terrain_effect` judges each category twice —
as its group walks it, and at the same flat speed with the slope ignored and crossing
free — so the report can say, per category and per unit, how many residents the hills
and the roads put beyond the threshold. Thresholds in metres are network distances:
neither changes them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle import _deadline
from service_circle.cost import CostModel
from service_circle.judging import Judgement
from service_circle.plan import group_share, weighted_median
from service_circle.profiles import Profile
from service_circle.study import Study
from service_circle.units import assign

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TerrainEffect:
    """Coverage as walked and on the flat with crossing free, per category and per unit.

    Attributes
    ----------
    summary
        One row per category judged in minutes: ``category``, ``minutes``, ``profile``,
        ``slope`` (the slope function), ``people`` (the group), ``share_terrain``,
        ``share_flat``, ``lost`` (people within on the flat, beyond with the hills),
        ``median_min_terrain``, ``median_min_flat``.
    units
        One row per unit with ``<key>.share_terrain`` and ``<key>.share_flat``; ``None``
        without units.
    terrain
        Where the heights and the crossings came from.
    kinds
        What the walk as walked counts that the easy one does not: ``"hills"``,
        ``"crossings"`` or both.
    """

    summary: pd.DataFrame
    units: pd.DataFrame | None
    terrain: str
    kinds: tuple[str, ...] = ("hills",)


def flat_profile(profile: Profile) -> Profile:
    """The same walker with the slope ignored and crossing free (``<name>_flat``)."""
    return dataclasses.replace(profile, name=f"{profile.name}_flat", slope=None, crossing=None)


def terrain_effect(
    study: Study,
    judged: Mapping[str, Judgement],
    *,
    units: gpd.GeoDataFrame | None = None,
) -> TerrainEffect | None:
    """Each category's coverage as walked and made easy; ``None`` when nothing differs.

    Parameters
    ----------
    study
        The study; its network carries heights, its crossings or both.
    judged
        How each category is judged (:func:`service_circle.judging.judging_rule`); the
        categories with facilities and a threshold in minutes are compared.
    units
        The planning units (default the study's): the per-unit table.
    """
    net = study.network
    if net.terrain is None and net.crossings is None:
        return None
    present = set(study.facilities["category"])
    keys = [k for k, j in judged.items() if k in present and j.threshold.is_time
            and ((net.terrain is not None and j.profile.slope is not None)
                 or (net.crossings is not None and j.profile.crossing is not None))]  # fmt: skip
    units = study.units if units is None else units
    n_units = len(units) if units is not None else 0
    where = (assign(units, study.demand) if n_units
             else np.full(len(study.demand), -1))  # fmt: skip
    slot = np.where(where >= 0, where, n_units)
    rows, per_unit = [], {}
    for key in keys:
        _deadline.check("the terrain's cost")
        rule = judged[key]
        group = study.demand[study.catalogue[key].group_column].to_numpy(np.float64)
        minutes: dict[str, np.ndarray] = {}
        for kind, profile in (("terrain", rule.profile), ("flat", flat_profile(rule.profile))):
            cost = CostModel.walking(profile)
            seconds = study.search(key, cost).point_cost
            minutes[kind] = np.asarray(cost.to_minutes(seconds), dtype=np.float64)
        within = {k: m <= rule.threshold.value for k, m in minutes.items()}
        people = float(group.sum())
        rows.append({
            "category": key, "minutes": rule.threshold.value, "profile": rule.profile.name,
            "slope": rule.profile.slope_name if net.terrain is not None else "flat",
            "people": people,
            "share_terrain": float(group[within["terrain"]].sum()) / people if people else np.nan,
            "share_flat": float(group[within["flat"]].sum()) / people if people else np.nan,
            "lost": float(group[within["flat"] & ~within["terrain"]].sum()),
            "median_min_terrain": weighted_median(minutes["terrain"], group),
            "median_min_flat": weighted_median(minutes["flat"], group),
        })  # fmt: skip
        for kind, inside in within.items() if n_units else ():
            per_unit[f"{key}.share_{kind}"] = group_share(slot, group, inside, n_units + 1)[
                :n_units]  # fmt: skip
    unit_table = None
    if n_units and units is not None:
        unit_table = pd.DataFrame({
            "unit_code": units["unit_code"].astype(str).to_numpy(),
            "unit_name": units["unit_name"].astype(str).to_numpy(), **per_unit,
        })  # fmt: skip
    kinds = (*(("hills",) if net.terrain is not None else ()),
             *(("crossings",) if net.crossings is not None else ()))  # fmt: skip
    sources = [net.terrain.source if net.terrain is not None else "",
               net.crossings.summary() if net.crossings is not None else ""]  # fmt: skip
    return TerrainEffect(pd.DataFrame(rows), unit_table, "; ".join(filter(None, sources)), kinds)
