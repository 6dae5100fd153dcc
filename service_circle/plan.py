"""The plan's indicators, computed the way the plan defines them, for the study and each unit.

The Haidong 2025 action plan and the national plans count **units** (城乡社区, 乡镇/街道),
**households** and the **official resident population** — not shares of modelled people.
:data:`DEFINITIONS` is the catalogue of indicators (key, names, unit, formula, source
clause); :func:`plan_indicators` computes each of them for a study — and, when the study
has planning units, for every unit, township and county — at the one threshold and profile
per category of :mod:`service_circle.judging`.

An indicator whose inputs are missing is **not computable** and says what it needs; missing
data is never 0 % and never "not met". Where residents or households come from the units'
official counts the basis is ``official``; from the modelled demand, ``modelled``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from service_circle import _deadline
from service_circle.judging import Judgement
from service_circle.study import Study
from service_circle.units import (
    PERSONS_PER_HOUSEHOLD,
    assign,
    check_units,
    households,
    parent_units,
)

logger = logging.getLogger(__name__)

#: Share of a unit's served group that must be within the threshold for a category to
#: serve the unit when no facility of it stands inside (a parameter).
SERVED_SHARE = 0.5
#: The floor-area standard of community service facilities, m² per 100 households (民政部
#: 城乡社区服务体系建设规划: ≥ 30 m²; a parameter).
FLOOR_AREA_STANDARD_M2 = 30.0
#: Which categories each indicator reads.
ELDERLY_CARE = ("elderly_canteen", "elderly_daycare", "mutual_aid_home")
CHILDCARE = ("childcare",)
NURSERY_IN = ("kindergarten",)  # 幼儿园托班: their nursery_places count as 0-3 places
#: 城乡社区综合服务设施: the community station, and a village's own
COMMUNITY_SERVICE = ("community_service", "village_service")
#: 村级综合服务站 / 村委会 / 党群服务中心, and a community station standing in a village
VILLAGE_STATION = ("village_service", "community_service")
VILLAGE_CLINIC = ("village_clinic",)
MUTUAL_AID_HOME = ("mutual_aid_home",)
SPORTS = ("sports", "outdoor_fitness")
ELDERLY_INSTITUTIONS = ("nursing_home", "elderly_care_home", "township_elderly_centre")
ELDERLY_CENTRE = ("township_elderly_centre",)
NOT_COMPUTABLE = "not computable"
#: The village indicators: a village counts when a facility of the categories stands in it,
#: with the facility's name (English, Chinese) for the notes.
VILLAGE_PRESENCE: dict[str, tuple[tuple[str, ...], tuple[str, str]]] = {
    "village_service_facility_coverage": (
        VILLAGE_STATION, ("service station (村级综合服务站 / 村委会 / 党群服务中心)",
                          "村级综合服务站（村委会、党群服务中心）")),
    "village_clinic_coverage": (VILLAGE_CLINIC, ("village clinic (村卫生室)", "村卫生室")),
    "mutual_aid_home_coverage": (MUTUAL_AID_HOME, ("mutual-aid home (互助幸福院)",
                                                   "农村互助幸福院")),
}  # fmt: skip


@dataclass(frozen=True)
class Definition:
    """One plan indicator as the catalogue of indicators states it."""

    key: str
    name_zh: str
    name_en: str
    unit: str
    unit_zh: str
    formula: str
    source: str
    per_unit: str  # how a unit's own value reads: "ratio" or "yes/no"


#: Each definition's formula and source for a Chinese reader: indicator key → (formula,
#: source). The report in Chinese states them in these words.
DEFINITIONS_ZH: dict[str, tuple[str, str]] = {
    "childcare_places_per_1000": (
        "（托育机构托位数 + 幼儿园托班托位数）之和 ÷ 常住人口 × 1000",
        "海东市2025年行动方案；国务院《“十四五”公共服务规划》（4.5个）"),
    "home_community_elderly_care_coverage": (
        "有居家社区养老服务的城乡社区数 ÷ 城乡社区数（单元内有老年食堂或日间照料中心，或不少于"
        "规定比例的60岁及以上居民按老年人步速在阈值内可达）",
        "海东市2025年行动方案（90%）"),
    "community_service_facility_compliance": (
        "单元内社区综合服务设施建筑面积之和 ÷ 户数 × 100 不少于标准（30平方米）的城市社区数 ÷ "
        "城市社区数",
        "海东市2025年行动方案（100%）；民政部城乡社区服务体系建设规划（每百户不少于30平方米）"),
    "village_service_facility_coverage": (
        "单元内有村级综合服务站、村委会或党群服务中心的行政村数 ÷ 行政村数",
        "海东市2025年行动方案（90%）；全国不低于80%"),
    "community_service_area_per_100_households": (
        "社区综合服务设施建筑面积之和（平方米）÷ 户数 × 100",
        "海东市2025年行动方案（31.6平方米）；全国（30平方米）"),
    "sports_area_per_capita": (
        "所列体育场地面积之和（平方米：给出的面积，否则取OSM面状要素的面积，不用容纳人数）"
        "÷ 常住人口",
        "海东市2025年行动方案（2.7平方米）；《全民健身计划（2021—2025年）》（2.6平方米）"),
    "care_bed_share": (
        "养老机构护理型床位数之和 ÷ 床位数之和",
        "海东市2025年行动方案（60%）；《“十四五”国家老龄事业发展和养老服务体系规划》（55%）"),
    "township_elderly_service_centre_coverage": (
        "单元内有至少1处综合养老服务中心的乡镇（街道）数 ÷ 乡镇（街道）数",
        "海东市2025年行动方案（40%）；全国60%（待核）"),
    "village_clinic_coverage": (
        "单元内有村卫生室的行政村数 ÷ 行政村数",
        "TD/T 1062-2021 村/组层级；《村卫生室管理办法》（每个行政村一所）"),
    "mutual_aid_home_coverage": (
        "单元内有农村互助幸福院的行政村数 ÷ 行政村数",
        "TD/T 1062-2021 村/组层级；民政部农村互助养老"),
}  # fmt: skip

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "childcare_places_per_1000", "每千人口拥有3岁以下婴幼儿托位数",
        "childcare places for under-3s per 1000 residents", "places / 1000", "托位/千人",
        "Σ 0-3 places (托育机构 places + 幼儿园托班 nursery_places) ÷ 常住人口 × 1000",
        "Haidong 2025 plan; 国务院《“十四五”公共服务规划》 (4.5)", "ratio",
    ),
    Definition(
        "home_community_elderly_care_coverage", "城乡社区居家养老服务覆盖率",
        "home & community elderly-care coverage of 城乡社区", "share of units", "占城乡社区比例",
        "units served by elderly care (a canteen / day care inside the unit, or within the "
        "threshold of ≥ served_share of its 60+ under the elderly profile) ÷ 城乡社区 units",
        "Haidong 2025 plan (90 %)", "yes/no",
    ),
    Definition(
        "community_service_facility_compliance", "城市社区综合服务设施达标覆盖率",
        "urban communities whose service facilities meet the floor-area standard",
        "share of urban units", "占城市社区比例",
        "urban units with Σ floor area of community service facilities inside ÷ households × "
        "100 ≥ the standard (30 m²) ÷ urban units",
        "Haidong 2025 plan (100 %); 民政部 城乡社区服务体系建设规划 (≥ 30 m² / 100 households)",
        "yes/no",
    ),
    Definition(
        "village_service_facility_coverage", "村级综合服务设施覆盖率",
        "villages with a village comprehensive service station", "share of villages",
        "占行政村比例",
        "village units with a 村级综合服务站 / 村委会 / 党群服务中心 inside ÷ village units",
        "Haidong 2025 plan (90 %); national ≥ 80 %", "yes/no",
    ),
    Definition(
        "community_service_area_per_100_households", "每百户居民拥有社区综合服务设施面积",
        "community service floor area per 100 households", "m² / 100 households", "平方米/百户",
        "Σ floor area (m²) of community service facilities ÷ households × 100",
        "Haidong 2025 plan (31.6 m²); national (30 m²)", "ratio",
    ),
    Definition(
        "sports_area_per_capita", "人均体育场地面积", "sports ground area per resident", "m²",
        "平方米/人",
        "Σ sports ground area (m²: the area given, else the OSM polygon's footprint; never an "
        "OSM capacity head count) ÷ residents",
        "Haidong 2025 plan (2.7 m²); 《全民健身计划（2021—2025年）》 (2.6 m²)", "ratio",
    ),
    Definition(
        "care_bed_share", "养老机构护理型床位占比", "care-type beds in elderly institutions",
        "share of beds", "占床位比例",
        "Σ care-type beds (护理型床位数) ÷ Σ beds (床位数) of elderly-care institutions",
        "Haidong 2025 plan (60 %); 《“十四五”国家老龄事业发展和养老服务体系规划》 (55 %)",
        "ratio",
    ),
    Definition(
        "township_elderly_service_centre_coverage", "乡镇（街道）综合养老服务机构覆盖率",
        "townships / streets with a comprehensive elderly service centre",
        "share of townships", "占乡镇（街道）比例",
        "township / street units with ≥ 1 comprehensive elderly service centre inside ÷ "
        "township / street units",
        "Haidong 2025 plan (40 %); national 60 % (check)", "yes/no",
    ),
    Definition(
        "village_clinic_coverage", "村卫生室覆盖率", "villages with a village clinic",
        "share of villages", "占行政村比例",
        "village units with a 村卫生室 inside ÷ village units",
        "TD/T 1062-2021 村/组层级; 《村卫生室管理办法》 (one per administrative village)",
        "yes/no",
    ),
    Definition(
        "mutual_aid_home_coverage", "农村互助幸福院覆盖率", "villages with a mutual-aid home",
        "share of villages", "占行政村比例",
        "village units with a 农村互助幸福院 inside ÷ village units",
        "TD/T 1062-2021 村/组层级; 民政部 农村互助养老", "yes/no",
    ),
)  # fmt: skip
BY_KEY = {d.key: d for d in DEFINITIONS}


@dataclass(frozen=True)
class Indicator:
    """One line of the report: the value, its target and status, and how it was counted.

    ``status`` is ``met``, ``not met``, ``no target`` or ``not computable``; ``basis`` is
    ``official`` (the units' counts), ``modelled`` (the demand model), ``mixed`` or ``""``
    (not a count of people). A share is a fraction from 0 to 1.
    """

    key: str
    name_zh: str
    name_en: str
    unit: str
    value: float | None
    target: float | None
    status: str
    note: str = ""
    unit_zh: str = ""
    note_zh: str = ""
    basis: str = ""
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True)
class PlanSettings:
    """The parameters of the definitions (defaults: :data:`SERVED_SHARE` …)."""

    served_share: float = SERVED_SHARE
    floor_area_standard_m2: float = FLOOR_AREA_STANDARD_M2
    persons_per_household: float = PERSONS_PER_HOUSEHOLD


@dataclass
class PlanResult:
    """The indicators of a study, and per unit, township and county when it has units.

    Attributes
    ----------
    indicators
        The plan's indicators for the whole study (:data:`DEFINITIONS` order).
    judged
        The threshold and profile each category was judged at.
    units
        One row per unit (geometry: the unit) and a last row ``outside any unit`` (no
        geometry) — or ``None`` without units.
    townships, counties
        One row per township / county (``None`` without them).
    assessed, unassessed
        Categories the completeness (配齐) covers, and those it cannot (no facility data).
    basis
        ``population`` and ``households``: ``official``, ``modelled`` or ``mixed``.
    notes
        What a reader must know (units with no kind, homes outside every unit …).
    """

    indicators: list[Indicator]
    judged: dict[str, Judgement]
    units: gpd.GeoDataFrame | None = None
    townships: pd.DataFrame | None = None
    counties: pd.DataFrame | None = None
    assessed: tuple[str, ...] = ()
    unassessed: tuple[str, ...] = ()
    basis: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def applies(level: str, unit_kind: str) -> bool:
    """Whether a unit of ``unit_kind`` must have a category of tier ``level`` (配齐).

    A village answers for the village tier (TD/T 1062 村/组); an urban community (or a unit
    of no kind) for GB 50180's block, 5-, 10- and 15-minute tiers. The township tier is a
    township's, reached by road (:mod:`service_circle.rural`), not any one unit's.
    """
    if level == "township":
        return False
    return (unit_kind == "village") == (level == "village")


# ---------------------------------------------------------------------- reach
def reach(study: Study, judged: Mapping[str, Judgement]) -> tuple[np.ndarray, np.ndarray]:
    """Per home and category: within the judged threshold, and the cost to the nearest.

    Costs are in the threshold's unit (minutes or metres; inf: unreachable, and for a
    category without facilities).
    """
    keys = list(judged)
    n = len(study.demand)
    within = np.zeros((n, len(keys)), dtype=bool)
    cost = np.full((n, len(keys)), np.inf)
    present = set(study.facilities["category"])
    for j, key in enumerate(keys):
        if key not in present:
            continue
        _deadline.check("the plan indicators")
        rule = judged[key]
        result = study.search(key, rule.cost)
        within[:, j] = result.point_cost <= rule.limit
        cost[:, j] = rule.cost.to_threshold_unit(result.point_cost)
    return within, cost


def grouped_quantiles(
    values: np.ndarray, weights: np.ndarray, groups: np.ndarray, n_groups: int, qs: Sequence[float]
) -> np.ndarray:
    """Weighted quantiles of ``values`` within each group, in one sort.

    The ``q`` quantile of a group is its smallest value whose cumulative weight reaches
    ``q`` of the group's weight; NaN for a group without weight.

    Returns
    -------
    numpy.ndarray
        ``(len(qs), n_groups)``.
    """
    out = np.full((len(qs), n_groups), np.nan)
    keep = weights > 0
    if not keep.any():
        return out
    v, w, g = values[keep], weights[keep], groups[keep]
    order = np.lexsort((v, g))
    v, w, g = v[order], w[order], g[order]
    cumulative = np.cumsum(w)
    total = np.bincount(g, weights=w, minlength=n_groups)
    first = np.searchsorted(g, np.arange(n_groups), side="left")
    last = np.searchsorted(g, np.arange(n_groups), side="right") - 1
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    present = total > 0
    for i, q in enumerate(qs):
        target = before + q * total * (1 - 1e-9)
        at = np.minimum(np.searchsorted(cumulative, target, side="left"), last)
        out[i, present] = v[at[present]]
    return out


def group_share(slot: np.ndarray, group: np.ndarray, inside: ArrayLike, n: int) -> np.ndarray:
    """Per slot (a unit): the share of its ``group`` for whom ``inside`` holds (NaN: none)."""
    total = np.bincount(slot, weights=group, minlength=n)
    near = np.bincount(slot, weights=group * np.asarray(inside), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, near / total, np.nan)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted median of ``values`` (:func:`grouped_quantiles` of one group)."""
    return float(grouped_quantiles(values, weights, np.zeros(len(values), np.int64), 1,
                                   (0.5,))[0, 0])  # fmt: skip


# ---------------------------------------------------------------------- facilities
def _field(fac: pd.DataFrame, name: str) -> np.ndarray:
    return fac[name].to_numpy(np.float64) if name in fac else np.full(len(fac), np.nan)


def _ground_area_m2(fac: pd.DataFrame) -> np.ndarray:
    """A sports facility's ground: its ground area, else its area, else its OSM footprint."""
    out = _field(fac, "ground_area_m2")
    for fallback in ("area_m2", "footprint_m2"):
        out = np.where(np.isfinite(out), out, _field(fac, fallback))
    return out


def _floor_area_m2(fac: pd.DataFrame) -> np.ndarray:
    out = _field(fac, "floor_area_m2")
    return np.where(np.isfinite(out), out, _field(fac, "area_m2"))


def _places_0_3(fac: pd.DataFrame) -> np.ndarray:
    """0-3 places of each facility.

    A childcare facility's places; a kindergarten's nursery places (0 if not given: most
    kindergartens have no 托班).
    """
    cats = fac["category"].to_numpy()
    places = np.where(np.isfinite(_field(fac, "places")), _field(fac, "places"),
                      _field(fac, "capacity"))  # fmt: skip
    nursery = _field(fac, "nursery_places")
    out = np.full(len(fac), np.nan)
    out[np.isin(cats, CHILDCARE)] = places[np.isin(cats, CHILDCARE)]
    kg = np.isin(cats, NURSERY_IN)
    out[kg] = np.where(np.isfinite(nursery[kg]), nursery[kg], 0.0)
    return out


@dataclass(frozen=True)
class _Sum:
    """A facility field summed, or what is missing for it."""

    value: float | None
    missing: int  # facilities of the kind without the field
    present: int  # facilities of the kind


def _sum(values: np.ndarray, mask: np.ndarray) -> _Sum:
    picked = values[mask]
    missing = int((~np.isfinite(picked)).sum())
    return _Sum(None if missing else float(picked.sum()), missing, int(mask.sum()))


# ---------------------------------------------------------------------- the computation
def plan_indicators(
    study: Study,
    judged: Mapping[str, Judgement],
    targets: Mapping[str, Any],
    *,
    units: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None,
    counties: gpd.GeoDataFrame | None = None,
    settings: PlanSettings | None = None,
    stock: Study | None = None,
) -> PlanResult:
    """Every plan indicator for the study, and per unit, township and county.

    Parameters
    ----------
    study
        The study (its demand already fitted to the units' official populations when the
        units carry them: :func:`service_circle.units.fit_demand`).
    judged
        How each category is judged (:func:`service_circle.judging.judging_rule`); the
        categories of the per-unit table and of the completeness.
    targets
        Indicator key → target (:func:`service_circle.targets.load_targets`).
    units
        The planning units (:func:`service_circle.units.read_units`), default the study's.
    townships, counties
        Their own polygons; default: dissolved from the units' parent columns.
    settings
        The parameters of the definitions.
    stock
        The study whose facilities exist (default ``study``). With ``study`` a view of
        the facilities open at a moment (:meth:`~service_circle.study.Study.open_at`), the
        moment narrows who can reach an open facility, never how many places, beds or
        square metres exist, nor which services a unit is assessed for: those come from
        ``stock``.
    """
    settings = settings or PlanSettings()
    if units is None:
        units = study.units
    fac = (stock if stock is not None else study).facilities
    cats = fac["category"].to_numpy()
    keys = list(judged)
    within, cost = reach(study, judged)
    has_data = {k: bool((cats == k).any()) for k in keys}
    assessed = tuple(k for k in keys if has_data[k])
    unassessed = tuple(k for k in keys if not has_data[k])
    pop = study.demand["population"].to_numpy(np.float64)
    notes: list[str] = []

    if units is None or len(units) == 0:
        ctx = _Context(study, judged, settings, within, cost, home_unit=np.zeros(len(pop), int),
                       fac_unit=np.zeros(len(fac), int), n_units=1, stock=fac)  # fmt: skip
        residents = float(pop.sum())
        hh = residents / settings.persons_per_household
        basis = {"population": "modelled", "households": "modelled"}
        indicators = _study_indicators(ctx, targets, residents, hh, basis, None, None)
        return PlanResult(indicators, dict(judged), assessed=assessed, unassessed=unassessed,
                          basis=basis, notes=notes)  # fmt: skip

    notes += check_units(units)  # overlaps and gaps, named, in the report too
    home_unit = assign(units, study.demand)
    fac_unit = assign(units, fac)
    n_units = len(units)
    ctx = _Context(study, judged, settings, within, cost, home_unit, fac_unit, n_units, fac)
    table = _unit_table(ctx, units, targets, assessed)
    inside = table.iloc[:n_units]
    residents = float(inside["residents"].sum())
    hh = float(inside["households"].sum())
    basis = {
        "population": _basis(inside["residents_basis"]),
        "households": _basis(inside["households_basis"]),
    }
    outside = table.iloc[n_units]
    if outside["residents"] > 0 or outside["facilities_inside"] > 0:
        notes.append(
            f"{outside['residents']:,.0f} modelled residents and "
            f"{int(outside['facilities_inside'])} facilities lie outside every unit: listed in "
            "their own row, not in the plan's totals"
        )
    town_parents, town_of = parent_units(units, "township", townships)
    county_parents, county_of = parent_units(units, "county", counties)
    town_table = (
        _parent_table(ctx, table, town_parents, town_of, "township", targets)
        if len(town_parents) else None
    )  # fmt: skip
    county_table = (
        _parent_table(ctx, table, county_parents, county_of, "county", targets)
        if len(county_parents) else None
    )  # fmt: skip
    indicators = _study_indicators(ctx, targets, residents, hh, basis, table, town_table)
    _blank_not_computable(indicators, [table, town_table, county_table])
    return PlanResult(
        indicators, dict(judged), units=table, townships=town_table, counties=county_table,
        assessed=assessed, unassessed=unassessed, basis=basis, notes=notes,
    )  # fmt: skip


def _blank_not_computable(indicators: list[Indicator], tables: list[pd.DataFrame | None]) -> None:
    """An indicator the study's data cannot support is not computed for any unit either."""
    for ind in indicators:
        if ind.status != NOT_COMPUTABLE:
            continue
        for table in tables:
            if table is None:
                continue
            for column in (ind.key, f"{ind.key}.met"):
                if column in table:
                    dtype = str(table[column].dtype)
                    keep = dtype if dtype in ("boolean", "Float64") else "Float64"
                    table[column] = pd.array([None] * len(table), dtype=keep)


def _basis(values: pd.Series) -> str:
    kinds = set(values)
    return kinds.pop() if len(kinds) == 1 else "mixed"


@dataclass
class _Context:
    study: Study
    judged: Mapping[str, Judgement]
    settings: PlanSettings
    within: np.ndarray
    cost: np.ndarray
    home_unit: np.ndarray  # -1 outside
    fac_unit: np.ndarray
    n_units: int
    stock: pd.DataFrame  # the facilities that exist (open or not at the moment asked)

    @property
    def fac(self) -> pd.DataFrame:
        return self.stock

    def of(self, categories: Sequence[str]) -> np.ndarray:
        return np.isin(self.fac["category"].to_numpy(), list(categories))

    def facilities_in(self, unit: int, categories: Sequence[str]) -> np.ndarray:
        return self.of(categories) & (self.fac_unit == unit)


def _unit_table(
    ctx: _Context, units: gpd.GeoDataFrame, targets: Mapping[str, Any], assessed: Sequence[str]
) -> gpd.GeoDataFrame:
    """One row per unit and one for the homes and facilities outside every unit."""
    demand, fac, st = ctx.study.demand, ctx.fac, ctx.settings
    keys = list(ctx.judged)
    pop = demand["population"].to_numpy(np.float64)
    n = ctx.n_units
    official_pop = units["population"].to_numpy(np.float64)
    modelled_pop = np.bincount(np.where(ctx.home_unit >= 0, ctx.home_unit, n), weights=pop,
                               minlength=n + 1)  # fmt: skip
    residents = np.append(np.where(np.isfinite(official_pop), official_pop, modelled_pop[:n]),
                          modelled_pop[n])  # fmt: skip
    hh_units, hh_official = households(units, residents[:n])
    rows: dict[str, Any] = {
        "unit_code": [*units["unit_code"].astype(str), ""],
        "unit_name": [*units["unit_name"].astype(str), "outside any unit"],
        "unit_kind": [*units["unit_kind"].astype(str), ""],
        "township": [*units["township"].astype(str), ""],
        "county": [*units["county"].astype(str), ""],
        "residents": residents,
        "residents_basis": [*np.where(np.isfinite(official_pop), "official", "modelled"),
                            "modelled"],
        "households": np.append(hh_units, modelled_pop[n] / st.persons_per_household),
        "households_basis": [*np.where(hh_official, "official", "modelled"), "modelled"],
        "homes": np.bincount(np.where(ctx.home_unit >= 0, ctx.home_unit, n), minlength=n + 1),
        "facilities_inside": np.bincount(np.where(ctx.fac_unit >= 0, ctx.fac_unit, n),
                                         minlength=n + 1),
    }  # fmt: skip
    slot = np.where(ctx.home_unit >= 0, ctx.home_unit, n)
    fslot = np.where(ctx.fac_unit >= 0, ctx.fac_unit, n)
    served = np.zeros((n + 1, len(keys)), dtype=bool)
    group_total = {}
    for j, key in enumerate(keys):
        if key not in assessed:
            continue
        cat = ctx.study.catalogue[key]
        group = demand[cat.group_column].to_numpy(np.float64)
        group_total[key] = np.bincount(slot, weights=group, minlength=n + 1)
        share = group_share(slot, group, ctx.within[:, j], n + 1)
        mine = fac["category"].to_numpy() == key
        count = np.bincount(fslot[mine], minlength=n + 1)
        capacity = fac["capacity"].to_numpy(np.float64)[mine] if "capacity" in fac else np.full(
            int(mine.sum()), np.nan)  # fmt: skip
        cap_sum = np.bincount(fslot[mine], weights=np.nan_to_num(capacity), minlength=n + 1)
        cap_missing = np.bincount(fslot[mine], weights=~np.isfinite(capacity), minlength=n + 1)
        median, p90 = grouped_quantiles(ctx.cost[:, j], group, slot, n + 1, (0.5, 0.9))
        served[:, j] = (count > 0) | (np.nan_to_num(share) >= st.served_share)
        rows[f"{key}.share"] = share
        rows[f"{key}.median"] = np.where(np.isfinite(median), median, np.nan)
        rows[f"{key}.p90"] = np.where(np.isfinite(p90), p90, np.nan)
        rows[f"{key}.facilities"] = count
        rows[f"{key}.capacity"] = np.where(cap_missing > 0, np.nan, cap_sum)
        rows[f"{key}.served"] = served[:, j]
    assessed_idx = [keys.index(k) for k in assessed]
    if assessed_idx:
        got = served[:, assessed_idx]
        kinds = [*units["unit_kind"].astype(str), "urban"]
        due = np.array([[applies(ctx.study.catalogue[k].level, kind) for k in assessed]
                        for kind in kinds], dtype=bool).reshape(n + 1, len(assessed))  # fmt: skip
        lack = due & ~got
        rows["complete"] = ~lack.any(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows["score"] = np.where(due.any(axis=1), (due & got).sum(axis=1) / due.sum(axis=1),
                                     np.nan)  # fmt: skip
        names = np.array(assessed, dtype=object)
        rows["missing"] = [",".join(names[r]) for r in lack]
        rows["missing_count"] = lack.sum(axis=1)
    # the unit's own values of the plan indicators
    places = _places_0_3(fac)
    floor = _floor_area_m2(fac)
    ground = _ground_area_m2(fac)
    beds, care = _field(fac, "beds"), _field(fac, "care_beds")
    childcare = ctx.of(CHILDCARE) | (
        ctx.of(NURSERY_IN) & np.isfinite(_field(fac, "nursery_places"))
    )
    per_unit: dict[str, Any] = {}
    elderly_idx = [keys.index(k) for k in ELDERLY_CARE if k in keys]
    elderly_share = np.full(n + 1, np.nan)
    if elderly_idx:
        old = demand["pop_60plus"].to_numpy(np.float64)
        elderly_share = group_share(slot, old, ctx.within[:, elderly_idx].any(axis=1), n + 1)
    elderly_inside = np.bincount(fslot[ctx.of(ELDERLY_CARE)], minlength=n + 1)
    rows["elderly_care.share_60plus"] = elderly_share
    res, hh = np.asarray(rows["residents"]), np.asarray(rows["households"])

    def per_unit_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Σ ``values`` of the facilities of ``mask`` in each unit; NaN where one lacks it."""
        known = np.isfinite(values)
        total = np.bincount(fslot[mask], weights=np.where(known, values, 0)[mask],
                            minlength=n + 1)  # fmt: skip
        missing = np.bincount(fslot[mask], weights=~known[mask], minlength=n + 1)
        return np.where(missing > 0, np.nan, total)

    with np.errstate(invalid="ignore", divide="ignore"):
        c = per_unit_sum(places, childcare)
        per_unit["childcare_places_per_1000"] = np.where(res > 0, c / res * 1000, np.nan)
        a = per_unit_sum(floor, ctx.of(COMMUNITY_SERVICE))
        per_100 = np.where(hh > 0, a / hh * 100, np.nan)
        per_unit["community_service_area_per_100_households"] = per_100
        g = per_unit_sum(ground, ctx.of(SPORTS))
        per_unit["sports_area_per_capita"] = np.where(res > 0, g / res, np.nan)
        inst = ctx.of(ELDERLY_INSTITUTIONS)
        b, cb = per_unit_sum(beds, inst), per_unit_sum(care, inst)
        per_unit["care_bed_share"] = np.where(b > 0, cb / b, np.nan)
    kind = np.asarray(rows["unit_kind"], dtype=object)
    served_old = (elderly_inside > 0) | (np.nan_to_num(elderly_share) >= st.served_share)
    per_unit["home_community_elderly_care_coverage"] = [
        bool(v) if u < n else None for u, v in enumerate(served_old)
    ]
    compliant = np.nan_to_num(per_100, nan=-1.0) >= st.floor_area_standard_m2 - 1e-9
    per_unit["community_service_facility_compliance"] = [
        bool(ok) if k == "urban" and np.isfinite(v) else None
        for k, ok, v in zip(kind, compliant, per_100, strict=True)
    ]
    for key, (categories, _) in VILLAGE_PRESENCE.items():
        found = np.bincount(fslot[ctx.of(categories)], minlength=n + 1)
        per_unit[key] = [bool(count > 0) if k == "village" else None
                         for k, count in zip(kind, found, strict=True)]  # fmt: skip
    for key in _UNIT_KEYS:
        values = per_unit[key]
        if BY_KEY[key].per_unit == "yes/no":
            rows[key] = pd.array(values, dtype="boolean")
            continue
        values = np.asarray(values, dtype=np.float64)
        rows[key] = pd.array(np.where(np.isfinite(values), values, np.nan), dtype="Float64")
        rows[key][~np.isfinite(values)] = pd.NA
        target = targets.get(key)
        if target is not None:
            met = pd.array(values >= target - 1e-12, dtype="boolean")
            met[~np.isfinite(values)] = pd.NA
            rows[f"{key}.met"] = met
    geometry = [*units.geometry.to_numpy(), None]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geometry, crs="EPSG:4326")


_UNIT_KEYS = (
    "childcare_places_per_1000", "home_community_elderly_care_coverage",
    "community_service_facility_compliance", "village_service_facility_coverage",
    "community_service_area_per_100_households", "sports_area_per_capita", "care_bed_share",
    "village_clinic_coverage", "mutual_aid_home_coverage",
)  # fmt: skip


#: How each column of a township / county row is made from its units' rows.
PARENT_COLUMNS: dict[str, Text] = {
    "units": ("count of its units", "所辖单元数"),
    "residents": ("sum", "求和"),
    "households": ("sum", "求和"),
    "<category>.share": ("population-weighted over the group served (Σ reached ÷ Σ group)",
                         "按服务人群加权（可达人数之和 ÷ 服务人群之和）"),
    "units_complete": ("count of its units with every service assessed (配齐)", "配齐单元数"),
    "home_community_elderly_care_coverage": ("share of its units served", "达标单元占比"),
    "community_service_facility_compliance": ("share of its urban units compliant",
                                              "达标城市社区占比"),
    "village_service_facility_coverage": ("share of its villages with a station",
                                          "有服务站的行政村占比"),
    "village_clinic_coverage": ("share of its villages with a clinic", "有村卫生室的行政村占比"),
    "mutual_aid_home_coverage": ("share of its villages with a mutual-aid home",
                                 "有互助幸福院的行政村占比"),
    "childcare_places_per_1000": ("Σ places ÷ Σ residents × 1000", "托位之和 ÷ 人口之和 × 1000"),
    "community_service_area_per_100_households": ("Σ floor area ÷ Σ households × 100",
                                                  "面积之和 ÷ 户数之和 × 100"),
    "sports_area_per_capita": ("Σ ground area ÷ Σ residents", "场地面积之和 ÷ 人口之和"),
    "township_elderly_service_centre_coverage": (
        "whether a comprehensive elderly service centre stands in it", "是否有综合养老服务中心"),
}  # fmt: skip


def _parent_table(
    ctx: _Context,
    table: pd.DataFrame,
    parents: gpd.GeoDataFrame,
    parent_of: np.ndarray,
    level: str,
    targets: Mapping[str, Any],
) -> pd.DataFrame:
    """Townships or counties, each made from its units as :data:`PARENT_COLUMNS` says."""
    units = table.iloc[: ctx.n_units]
    m = len(parents)
    has = parent_of >= 0
    slot = parent_of[has]

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(slot, weights=np.asarray(values, np.float64)[has], minlength=m)

    res, hh = total(units["residents"]), total(units["households"])
    rows: dict[str, Any] = {
        level: parents["name"].astype(str).to_numpy(),
        "units": np.bincount(slot, minlength=m),
        "residents": res,
        "households": hh,
    }
    home_slot = np.where(ctx.home_unit >= 0, ctx.home_unit, ctx.n_units)
    for key in (k for k in ctx.judged if f"{k}.share" in units):
        column = ctx.study.catalogue[key].group_column
        group = ctx.study.demand[column].to_numpy(np.float64)
        weight = np.bincount(home_slot, weights=group, minlength=ctx.n_units + 1)[: ctx.n_units]
        share = units[f"{key}.share"].to_numpy(np.float64)
        ok = np.isfinite(share) & (weight > 0)
        reached, base = total(np.where(ok, share * weight, 0)), total(np.where(ok, weight, 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            rows[f"{key}.share"] = np.where(base > 0, reached / base, np.nan)
    if "complete" in units:
        rows["units_complete"] = total(units["complete"].to_numpy(bool)).astype(np.int64)
    for key in (
        "home_community_elderly_care_coverage",
        "community_service_facility_compliance",
        *VILLAGE_PRESENCE,
    ):
        values = units[key]
        known = values.notna().to_numpy()
        yes = total(values.fillna(False).to_numpy(bool))
        counted = total(known)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows[key] = np.where(counted > 0, yes / counted, np.nan)
    bases = {
        "childcare_places_per_1000": units["residents"].to_numpy(np.float64) / 1000,
        "community_service_area_per_100_households": units["households"].to_numpy(np.float64) / 100,
        "sports_area_per_capita": units["residents"].to_numpy(np.float64),
    }
    for key, own in bases.items():
        values = units[key].to_numpy(dtype=np.float64, na_value=np.nan)
        unknown = total(~np.isfinite(values))
        amount = total(np.where(np.isfinite(values), values * own, 0))
        base = total(own)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows[key] = np.where((unknown == 0) & (base > 0), amount / base, np.nan)
    if level == "township":
        centre = ctx.of(ELDERLY_CENTRE)
        where = assign(parents, ctx.fac[centre]) if centre.any() else np.array([], dtype=int)
        found = np.bincount(where[where >= 0], minlength=m)
        rows["township_elderly_service_centre_coverage"] = found > 0
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- study level
Text = tuple[str, str]  # (English, Chinese)


def _indicator(
    key: str,
    value: float | None,
    targets: Mapping[str, Any],
    note: Text,
    *,
    basis: str = "",
    numerator: float | None = None,
    denominator: float | None = None,
) -> Indicator:
    """An indicator line: its status from the value and the target."""
    d = BY_KEY[key]
    target = targets.get(key)
    if value is None:
        status = NOT_COMPUTABLE
    elif target is None:
        status = "no target"
    else:
        status = "met" if value >= target - 1e-12 else "not met"
    return Indicator(
        key=key,
        name_zh=d.name_zh,
        name_en=d.name_en,
        unit=d.unit,
        value=value,
        target=target,
        status=status,
        note=note[0],
        unit_zh=d.unit_zh,
        note_zh=note[1],
        basis=basis if value is not None else "",
        numerator=numerator,
        denominator=denominator,
    )


def _needs(what: Text) -> Text:
    return f"needs {what[0]}", f"需要{what[1]}"


def _field_needs(s: _Sum, kind: Text, field_name: Text) -> Text:
    """What a facility sum lacks: the facilities themselves, or a field of some of them."""
    if s.present == 0:
        return _needs((f"the {kind[0]} facilities with their {field_name[0]}: none given",
                       f"{kind[1]}设施及其{field_name[1]}：未提供"))  # fmt: skip
    return _needs((f"the {field_name[0]} of {s.missing} of the {s.present} {kind[0]} facilities",
                   f"{s.present}处{kind[1]}中{s.missing}处的{field_name[1]}"))  # fmt: skip


NO_UNITS: Text = ("planning units (--units): the plan counts 城乡社区", "规划单元（--units）")
COMMUNITY: Text = ("community service", "社区综合服务设施")
FLOOR: Text = ("floor area (建筑面积)", "建筑面积")


def _left_out(values: np.ndarray, of: np.ndarray, in_plan: np.ndarray, what: Text) -> Text:
    """What the study's total leaves out: the facilities of a kind outside every unit.

    ``what`` names the counted field, e.g. ``("places", "个托位")``. Empty when nothing
    is left out; otherwise a clause for the indicator's note, so that a total is never read
    as the whole study's when it is not.
    """
    outside = of & ~in_plan
    if not outside.any():
        return ("", "")
    amount = values[outside]
    known = float(np.nansum(amount)) if np.isfinite(amount).any() else None
    n = int(outside.sum())
    en = f"; not counted: {n} {'facility' if n == 1 else 'facilities'} outside every unit"
    zh = f"；未计入规划单元外的{n}处设施"
    if known:
        en += f" ({known:,.0f} {what[0]})"
        zh += f"（{known:,.0f}{what[1]}）"
    return (en, zh)


def _plus(note: Text, more: Text) -> Text:
    return (note[0] + more[0], note[1] + more[1])


def _ratio(key: str, s: _Sum, base: float, scale: float, targets: Mapping[str, Any],
           kind: Text, field_name: Text, note: Text, basis: str) -> Indicator:  # fmt: skip
    """Σ a facility field ÷ ``base`` × ``scale``, or what it needs."""
    if s.value is None or s.present == 0:
        return _indicator(key, None, targets, _field_needs(s, kind, field_name))
    value = s.value / base * scale if base > 0 else None
    return _indicator(key, value, targets, note, basis=basis, numerator=s.value,
                      denominator=base)  # fmt: skip


def _study_indicators(
    ctx: _Context,
    targets: Mapping[str, Any],
    residents: float,
    hh: float,
    basis: dict[str, str],
    table: pd.DataFrame | None,
    towns: pd.DataFrame | None,
) -> list[Indicator]:
    """The indicators for the whole study, in :data:`DEFINITIONS` order."""
    fac, st = ctx.fac, ctx.settings
    in_plan = ctx.fac_unit >= 0  # the facilities inside the units (all of them without units)
    pop_basis, hh_basis = basis["population"], basis["households"]
    kinds = table["unit_kind"].to_numpy()[: ctx.n_units] if table is not None else np.array([])
    scope: Text = (
        (" (inside the planning units)", "（规划单元内）")
        if table is not None
        else (" (modelled residents of the study area)", "（研究范围内的模拟居民）")
    )
    out = []

    # 1 childcare places per 1000 residents
    nursery = ctx.of(NURSERY_IN) & np.isfinite(_field(fac, "nursery_places"))
    places = ctx.of(CHILDCARE) | nursery
    s = _sum(_places_0_3(fac), places & in_plan)
    out.append(_ratio(
        "childcare_places_per_1000", s, residents, 1000, targets,
        ("childcare (托育)", "托育机构"), ("places (托位数)", "托位数"),
        _plus((f"{s.value or 0:,.0f} places ÷ {residents:,.0f} residents × 1000{scope[0]}",
               f"{s.value or 0:,.0f}个托位 ÷ {residents:,.0f}人 × 1000{scope[1]}"),
              _left_out(_places_0_3(fac), places, in_plan, ("places", "个托位"))), pop_basis,
    ))  # fmt: skip

    # 2 elderly care: a share of 城乡社区
    key = "home_community_elderly_care_coverage"
    share = f"{st.served_share:.0%}"
    if table is None:
        out.append(_indicator(key, None, targets, _needs(NO_UNITS)))
    elif not ctx.of(ELDERLY_CARE).any():
        out.append(_indicator(key, None, targets, _needs((
            "the elderly canteens / day-care centres: none given",
            "老年食堂、日间照料等养老服务设施：未提供"))))  # fmt: skip
    else:
        out.append(_unit_share(ctx, table, key, targets, kinds=None, note=(
            f"served: a canteen or day care inside, or within the threshold of ≥ {share} of "
            "the unit's 60+ (elderly profile)",
            f"单元内有养老服务设施，或不少于{share}的60岁及以上居民在阈值内可达（老年人步速）",
        )))  # fmt: skip

    # 3 urban communities meeting the floor-area standard
    key = "community_service_facility_compliance"
    floor = _floor_area_m2(fac)
    urban = np.flatnonzero(kinds == "urban")
    s = _sum(floor, ctx.of(COMMUNITY_SERVICE) & np.isin(ctx.fac_unit, urban))
    if table is None:
        out.append(_indicator(key, None, targets, _needs(NO_UNITS)))
    elif urban.size == 0:
        out.append(
            _indicator(
                key,
                None,
                targets,
                _needs(("urban community units (类型 城市社区)", "城市社区单元（类型：城市社区）")),
            )
        )
    elif not ctx.of(COMMUNITY_SERVICE).any() or s.value is None:
        out.append(_indicator(key, None, targets, _field_needs(s, COMMUNITY, FLOOR)))
    else:
        std = st.floor_area_standard_m2
        out.append(_unit_share(
            ctx, table, key, targets, kinds=("urban",),
            basis=_basis(table["households_basis"].iloc[urban]),
            note=(f"urban units with ≥ {std:g} m² of community service floor area inside per "
                  "100 households", f"每百户社区综合服务设施面积不少于{std:g}平方米的城市社区"),
        ))  # fmt: skip

    # 4 villages with a service station
    out.append(_village_presence(ctx, table, kinds, "village_service_facility_coverage", targets))

    # 5 community service floor area per 100 households
    s = _sum(floor, ctx.of(COMMUNITY_SERVICE) & in_plan)
    modelled: Text = ("", "") if hh_basis == "official" else (
        f"; households modelled as residents ÷ {st.persons_per_household:g}",
        f"；户数按每户{st.persons_per_household:g}人估算")  # fmt: skip
    out.append(_ratio(
        "community_service_area_per_100_households", s, hh, 100, targets, COMMUNITY, FLOOR,
        _plus((f"{s.value or 0:,.0f} m² ÷ {hh:,.0f} households × 100{modelled[0]}",
               f"{s.value or 0:,.0f}平方米 ÷ {hh:,.0f}户 × 100{modelled[1]}"),
              _left_out(floor, ctx.of(COMMUNITY_SERVICE), in_plan, ("m²", "平方米"))), hh_basis,
    ))  # fmt: skip

    # 6 sports ground per resident
    ground = _ground_area_m2(fac)
    s = _sum(ground, ctx.of(SPORTS) & in_plan)
    out.append(_ratio(
        "sports_area_per_capita", s, residents, 1, targets, ("sports", "体育场地"),
        ("ground area (场地面积, or an OSM polygon)", "场地面积（或OSM面状要素）"),
        _plus((f"{s.value or 0:,.0f} m² ÷ {residents:,.0f} residents",
               f"{s.value or 0:,.0f}平方米 ÷ {residents:,.0f}人"),
              _left_out(ground, ctx.of(SPORTS), in_plan, ("m²", "平方米"))), pop_basis,
    ))  # fmt: skip

    # 7 care-type beds of elderly institutions
    inst = ctx.of(ELDERLY_INSTITUTIONS) & in_plan
    beds, care = _sum(_field(fac, "beds"), inst), _sum(_field(fac, "care_beds"), inst)
    institution: Text = ("elderly-care institution", "养老机构")
    if beds.value is None or beds.present == 0:
        note = _field_needs(beds, institution, ("beds (床位数)", "床位数"))
        out.append(_indicator("care_bed_share", None, targets, note))
    elif care.value is None or beds.value <= 0:
        note = _field_needs(care, institution, ("care-type beds (护理型床位数)", "护理型床位数"))
        out.append(_indicator("care_bed_share", None, targets, note))
    else:
        out.append(_indicator(
            "care_bed_share", care.value / beds.value, targets,
            _plus((f"{care.value:,.0f} care-type beds ÷ {beds.value:,.0f} beds{scope[0]}",
                   f"护理型床位{care.value:,.0f}张 ÷ 床位{beds.value:,.0f}张{scope[1]}"),
                  _left_out(_field(fac, "beds"), ctx.of(ELDERLY_INSTITUTIONS), in_plan,
                            ("beds", "张床位"))),
            numerator=care.value, denominator=beds.value,
        ))  # fmt: skip

    # 8 townships / streets with a comprehensive elderly service centre
    key = "township_elderly_service_centre_coverage"
    if towns is None or not len(towns):
        out.append(_indicator(key, None, targets, _needs((
            "townships / streets (a 街道/乡镇 column of the units, or --townships)",
            "乡镇（街道）：单元的街道/乡镇字段，或--townships"))))  # fmt: skip
    elif not ctx.of(ELDERLY_CENTRE).any():
        out.append(
            _indicator(
                key,
                None,
                targets,
                _needs(
                    (
                        "the comprehensive elderly service centres: none given",
                        "综合养老服务中心：未提供",
                    )
                ),
            )
        )
    else:
        yes, n = int(towns[key].sum()), len(towns)
        out.append(_indicator(key, yes / n, targets, (
            f"{yes} of {n} townships / streets", f"{n}个乡镇（街道）中{yes}个"),
            numerator=yes, denominator=n))  # fmt: skip

    # 9, 10 the rural tier: villages with a clinic, with a mutual-aid home
    for key in ("village_clinic_coverage", "mutual_aid_home_coverage"):
        out.append(_village_presence(ctx, table, kinds, key, targets))
    return out


def _village_presence(
    ctx: _Context, table: pd.DataFrame | None, kinds: np.ndarray, key: str,
    targets: Mapping[str, Any],
) -> Indicator:  # fmt: skip
    """Villages with a facility of :data:`VILLAGE_PRESENCE` ``key`` inside, or what it needs."""
    categories, (what, what_zh) = VILLAGE_PRESENCE[key]
    if table is None:
        return _indicator(key, None, targets, _needs(NO_UNITS))
    if not (kinds == "village").any():
        return _indicator(key, None, targets, _needs((
            "village units (类型 行政村)", "行政村单元（类型：行政村）")))  # fmt: skip
    if not ctx.of(categories).any():
        return _indicator(key, None, targets, _needs((
            f"the facilities: a {what}, none given", f"{what_zh}设施：未提供")))  # fmt: skip
    return _unit_share(ctx, table, key, targets, kinds=("village",), note=(
        f"villages with a {what} inside", f"单元内有{what_zh}的行政村"))  # fmt: skip


def _unit_share(
    ctx: _Context, table: pd.DataFrame, key: str, targets: Mapping[str, Any], *,
    kinds: tuple[str, ...] | None, note: tuple[str, str], basis: str = "",
) -> Indicator:  # fmt: skip
    """A share of units (those of ``kinds``; all with residents) where ``key`` holds."""
    units = table.iloc[: ctx.n_units]
    pick = units["residents"].to_numpy() > 0
    if kinds is not None:
        pick &= np.isin(units["unit_kind"].to_numpy(), kinds)
    values = units[key].to_numpy(dtype=object)[pick]
    known = [v for v in values if v is not None and v is not pd.NA]
    yes = sum(bool(v) for v in known)
    empty = int((units["residents"].to_numpy() <= 0).sum())
    extra = (f"; {empty} units without residents not counted", f"；{empty}个无常住人口的单元不计")
    note = (note[0] + (extra[0] if empty else ""), note[1] + (extra[1] if empty else ""))
    value = yes / len(known) if known else None
    note = (f"{yes} of {len(known)} units; " + note[0], f"{len(known)}个单元中{yes}个；" + note[1])
    return _indicator(key, value, targets, note, basis=basis, numerator=yes,
                      denominator=len(known))  # fmt: skip
