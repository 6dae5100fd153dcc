"""The plan-target report: indicators computed from a study and set against targets.

Targets come from presets (``data/targets.toml``: the Haidong 2025 action plan and the
national 14th five-year plan) or a user file of the same shape. An indicator the inputs
cannot support is reported as not computable, with what it needs — never invented.
"""

from __future__ import annotations

import html
import json
import logging
import os
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from service_circle._errors import InputError, InputNotFoundError
from service_circle.cost import CostModel, Threshold
from service_circle.coverage import coverage_table
from service_circle.folders import atomic_write
from service_circle.profiles import Profile
from service_circle.study import Study
from service_circle.writers import write_csv

logger = logging.getLogger(__name__)


#: Residents per household (7th national census, 2020: 2.62). Configurable.
PERSONS_PER_HOUSEHOLD = 2.62
ELDERLY_SERVICES = ("elderly_canteen", "elderly_daycare")


@dataclass(frozen=True)
class Indicator:
    """One line of the report, with its unit and note in English and Chinese."""

    key: str
    name_zh: str
    name_en: str
    unit: str
    value: float | None
    target: float | None
    status: str  # "met", "not met", "no target", "not computable"
    note: str = ""
    unit_zh: str = ""
    note_zh: str = ""


_UNIT_ZH = {
    "places / 1000": "托位/千人",
    "share of 60+": "占60岁及以上居民比例",
    "share of residents": "占居民比例",
    "m² / 100 households": "平方米/百户",
    "m²": "平方米",
    "share": "比例",
}


def load_targets(preset: str = "haidong_2025", path: str | os.PathLike | None = None) -> dict:
    """A preset of targets from the built-in file or a user file."""
    if path is None:
        text = resources.files("service_circle").joinpath("data/targets.toml").read_text("utf-8")
        source = "built-in targets"
    else:
        path = Path(path)
        if not path.exists():
            raise InputNotFoundError(f"targets file {path} does not exist")
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        presets = tomllib.loads(text).get("preset", {})
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"targets {source} is not valid TOML: {exc}") from None
    if preset not in presets:
        raise InputError(f"targets {source} have no preset {preset!r}: use {', '.join(presets)}")
    targets = dict(presets[preset])
    for key, value in targets.items():
        if key != "label" and not isinstance(value, int | float):
            raise InputError(f"targets {source}, preset {preset!r}: {key} must be a number")
    return targets


def plan_report(
    study: Study,
    *,
    preset: str = "haidong_2025",
    targets_file: str | os.PathLike | None = None,
    profile: str | Profile | None = None,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
) -> list[Indicator]:
    """Compute every indicator the study supports and set it against the preset."""
    cost = CostModel.walking(profile)
    targets = load_targets(preset, targets_file)
    population = float(study.demand["population"].sum())
    households = population / persons_per_household
    fac = study.facilities
    out: list[Indicator] = []

    def add(key, zh, en, unit, value, note=("", "")):
        target = targets.get(key)
        if value is None:
            status = "not computable"
        elif target is None:
            status = "no target"
        else:
            status = "met" if value >= target - 1e-12 else "not met"
        out.append(Indicator(key, zh, en, unit, value, target, status, note[0],
                             _UNIT_ZH.get(unit, unit), note[1]))  # fmt: skip

    def capacity_sum(category: str, unit_name: str, unit_zh: str):
        name_zh = study.catalogue[category].name_zh
        rows = fac[fac["category"] == category]
        if rows.empty:  # absent from the data is not the same as absent on the ground
            return None, (f"needs the {category} facilities with their {unit_name}: none given",
                          f"需要{name_zh}设施及其{unit_zh}：未提供")  # fmt: skip
        if "capacity" not in rows:
            return None, (f"needs the {unit_name} of the {len(rows)} {category} facilities",
                          f"需要{len(rows)}处{name_zh}的{unit_zh}")  # fmt: skip
        cap = pd.to_numeric(rows["capacity"], errors="coerce")
        missing = int(cap.isna().sum())
        if missing:
            return None, (
                f"needs the {unit_name} of {missing} of {len(rows)} {category} facilities",
                f"{len(rows)}处{name_zh}中有{missing}处缺少{unit_zh}",
            )
        return float(cap.sum()), ("", "")

    def share_within(key: str):
        cat = study.catalogue[key]
        table = coverage_table(
            study, [Threshold.minutes(cat.minutes)], categories=[key], profile=profile
        )
        row = table.iloc[0]
        note = f"within {cat.minutes:g} min, over every resident"
        note_zh = f"{cat.minutes:g}分钟内，按全部居民计"
        unreached = float(row["unreachable"] + row["off_network"] + row["blocked"]
                          + row["no_geometry"])  # fmt: skip
        if unreached > 0:
            note += (
                f"; {unreached:,.0f} residents the network cannot bring to one count as not covered"
            )
            note_zh += f"；路网无法到达的{unreached:,.0f}名居民计为未覆盖"
        if not row["facilities"]:
            note += f"; no {key} facility in the inputs"
            note_zh += f"；输入中没有{cat.name_zh}设施"
        return float(row["share"]), (note, note_zh)

    places, note = capacity_sum("childcare", "places", "托位数")
    per_1000 = None if places is None or population == 0 else places / population * 1000
    add("childcare_places_per_1000", "每千人口拥有3岁以下婴幼儿托位数",
        "childcare places (0-3) per 1000 residents", "places / 1000", per_1000, note)  # fmt: skip

    elderly = [k for k in ELDERLY_SERVICES if k in study.catalogue]
    reached = np.zeros(len(study.demand), dtype=bool)
    for key in elderly:
        cat = study.catalogue[key]
        threshold = Threshold.minutes(cat.minutes)
        result = study.search(key, cost)
        reached |= result.point_cost <= cost.limit(threshold)
    old = study.demand["pop_60plus"].to_numpy(np.float64)
    names_zh = "或".join(study.catalogue[k].name_zh for k in elderly)
    none = not fac["category"].isin(elderly).any()
    note = (
        f"60+ within their own default minutes of {' or '.join(elderly)}"
        + ("; none in the inputs" if none else ""),
        f"60岁及以上居民在各自默认步行时间内可达{names_zh}"
        + ("；输入中没有此类设施" if none else ""),
    )
    share_60 = float(old[reached].sum() / old.sum()) if old.sum() > 0 else None
    add("elderly_care_coverage", "居家社区养老服务覆盖率", "home & community elderly-care coverage",
        "share of 60+", share_60, note)  # fmt: skip

    if "community_service" in study.catalogue:
        share, note = share_within("community_service")
        add("community_service_coverage", "社区综合服务设施覆盖率",
            "community service facility coverage", "share of residents", share, note)  # fmt: skip
        area, note = capacity_sum("community_service", "floor area (m²)", "建筑面积")
        per_100 = None if area is None or households == 0 else area / households * 100
        if area is not None:
            note = (
                f"{persons_per_household} persons per household",
                f"按每户{persons_per_household}人估算户数",
            )
        add("community_floor_area_per_100_households", "每百户居民拥有社区综合服务设施面积",
            "community service floor area per 100 households", "m² / 100 households",
            per_100, note)  # fmt: skip
    area, note = capacity_sum("sports", "ground area (m²)", "场地面积")
    per_resident = None if area is None or population == 0 else area / population
    add("sports_area_per_resident", "人均体育场地面积", "sports ground per resident", "m²",
        per_resident, note)  # fmt: skip
    add("care_bed_share", "养老机构护理型床位占比", "care-type beds in elderly institutions",
        "share", None, ("needs the care-type bed count of each nursing home",
                        "需要每处养老院的护理型床位数"))  # fmt: skip
    for cat in study.catalogue:
        if cat.basic_guarantee:
            share, note = share_within(cat.key)
            add(f"basic_coverage.{cat.key}", f"{cat.name_zh}覆盖率", f"{cat.name_en} coverage",
                "share of residents", share, note)  # fmt: skip
    return out


def report_frame(indicators: list[Indicator]) -> pd.DataFrame:
    """The indicators as a table."""
    return pd.DataFrame([asdict(i) for i in indicators])


def report_payload(
    study: Study, indicators: list[Indicator], coverage: pd.DataFrame, preset_label: str = ""
) -> dict:
    """The report as a JSON-ready dict: indicators, coverage table and attribution."""
    frame = report_frame(indicators)
    return {
        "study": study.name,
        "targets": preset_label,
        "population": float(study.demand["population"].sum()),
        "indicators": json.loads(frame.to_json(orient="records")),
        "coverage": json.loads(coverage.to_json(orient="records")),
        "attribution": study.attribution,
    }


def report_html(
    study: Study,
    indicators: list[Indicator],
    coverage: pd.DataFrame,
    preset_label: str = "",
    *,
    lang: str = "zh",
    attribution: str | None = None,
) -> str:
    """The report as a self-contained HTML page (``lang`` zh or en) with an SVG chart.

    ``attribution`` defaults to the study's own (from the sources it was built from).
    """
    from service_circle.tables import check_lang

    attribution = attribution or study.attribution
    return _html(study, report_frame(indicators), coverage, preset_label, check_lang(lang),
                 attribution)  # fmt: skip


def write_report(
    study: Study,
    indicators: list[Indicator],
    coverage: pd.DataFrame,
    folder: str | os.PathLike,
    *,
    preset_label: str = "",
    lang: str = "zh",
) -> list[Path]:
    """Write report.json (raw), report.csv (for people, in ``lang``) and report.html."""
    from service_circle.tables import check_lang, report_for_people

    lang = check_lang(lang)
    folder = Path(folder)
    paths = [folder / "report.json", folder / "report.csv", folder / "report.html"]
    with atomic_write(paths[0]) as fh:
        json.dump(report_payload(study, indicators, coverage, preset_label), fh,
                  ensure_ascii=False, indent=2)  # fmt: skip
    write_csv(report_for_people(report_frame(indicators), lang), paths[1])
    with atomic_write(paths[2]) as fh:
        fh.write(report_html(study, indicators, coverage, preset_label, lang=lang))
    return paths


def _fmt(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.0%}" if unit.startswith("share") else f"{value:,.2f}"


def _chart(coverage: pd.DataFrame, lang: str = "zh") -> str:
    """Horizontal bars: share covered per category and threshold, as inline SVG."""
    rows = coverage.reset_index(drop=True)
    bar, gap, label_w, width = 14, 6, 230, 420
    height = len(rows) * (bar + gap) + 30
    shades = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b"]
    thresholds = sorted(rows["threshold"].unique())
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 60}" '
        f'height="{height}" role="img" aria-label="coverage by category and threshold">'
    ]
    for i, r in enumerate(rows.itertuples()):
        y = 20 + i * (bar + gap)
        share = 0.0 if np.isnan(r.share) else r.share
        color = shades[thresholds.index(r.threshold) % len(shades)]
        unit = {"min": "分钟", "m": "米"}[r.unit] if lang == "zh" else r.unit
        name = r.name_zh if lang == "zh" else r.name_en
        text = html.escape(f"{name} {r.threshold:g} {unit}")
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 3}" text-anchor="end" '
                     f'font-size="11">{text}</text>')  # fmt: skip
        parts.append(f'<rect x="{label_w}" y="{y}" width="{share * width:.1f}" height="{bar}" '
                     f'fill="{color}"><title>{share:.1%}</title></rect>')  # fmt: skip
        parts.append(f'<text x="{label_w + share * width + 4:.1f}" y="{y + bar - 3}" '
                     f'font-size="11">{share:.0%}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


_PAGE: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "一刻钟便民生活圈 — {name}",
        "residents": "居民：{n}。目标：{label}。",
        "targets": "规划目标",
        "head": ("指标", "现状值", "目标值", "是否达标", "说明"),
        "coverage": "各类设施覆盖情况",
        "unreached": "未覆盖居民及原因（各类设施默认步行时间）",
        "unreached_head": ("设施", "阈值", "覆盖率", "超出阈值", "路网不可达", "远离路网",
                           "被水体阻隔", "无位置"),
        "data": "数据",
    },
    "en": {
        "title": "15-minute living circle — {name}",
        "residents": "Residents: {n}. Targets: {label}.",
        "targets": "Plan targets",
        "head": ("indicator", "value", "target", "status", "note"),
        "coverage": "Coverage by category and threshold",
        "unreached": "Residents not covered, and why",
        "unreached_head": ("facility type", "threshold", "share covered", "beyond threshold",
                           "unreachable", "off the network", "across water", "no location"),
        "data": "Data",
    },
}  # fmt: skip


def _html(
    study: Study,
    frame: pd.DataFrame,
    coverage: pd.DataFrame,
    label: str,
    lang: str,
    attribution: str,
) -> str:
    from service_circle.tables import STATUS_NAMES, UNIT_NAMES, percent

    text = _PAGE[lang]
    esc = html.escape
    rows = "".join(
        f"<tr class='{esc(r.status.replace(' ', '-'))}'><td>"
        f"{esc(r.name_zh if lang == 'zh' else r.name_en)}</td>"
        f"<td>{_fmt(r.value, r.unit)}</td><td>{_fmt(r.target, r.unit)}</td>"
        f"<td>{esc(STATUS_NAMES[lang][r.status])}</td>"
        f"<td><small>{esc(r.note_zh if lang == 'zh' else r.note)}</small></td></tr>"
        for r in frame.itertuples()
    )
    reasons = ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry")
    unreached = "".join(
        f"<tr><td>{esc(r.name_zh if lang == 'zh' else r.name_en)}</td>"
        f"<td>{r.threshold:g} {esc(UNIT_NAMES[lang][r.unit])}</td><td>{percent(r.share)}</td>"
        + "".join(f"<td>{getattr(r, k):,.0f}</td>" for k in reasons)
        + "</tr>"
        for r in coverage.itertuples()
        if all(k in coverage for k in reasons)
    )
    head = "".join(f"<th>{esc(h)}</th>" for h in text["head"])
    unreached_head = "".join(f"<th>{esc(h)}</th>" for h in text["unreached_head"])
    population = study.demand["population"].sum()
    title = text["title"].format(name=study.name)
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }}
tr.met td:nth-child(4) {{ color: #1a7f37; }} tr.not-met td:nth-child(4) {{ color: #b42318; }}
tr.not-computable td {{ color: #777; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{esc(text["residents"].format(n=f"{population:,.0f}", label=label))}</p>
<h2>{esc(text["targets"])}</h2>
<table><tr>{head}</tr>
{rows}</table>
<h2>{esc(text["coverage"])}</h2>
{_chart(coverage, lang)}
<h2>{esc(text["unreached"])}</h2>
<table><tr>{unreached_head}</tr>{unreached}</table>
<p><small>{esc(text["data"])}: {esc(attribution)}</small></p>
</body></html>
"""
