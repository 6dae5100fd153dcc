"""Tables for people: headers in the reader's language, shares and minutes rounded.

The machine-readable outputs (``coverage.json``, ``report.json``, GeoJSON, the API) keep
raw values and English keys; the tables people open in Excel (``coverage.csv``,
``report.csv``, ``summary.csv``) and the console tables get headers in Chinese or English,
percentages with one decimal, residents as whole numbers. A study inside China speaks
Chinese by default (:func:`study_language`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from service_circle._errors import InputError

if TYPE_CHECKING:
    from service_circle.study import Study

logger = logging.getLogger(__name__)

Lang = Literal["zh", "en"]
LANGS = ("zh", "en")

#: How each group a category serves is written.
GROUP_NAMES = {
    "zh": {"everyone": "全体居民", "60plus": "60岁及以上", "0_3": "0-3岁", "3_6": "3-6岁",
           "6_12": "6-12岁"},
    "en": {"everyone": "everyone", "60plus": "60+", "0_3": "0-3", "3_6": "3-6", "6_12": "6-12"},
}  # fmt: skip
UNIT_NAMES = {"zh": {"min": "分钟", "m": "米"}, "en": {"min": "min", "m": "m"}}

_COVERAGE = {  # column → (zh, en)
    "category": ("类别", "category"),
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
    from service_circle.coords import in_china

    frames = [f for f in (study.demand, study.facilities) if len(f)]
    if not frames:
        return "en"
    bounds = np.array([f.total_bounds for f in frames])
    bounds = bounds[np.all(np.isfinite(bounds), axis=1)]
    if bounds.size == 0:
        return "en"
    lon = (bounds[:, 0].min() + bounds[:, 2].max()) / 2
    lat = (bounds[:, 1].min() + bounds[:, 3].max()) / 2
    return "zh" if bool(in_china(lon, lat)) else "en"


def resolve_lang(lang: str, study: Study) -> Lang:
    """``lang``, with ``"auto"`` meaning the study's own (:func:`study_language`)."""
    return study_language(study) if lang == "auto" else check_lang(lang)


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal (``"85.3%"``); empty when unknown."""
    if value is None or not np.isfinite(value):
        return ""
    return f"{100 * value:.1f}%"


def coverage_for_people(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The coverage table with headers in ``lang``, shares in %, residents as integers."""
    i = 0 if lang == "zh" else 1
    out = pd.DataFrame()
    out[_COVERAGE["category"][i]] = table["category"]
    out[_COVERAGE["name"][i]] = table["name_zh" if lang == "zh" else "name_en"]
    out[_COVERAGE["threshold"][i]] = table["threshold"].map(lambda v: f"{v:g}")
    out[_COVERAGE["unit"][i]] = table["unit"].map(UNIT_NAMES[lang])
    out[_COVERAGE["profile"][i]] = table["profile"]
    out[_COVERAGE["facilities"][i]] = table["facilities"]
    for col in ("population", "covered"):
        out[_COVERAGE[col][i]] = table[col].round(0).astype("int64")
    out[_COVERAGE["share"][i]] = table["share"].map(percent)
    out[_COVERAGE["group"][i]] = table["group"].map(GROUP_NAMES[lang])
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
    out[_REPORT["note"][i]] = frame["note_zh" if lang == "zh" else "note"]
    return out


def header(column: str, lang: Lang) -> str:
    """A coverage column's header in ``lang``."""
    return _COVERAGE[column][0 if lang == "zh" else 1]
