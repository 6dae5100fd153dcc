"""Tables for people: headers in the reader's language, shares and minutes rounded.

The machine-readable outputs (``coverage.json``, ``report.json``, GeoJSON, the API) keep
raw values and English keys; the tables people open in Excel (``coverage.csv``,
``report.csv``, ``summary.csv``) and the console tables get headers in Chinese or English,
percentages with one decimal, residents as whole numbers. A study inside China speaks
Chinese by default (:func:`study_language`).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from service_circle._errors import InputError
from service_circle.catalogue import age_band
from service_circle.coords import in_china
from service_circle.plan import BY_KEY
from service_circle.profiles import profile_label

if TYPE_CHECKING:
    from service_circle.catalogue import Catalogue
    from service_circle.opening import OpenWhenNeeded
    from service_circle.rural import RoadCircle
    from service_circle.study import Study
    from service_circle.terrain_effect import TerrainEffect

logger = logging.getLogger(__name__)

Lang = Literal["zh", "en"]
LANGS = ("zh", "en")


def group_name(group: str, lang: str = "zh") -> str:
    """A served group for people: ``全体居民``, ``12-15岁``, ``60岁及以上`` (``60+`` in English)."""
    band = age_band(group)
    if band is None:
        return ("全体居民" if lang == "zh" else "everyone") if group == "everyone" else group
    first, end = band
    if end is None:
        return f"{first}岁及以上" if lang == "zh" else f"{first}+"
    return f"{first}-{end}岁" if lang == "zh" else f"{first}-{end}"


UNIT_NAMES = {"zh": {"min": "分钟", "m": "米"}, "en": {"min": "min", "m": "m"}}

_COVERAGE = {  # column → (zh, en)
    "category": ("类别代码", "category"),
    "name": ("设施", "facility type"),
    "threshold": ("阈值", "threshold"),
    "unit": ("单位", "unit"),
    "profile": ("步行速度档", "walking profile"),
    "facilities": ("设施数", "facilities"),
    "population": ("居民", "residents"),
    "covered": ("覆盖居民", "covered"),
    "share": ("覆盖率", "share covered"),
    "group": ("服务人群", "group served"),
    "group_population": ("服务人群人数", "group residents"),
    "group_covered": ("服务人群覆盖", "group covered"),
    "group_share": ("服务人群覆盖率", "group share covered"),
    "beyond_threshold": ("超出阈值", "beyond the threshold"),
    "unreachable": ("路网不可达", "unreachable on the network"),
    "off_network": ("远离路网", "off the network"),
    "blocked": ("被水体阻隔", "across water"),
    "no_geometry": ("无位置", "without a location"),
}
_REPORT = {
    "key": ("指标代码", "key"),
    "name": ("指标", "indicator"),
    "value": ("现状值", "value"),
    "target": ("目标值", "target"),
    "unit": ("单位", "unit"),
    "status": ("是否达标", "status"),
    "basis": ("口径", "basis"),
    "note": ("说明", "note"),
}
STATUS_NAMES = {
    "zh": {"met": "达标", "not met": "未达标", "no target": "无目标",
           "not computable": "无法计算"},
    "en": {"met": "met", "not met": "not met", "no target": "no target",
           "not computable": "not computable"},
}  # fmt: skip


def check_lang(lang: str) -> Lang:
    """``"zh"`` or ``"en"``, or an error naming the option."""
    if lang not in LANGS:
        raise InputError(f"--lang must be zh or en (or auto), got {lang!r}")
    return lang  # type: ignore[return-value]


def study_language(study: Study) -> Lang:
    """``"zh"`` for a study inside China (by the centre of its homes and facilities)."""
    west, south, east, north = study.extent()
    if not np.isfinite(west):
        return "en"
    centre = np.array([(west + east) / 2]), np.array([(south + north) / 2])
    return "zh" if bool(in_china(*centre)[0]) else "en"


def resolve_lang(lang: str, study: Study) -> Lang:
    """``lang``, with ``"auto"`` meaning the study's own (:func:`study_language`)."""
    return study_language(study) if lang == "auto" else check_lang(lang)


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal (``"85.3%"``); empty when unknown."""
    if value is None or not np.isfinite(value):
        return ""
    return f"{100 * value:.1f}%"


def minutes_text(values: pd.Series, lang: Lang) -> pd.Series:
    """Minutes with one decimal; "不可达" / "unreachable" where no time exists (infinite)."""
    word = UNREACHABLE_WORD[lang]
    return pd.Series([word if pd.notna(v) and not np.isfinite(v) else "" if pd.isna(v)
                      else f"{float(v):.1f}" for v in values], index=values.index,
                     dtype=object)  # fmt: skip


#: A time that does not exist, for people.
UNREACHABLE_WORD: dict[str, str] = {"zh": "不可达", "en": "unreachable"}


#: Why a facility is not on the network, for people.
UNPLACED_REASONS = {
    "off_network": ("距最近道路超过 {m:g} 米，未接入路网", "more than {m:g} m from every street"),
    "blocked": ("与可达道路之间隔着水体", "water lies between it and every street within reach"),
    "no_geometry": ("没有坐标", "no location"),
}


def unplaced_for_people(frame: pd.DataFrame, catalogue: Catalogue, lang: Lang) -> pd.DataFrame:
    """The facilities not on the network, for people.

    :meth:`Study.unplaced_facilities <service_circle.study.Study.unplaced_facilities>` with
    headers, category names and reasons in ``lang``.
    """
    i = 0 if lang == "zh" else 1
    reasons = [UNPLACED_REASONS.get(s, (s, s))[i].format(m=m)
               for s, m in zip(frame["status"], frame["max_access_m"], strict=True)]  # fmt: skip
    names = [catalogue[k].name(lang) if k in catalogue else k for k in frame["category"]]
    heads = (("类别", "名称", "编号", "原因", "经度", "纬度") if lang == "zh"
             else ("category", "name", "id", "why", "lon", "lat"))  # fmt: skip
    columns = (names, frame["name"].tolist(), frame["id"].tolist(), reasons,
               frame["lon"].round(6).tolist(), frame["lat"].round(6).tolist())  # fmt: skip
    return pd.DataFrame(dict(zip(heads, columns, strict=True)))


def unplaced_lines(frame: pd.DataFrame, catalogue: Catalogue, lang: Lang, *,
                   at_most: int = 5) -> list[str]:  # fmt: skip
    """One line per category with facilities not on the network, naming them and why."""
    lines = []
    zh = lang == "zh"
    for key, group in frame.groupby("category", sort=False):
        name = catalogue[key].name(lang) if key in catalogue else str(key)
        shown = [f"{n or i}（{UNPLACED_REASONS.get(s, (s, s))[0].format(m=m)}）" if zh
                 else f"{n or i} ({UNPLACED_REASONS.get(s, (s, s))[1].format(m=m)})"
                 for n, i, s, m in group[["name", "id", "status", "max_access_m"]]
                 .head(at_most).itertuples(index=False)]  # fmt: skip
        more = len(group) - len(shown)
        if zh:
            lines.append(f"{name}：{len(group)} 处设施未接入路网，不计入覆盖：" + "、".join(shown)
                         + (f" 等（另 {more} 处）" if more else ""))  # fmt: skip
        else:
            lines.append(
                f"{name}: {len(group)} facilities not on the network, so they cover "
                f"nobody: {'; '.join(shown)}" + (f"; and {more} more" if more else "")
            )
    return lines


def coverage_for_people(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The coverage table with headers in ``lang``, shares in %, residents as integers."""
    i = 0 if lang == "zh" else 1
    out = pd.DataFrame()
    out[_COVERAGE["category"][i]] = table["category"]
    out[_COVERAGE["name"][i]] = table["name_zh" if lang == "zh" else "name_en"]
    out[_COVERAGE["threshold"][i]] = table["threshold"].map(lambda v: f"{v:g}")
    out[_COVERAGE["unit"][i]] = table["unit"].map(UNIT_NAMES[lang])
    out[_COVERAGE["profile"][i]] = table["profile"].map(lambda p: profile_label(p, lang))
    out[_COVERAGE["facilities"][i]] = table["facilities"]
    for col in ("population", "covered"):
        out[_COVERAGE[col][i]] = table[col].round(0).astype("int64")
    out[_COVERAGE["share"][i]] = table["share"].map(percent)
    out[_COVERAGE["group"][i]] = table["group"].map(lambda g: group_name(g, lang))
    for col in ("group_population", "group_covered"):
        out[_COVERAGE[col][i]] = table[col].round(0).astype("int64")
    out[_COVERAGE["group_share"][i]] = table["group_share"].map(percent)
    for col in ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry"):
        if col in table:
            out[_COVERAGE[col][i]] = table[col].round(0).astype("int64")
    return out


def indicator_text(value: float | None, unit: str, missing: str = "") -> str:
    """An indicator's value for people: shares in %, other units to two decimals."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return missing
    return percent(value) if unit.startswith("share") else f"{value:,.2f}"


def report_for_people(frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The plan-target indicators with headers in ``lang``, shares in %."""
    i = 0 if lang == "zh" else 1
    out = pd.DataFrame()
    out[_REPORT["key"][i]] = frame["key"]
    out[_REPORT["name"][i]] = frame["name_zh" if lang == "zh" else "name_en"]
    for column in ("value", "target"):
        out[_REPORT[column][i]] = [
            indicator_text(v, u) for v, u in zip(frame[column], frame["unit"], strict=True)
        ]
    out[_REPORT["unit"][i]] = frame["unit_zh" if lang == "zh" else "unit"]
    out[_REPORT["status"][i]] = frame["status"].map(STATUS_NAMES[lang])
    if "basis" in frame:
        out[_REPORT["basis"][i]] = frame["basis"].map(BASIS_NAMES[lang]).fillna("")
    out[_REPORT["note"][i]] = frame["note_zh" if lang == "zh" else "note"]
    return out


def header(column: str, lang: Lang) -> str:
    """A coverage column's header in ``lang``."""
    return _COVERAGE[column][0 if lang == "zh" else 1]


BASIS_NAMES = {
    "zh": {"official": "官方统计", "modelled": "模型估算", "mixed": "部分估算", "": ""},
    "en": {"official": "official", "modelled": "modelled", "mixed": "mixed", "": ""},
}
KIND_NAMES = {
    "zh": {"urban": "城市社区", "village": "行政村", "": ""},
    "en": {"urban": "urban community", "village": "village", "": ""},
}
YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
_UNITS = {  # column → (zh, en)
    "unit_code": ("代码", "code"),
    "unit_name": ("名称", "name"),
    "unit_kind": ("类型", "kind"),
    "township": ("乡镇（街道）", "township / street"),
    "county": ("县区", "county"),
    "units": ("单元数", "units"),
    "residents": ("常住人口", "residents"),
    "residents_basis": ("人口口径", "residents basis"),
    "households": ("户数", "households"),
    "households_basis": ("户数口径", "households basis"),
    "complete": ("配齐", "complete"),
    "units_complete": ("配齐单元数", "units complete"),
    "score": ("配齐率", "completeness score"),
    "missing_count": ("缺配数", "services missing"),
    "missing": ("缺配设施", "missing"),
    "share": ("覆盖率", "share within threshold"),
    "median": ("时间中位数", "median"),
    "p90": ("90%分位时间", "90th percentile"),
    "facilities": ("单元内设施数", "facilities inside"),
}


def _yes_no(value: object, lang: Lang) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return YES_NO[lang][0] if bool(value) else YES_NO[lang][1]


def _key_names(text: object, catalogue: Catalogue, lang: Lang) -> str:
    keys = [k for k in str(text or "").split(",") if k and k in catalogue]
    return ("、" if lang == "zh" else ", ").join(catalogue[k].name(lang) for k in keys)


def units_for_people(units: pd.DataFrame, catalogue: Catalogue, lang: Lang) -> pd.DataFrame:
    """The per-unit table (or townships / counties) with headers in ``lang``, rounded."""
    i = 0 if lang == "zh" else 1
    out = pd.DataFrame()
    outside = "不在任何单元内" if lang == "zh" else "outside any unit"
    for col in ("unit_code", "unit_name", "township", "county", "units"):
        if col in units:
            values = units[col]
            if col == "unit_name":
                values = values.replace("outside any unit", outside)
            out[_UNITS[col][i]] = values
    if "unit_kind" in units:
        out[_UNITS["unit_kind"][i]] = units["unit_kind"].map(KIND_NAMES[lang]).fillna("")
    for col in ("residents", "households"):
        if col not in units:
            continue
        out[_UNITS[col][i]] = units[col].round(0).astype("int64")
        if f"{col}_basis" in units:
            out[_UNITS[f"{col}_basis"][i]] = units[f"{col}_basis"].map(BASIS_NAMES[lang])
    if "complete" in units:
        out[_UNITS["complete"][i]] = [_yes_no(v, lang) for v in units["complete"]]
        out[_UNITS["score"][i]] = units["score"].map(percent)
        out[_UNITS["missing_count"][i]] = units["missing_count"]
        out[_UNITS["missing"][i]] = [_key_names(v, catalogue, lang) for v in units["missing"]]
    if "units_complete" in units:
        out[_UNITS["units_complete"][i]] = units["units_complete"]
    for key, d in BY_KEY.items():
        if key not in units:
            continue
        name = d.name_zh if lang == "zh" else d.name_en
        if units[key].dtype == "boolean" or (d.per_unit == "yes/no" and "units" not in units):
            out[name] = [_yes_no(v, lang) for v in units[key]]
        else:
            unit = d.unit if "units" not in units or d.per_unit == "ratio" else "share"
            out[name] = [indicator_text(None if pd.isna(v) else float(v), unit)
                         for v in units[key]]  # fmt: skip
        if f"{key}.met" in units:
            out[name + ("达标" if lang == "zh" else " met")] = [
                _yes_no(v, lang) for v in units[f"{key}.met"]]  # fmt: skip
    for cat in catalogue:
        if f"{cat.key}.share" not in units:
            continue
        name = cat.name(lang)
        # with a space, like its other columns: "村卫生室 覆盖率", not the indicator 村卫生室覆盖率
        out[f"{name} {_UNITS['share'][i]}"] = units[f"{cat.key}.share"].map(percent)
        for col in ("median", "p90"):
            if f"{cat.key}.{col}" in units:
                out[f"{name} {_UNITS[col][i]}"] = units[f"{cat.key}.{col}"].map(
                    lambda v: "" if pd.isna(v) else f"{v:.1f}")  # fmt: skip
        if f"{cat.key}.facilities" in units:
            out[f"{name} {_UNITS['facilities'][i]}"] = units[f"{cat.key}.facilities"]
    return out


def facilities_for_people(facilities: pd.DataFrame, catalogue: Catalogue, unit_names: pd.Series,
                          lang: Lang) -> pd.DataFrame:  # fmt: skip
    """The facilities with their category, unit and fields, headers in ``lang``."""
    zh = lang == "zh"
    out = pd.DataFrame()
    out["编号" if zh else "id"] = facilities["id"].astype(str)
    blank = pd.Series([""] * len(facilities), index=facilities.index)
    out["名称" if zh else "name"] = facilities.get("name", blank).fillna("").astype(str)
    out["类别" if zh else "category"] = [catalogue[k].name(lang) if k in catalogue else k
                                        for k in facilities["category"]]  # fmt: skip
    out["所在单元" if zh else "unit"] = unit_names.to_numpy()
    fields = {"places": ("托位/学位", "places"), "nursery_places": ("托班托位", "nursery places"),
              "seats": ("座位", "seats"), "beds": ("床位", "beds"),
              "care_beds": ("护理型床位", "care beds"),
              "floor_area_m2": ("建筑面积（平方米）", "floor area m²"),
              "ground_area_m2": ("场地面积（平方米）", "ground area m²"),
              "area_m2": ("面积（平方米）", "area m²"),
              "footprint_m2": ("OSM面积（平方米）", "OSM footprint m²")}  # fmt: skip
    for col, (name_zh, name_en) in fields.items():
        if col in facilities and facilities[col].notna().any():
            out[name_zh if zh else name_en] = facilities[col].round(1)
    geoms = facilities.geometry
    out["经度" if zh else "lon"] = geoms.x.round(6)
    out["纬度" if zh else "lat"] = geoms.y.round(6)
    out["来源" if zh else "source"] = facilities.get("source", blank).fillna("").astype(str)
    return out


SHEETS = {
    "zh": ("指标汇总", "社区明细", "乡镇街道汇总", "缺配清单", "设施清单", "数据说明"),
    "en": ("indicators", "units", "townships", "lacking", "facilities", "about"),
}
#: The sheet added when a category with windows has facilities ("open when needed").
HOURS_SHEET = {"zh": "营业时段覆盖", "en": "open when needed"}
_HOURS = {  # column → (zh, en)
    "category": ("设施", "facility type"), "window": ("时段", "window"),
    "facilities": ("营业设施数", "facilities open"),
    "assumed_open": ("其中营业时间不明", "of which hours unknown"),
    "threshold": ("阈值", "threshold"), "profile": ("步速档", "profile"),
    "group": ("服务人群", "group"), "group_population": ("服务人群人数", "group population"),
    "group_covered": ("覆盖人数", "group covered"), "group_share": ("覆盖率", "group share"),
    "change": ("较全部时段（百分点）", "vs all hours (points)"),
}  # fmt: skip
#: The sheets added with the township circle by road.
ROAD_SHEETS = {"zh": ("车行圈", "车行圈单元明细"), "en": ("road circle", "road circle by unit")}
_ROAD = {  # column → (zh, en)
    "category": ("设施", "facility type"), "minutes": ("车行阈值（分钟）", "road minutes"),
    "facilities": ("设施数", "facilities"), "group": ("服务人群", "group"),
    "people": ("服务人群人数", "people of the group"), "within": ("阈值内人数", "within"),
    "share": ("覆盖率", "share within"), "beyond": ("超出阈值人数", "beyond"),
    "unreachable": ("路网不可达人数", "unreachable"),
    "median_min": ("车行时间中位数（分钟）", "median road minutes"),
    "village_people": ("行政村内服务人群", "people in villages"),
    "village_within": ("行政村内阈值内人数", "within, in villages"),
    "village_share": ("行政村覆盖率", "share within, in villages"),
}  # fmt: skip


def hours_for_people(hours: OpenWhenNeeded, catalogue: Catalogue, lang: Lang) -> pd.DataFrame:
    """The "open when needed" table with headers in ``lang``, shares in %."""
    i = 0 if lang == "zh" else 1
    t = hours.table
    out = pd.DataFrame()
    out[_HOURS["category"][i]] = [catalogue[k].name(lang) for k in t["category"]]
    out[_HOURS["window"][i]] = t["window_zh" if lang == "zh" else "window_en"]
    out[_HOURS["facilities"][i]] = t["facilities"].astype("int64")
    out[_HOURS["assumed_open"][i]] = t["assumed_open"].astype("int64")
    out[_HOURS["threshold"][i]] = [
        f"{v:g} {UNIT_NAMES[lang][u]}" for v, u in zip(t["threshold"], t["unit"], strict=True)
    ]
    out[_HOURS["profile"][i]] = t["profile"].map(lambda p: profile_label(p, lang))
    out[_HOURS["group"][i]] = [group_name(g, lang) for g in t["group"]]
    for col in ("group_population", "group_covered"):
        out[_HOURS[col][i]] = _whole(t[col])
    out[_HOURS["group_share"][i]] = t["group_share"].map(percent)
    out[_HOURS["change"][i]] = [
        "" if w == "all_hours" else f"{100 * c:+.1f}"
        for w, c in zip(t["window"], t["change"], strict=True)
    ]
    return out


def road_for_people(road: RoadCircle, catalogue: Catalogue,
                    lang: Lang) -> tuple[pd.DataFrame, pd.DataFrame | None]:  # fmt: skip
    """The road circle's summary and per-unit tables with headers in ``lang``, rounded."""
    i = 0 if lang == "zh" else 1
    summary = road.summary.copy()
    summary["category"] = [catalogue[k].name(lang) for k in summary["category"]]
    summary["group"] = [group_name(g, lang) for g in summary["group"]]
    for col in ("share", "village_share"):
        summary[col] = [percent(v) for v in summary[col]]
    for col in ("people", "within", "beyond", "unreachable", "village_people", "village_within"):
        summary[col] = _whole(summary[col])
    summary["median_min"] = summary["median_min"].round(1)
    summary = summary.rename(columns={k: v[i] for k, v in _ROAD.items()})
    if road.units is None:
        return summary, None
    units = road.units.copy()
    kinds = KIND_NAMES[lang]
    units["unit_kind"] = [kinds.get(k, k) for k in units["unit_kind"]]
    heads = {
        "unit_code": ("代码", "code"),
        "unit_name": ("名称", "name"),
        "unit_kind": ("类型", "kind"),
        "people": ("居民", "residents"),
    }
    rename = {k: v[i] for k, v in heads.items()}
    for key in road.minutes:
        name = catalogue[key].name(lang)
        units[f"{key}.share"] = [percent(v) for v in units[f"{key}.share"]]
        units[f"{key}.median_min"] = units[f"{key}.median_min"].round(1)
        units[f"{key}.unreachable"] = _whole(units[f"{key}.unreachable"])
        rename |= {
            f"{key}.share": f"{name}：覆盖率" if lang == "zh" else f"{name}: share within",
            f"{key}.median_min": f"{name}：车行时间中位数" if lang == "zh"
            else f"{name}: median minutes",
            f"{key}.unreachable": f"{name}：不可达人数" if lang == "zh" else f"{name}: unreachable",
        }  # fmt: skip
    units["people"] = _whole(units["people"])
    return summary, units.rename(columns=rename)


#: The slope functions, for people.
SLOPE_NAMES = {"tobler": ("托布勒徒步函数", "Tobler's hiking function"),
               "flat": ("平地", "flat"), "none": ("无", "none")}  # fmt: skip
#: The sheets added on a network with heights or crossings.
TERRAIN_SHEETS = {"zh": ("地形影响", "地形影响单元明细"),
                  "en": ("terrain", "terrain by unit")}  # fmt: skip
_TERRAIN = {  # column → (zh, en); {w}: what was counted, {e}: the easy walk
    "category": ("设施", "facility type"), "minutes": ("阈值（分钟）", "minutes"),
    "profile": ("步行速度档", "walking profile"), "slope": ("坡度函数", "slope function"),
    "people": ("服务人群人数", "people of the group"),
    "share_terrain": ("覆盖率（{w}）", "share, with {w}"),
    "share_flat": ("覆盖率（{e}）", "share, {e}"),
    "lost": ("因{w}超出阈值人数", "beyond because of {w}"),
    "median_min_terrain": ("时间中位数（{w}）", "median minutes, with {w}"),
    "median_min_flat": ("时间中位数（{e}）", "median minutes, {e}"),
}  # fmt: skip
#: What the walk as walked counts (zh, en), and the easy walk it is set against.
_COUNTED = {
    ("hills",): ("计坡度", "the terrain", "平地", "on the flat"),
    ("crossings",): ("计过街", "road crossings", "不计过街", "crossing free"),
    ("hills", "crossings"): ("计坡度与过街", "the terrain and road crossings",
                             "平地、不计过街", "on the flat, crossing free"),
}  # fmt: skip


def terrain_title(effect: TerrainEffect, lang: Lang) -> str:
    """The report's heading for what the hills, the road crossings or both cost."""
    zh_what = {"hills": "坡度", "crossings": "过街"}
    en_what = {"hills": "the hills", "crossings": "road crossings"}
    if lang == "zh":
        what = "与".join(zh_what[k] for k in effect.kinds)
        return f"{what}的影响：实际步行与{_COUNTED[effect.kinds][2]}的覆盖率对比"
    what = " and ".join(en_what[k] for k in effect.kinds)
    return f"What {what} cost: coverage as walked and {_COUNTED[effect.kinds][3]}"


def terrain_for_people(effect: TerrainEffect, catalogue: Catalogue,
                       lang: Lang) -> tuple[pd.DataFrame, pd.DataFrame | None]:  # fmt: skip
    """What hills and crossings cost, per category and per unit, headers in ``lang``."""
    i = 0 if lang == "zh" else 1
    zh_w, en_w, zh_e, en_e = _COUNTED[effect.kinds]
    w, e = (zh_w, zh_e) if lang == "zh" else (en_w, en_e)
    summary = effect.summary.copy()
    if len(summary):
        summary["category"] = [catalogue[k].name(lang) for k in summary["category"]]
        if "profile" in summary:
            summary["profile"] = [profile_label(p, lang) for p in summary["profile"]]
        if "slope" in summary:
            summary["slope"] = [SLOPE_NAMES.get(v, (v, v))[i] for v in summary["slope"]]
        for col in ("share_terrain", "share_flat"):
            summary[col] = [percent(v) for v in summary[col]]
        for col in ("people", "lost"):
            summary[col] = _whole(summary[col])
        for col in ("median_min_terrain", "median_min_flat"):
            summary[col] = minutes_text(summary[col], lang)
    summary = summary.rename(columns={k: v[i].format(w=w, e=e) for k, v in _TERRAIN.items()})
    if effect.units is None:
        return summary, None
    units = effect.units.copy()
    rename = {"unit_code": ("代码", "code")[i], "unit_name": ("名称", "name")[i]}
    for col in [c for c in units.columns if "." in c]:
        key, kind = col.split(".", 1)
        units[col] = [percent(v) for v in units[col]]
        label = _TERRAIN[kind][i].format(w=w, e=e)
        rename[col] = f"{catalogue[key].name(lang)}：{label}" if lang == "zh" else (
            f"{catalogue[key].name(lang)}: {label}")  # fmt: skip
    return summary, units.rename(columns=rename)


def _whole(values: pd.Series) -> pd.Series:
    """Counts of people as whole numbers (blank where unknown)."""
    return values.round(0).astype("Int64")


#: The roles of a study's inputs, for a Chinese reader.
SOURCE_ROLES_ZH = {"network": "路网", "facilities": "设施", "demand": "人口（需求点）",
                   "units": "规划单元", "townships": "乡镇（街道）", "counties": "区县",
                   "dem": "高程", "barriers": "障碍（水体）"}  # fmt: skip


def parent_column_zh(column: str, catalogue: Catalogue) -> str:
    """A column of the township / county table as the Chinese report names it."""
    if column in BY_KEY:
        return BY_KEY[column].name_zh
    if column == "<category>.share":
        return "各类设施覆盖率"
    return _UNITS[column][0] if column in _UNITS else column


def terrain_source(text: str, lang: Lang) -> str:
    """What the terrain and the crossings were read from, in ``lang``.

    The text the library writes (``hill.tif (EPSG:32650, 20 × 20); sampled every 10 m
    (bilinear); 54 crossings of major roads (primary 22 …), 0 signalised; OSM tags of …``)
    with its words in Chinese; file names and codes stay as they are.
    """
    if lang != "zh":
        return text
    for en, zh in _TERRAIN_WORDS:
        text = re.sub(en, zh, text)
    return text


_TERRAIN_WORDS = (
    (r"sampled every ([\d.]+) m \(bilinear\)", r"每\1米取样（双线性插值）"),
    (r"(\d+) crossings of major roads", r"\1处主干道过街"),
    (r"\bprimary\b", "主干路"), (r"\bsecondary\b", "次干路"), (r"\btertiary\b", "支路"),
    (r"\btrunk\b", "快速路"), (r"(\d+) signalised", r"其中\1处有信号灯"),
    (r"OSM tags of ", "OSM标签，来自 "), (r"OSM incline tags", "OSM坡度标签"),
)  # fmt: skip
