"""The plan-target report: the plan's indicators, per unit and in total, for people and scripts.

:class:`Report` holds what an analysis found (:class:`~service_circle.plan.PlanResult`, the
coverage table, the targets); :func:`write_report` writes ``report.json`` (raw values, a
share as a fraction 0-1), ``report.csv`` (for people, UTF-8 with a BOM), ``report.html``,
the workbook ``report.xlsx`` (指标汇总, 社区明细, 乡镇街道汇总, 缺配清单, 设施清单,
数据说明) and, with planning units, ``units.csv`` and ``units.geojson``. The indicators are
computed in :mod:`service_circle.plan`; an indicator the inputs cannot support is reported
as not computable, with what it needs — never invented, never 0 %.
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from service_circle.folders import atomic_write
from service_circle.hours import describe_at, parse_at
from service_circle.judging import Judgement, judging_rule
from service_circle.opening import OpenWhenNeeded
from service_circle.plan import (
    BY_KEY,
    DEFINITIONS,
    DEFINITIONS_ZH,
    PARENT_COLUMNS,
    Indicator,
    PlanResult,
    plan_indicators,
)
from service_circle.profiles import Profile, profile_label
from service_circle.rural import RoadCircle
from service_circle.study import OpenAt, Study
from service_circle.tables import (
    BASIS_NAMES,
    HOURS_SHEET,
    ROAD_SHEETS,
    SHEETS,
    SOURCE_ROLES_ZH,
    STATUS_NAMES,
    TERRAIN_SHEETS,
    UNIT_NAMES,
    Lang,
    check_lang,
    facilities_for_people,
    hours_for_people,
    indicator_text,
    parent_column_zh,
    percent,
    report_for_people,
    road_for_people,
    terrain_for_people,
    terrain_source,
    terrain_title,
    units_for_people,
    unplaced_for_people,
)
from service_circle.targets import load_targets
from service_circle.terrain_effect import TerrainEffect
from service_circle.units import assign
from service_circle.writers import json_safe, write_csv, write_geojson, write_xlsx

logger = logging.getLogger(__name__)

__all__ = ["Indicator", "Report", "load_targets", "plan_report", "write_report"]


@dataclass(frozen=True)
class Report:
    """What the report says: the study, the plan's indicators, coverage and the targets."""

    study: Study
    plan: PlanResult
    coverage: pd.DataFrame
    targets: dict[str, Any]
    lang: str = "zh"
    road: RoadCircle | None = None
    terrain: TerrainEffect | None = None
    hours: OpenWhenNeeded | None = None
    opening: OpenAt | None = None

    @property
    def indicators(self) -> list[Indicator]:
        """The study's indicators."""
        return self.plan.indicators


def plan_report(
    study: Study,
    *,
    preset: str = "haidong_2025",
    targets_file: str | os.PathLike | None = None,
    profile: str | Profile | None = None,
) -> list[Indicator]:
    """The plan's indicators of a study against a preset (the study's units, if any)."""
    rule = judging_rule(study.catalogue, profile=profile)
    return plan_indicators(study, rule, load_targets(preset, targets_file)).indicators


def report_frame(indicators: list[Indicator]) -> pd.DataFrame:
    """The indicators as a table (raw values; with each one's formula and source)."""
    frame = pd.DataFrame([asdict(i) for i in indicators])
    if len(frame):
        frame["formula"] = [BY_KEY[k].formula if k in BY_KEY else "" for k in frame["key"]]
        frame["source"] = [BY_KEY[k].source if k in BY_KEY else "" for k in frame["key"]]
    return frame


def lacking(report: Report) -> pd.DataFrame:
    """The units that miss services (缺配), largest population first."""
    units = report.plan.units
    if units is None or "missing" not in units:
        return pd.DataFrame(columns=["unit_code", "unit_name", "township", "residents",
                                     "missing_count", "missing"])  # fmt: skip
    rows = units.iloc[:-1]
    rows = rows[rows["missing_count"] > 0]
    cols = ["unit_code", "unit_name", "unit_kind", "township", "residents", "missing_count",
            "missing"]  # fmt: skip
    return (
        pd.DataFrame(rows[cols])
        .sort_values(["residents", "missing_count"], ascending=False)
        .reset_index(drop=True)
    )


def report_payload(report: Report) -> dict:
    """The report as a JSON-ready dict (raw values; shares as fractions 0-1)."""
    study, plan = report.study, report.plan
    units = plan.units
    return json_safe(
        {
            "study": study.name,
            "targets": {
                k: report.targets.get(k)
                for k in ("name", "label", "label_zh", "source", "source_zh")
            },
            "population": float(units["residents"].iloc[:-1].sum())
            if units is not None
            else float(study.demand["population"].sum()),
            "population_basis": plan.basis.get("population", ""),
            "households_basis": plan.basis.get("households", ""),
            "judged": [j.to_dict() for j in plan.judged.values()],
            "indicators": json.loads(report_frame(plan.indicators).to_json(orient="records")),
            "completeness": {
                "assessed": list(plan.assessed),
                "not_assessed": list(plan.unassessed),
            },
            "lacking": json.loads(lacking(report).to_json(orient="records", force_ascii=False)),
            "coverage": json.loads(report.coverage.to_json(orient="records")),
            "road_circle": _road_payload(report.road),
            "terrain_effect": None
            if report.terrain is None
            else {
                "terrain": report.terrain.terrain,
                "summary": json.loads(report.terrain.summary.to_json(orient="records")),
                "units": None
                if report.terrain.units is None
                else json.loads(report.terrain.units.to_json(orient="records", force_ascii=False)),
            },
            "open_when_needed": None if report.hours is None else report.hours.payload(),
            "at": None if report.opening is None else report.opening.to_dict(),
            "unplaced_facilities": json.loads(
                study.unplaced_facilities().to_json(orient="records", force_ascii=False)
            ),
            "notes": plan.notes,
            "parent_columns": {k: v[0] for k, v in PARENT_COLUMNS.items()},
            "sources": [s.to_dict() for s in study.sources],
            "attribution": study.attribution,
        }
    )


def _road_payload(road: RoadCircle | None) -> dict | None:
    if road is None:
        return None
    return {
        "speed_kmh": road.speed_kmh,
        "minutes": road.minutes,
        "network": road.network,
        "summary": json.loads(road.summary.to_json(orient="records")),
        "units": None if road.units is None else json.loads(
            road.units.to_json(orient="records", force_ascii=False)),
    }  # fmt: skip


def report_html(report: Report, *, attribution: str | None = None) -> str:
    """The report as a self-contained HTML page in ``report.lang`` with an SVG chart.

    ``attribution`` defaults to the study's own (from the sources it was built from).
    """
    return _html(report, check_lang(report.lang), attribution or report.study.attribution)


def write_report(report: Report, folder: str | os.PathLike) -> list[Path]:
    """Write the report into ``folder``.

    report.json, report.csv, report.html, report.xlsx and, with units, units.csv and
    units.geojson; with the township circle by road, road_circle.csv (per unit, or the
    summary without units).
    """
    lang = check_lang(report.lang)
    folder = Path(folder)
    paths = [folder / n for n in ("report.json", "report.csv", "report.html", "report.xlsx")]
    with atomic_write(paths[0]) as fh:
        json.dump(report_payload(report), fh, ensure_ascii=False, indent=2)
    write_csv(report_for_people(report_frame(report.indicators), lang), paths[1])
    with atomic_write(paths[2]) as fh:
        fh.write(report_html(report))
    write_xlsx(workbook_sheets(report, lang), paths[3])
    units = report.plan.units
    if units is not None:
        paths.append(write_csv(units_for_people(units, report.study.catalogue, lang),
                               folder / "units.csv"))  # fmt: skip
        paths.append(write_geojson(units.iloc[:-1], folder / "units.geojson",
                                   attribution=report.study.attribution))  # fmt: skip
    if report.road is not None:
        summary, by_unit = road_for_people(report.road, report.study.catalogue, lang)
        paths.append(write_csv(by_unit if by_unit is not None else summary,
                               folder / "road_circle.csv"))  # fmt: skip
    if report.terrain is not None:
        summary, _ = terrain_for_people(report.terrain, report.study.catalogue, lang)
        paths.append(write_csv(summary, folder / "terrain_effect.csv"))
    return paths


def _frame_html(frame: pd.DataFrame, ident: str) -> str:
    """A table for people as an HTML table, every cell escaped."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table id='{esc(ident)}'><tr>{head}</tr>{body}</table>"


def _extra_sections(report: Report, lang: str) -> str:
    """The sections apart from the walking circle: by road, and what hills and crossings cost."""
    esc, zh, lang = html.escape, lang == "zh", check_lang(lang)
    sections = []
    if report.road is not None:
        speed = report.road.speed_kmh
        title = (
            f"乡集镇层级：车行可达（{speed:g} 公里/小时，步行至道路）"
            if zh
            else f"The township tier by road ({speed:g} km/h, walking to the road)"
        )
        frames = road_for_people(report.road, report.study.catalogue, lang)
        sections.append((title, "road", frames, report.road.network))
    if report.terrain is not None:
        title = terrain_title(report.terrain, lang)
        frames = terrain_for_people(report.terrain, report.study.catalogue, lang)
        sections.append((title, "terrain", frames, report.terrain.terrain))
    if report.hours is not None and len(report.hours.table):
        sections.append(_hours_section(report, lang))
    parts = []
    unplaced = report.study.unplaced_facilities()
    if len(unplaced):
        title = (
            "未接入路网的设施（不服务任何居民，不计入覆盖）"
            if zh
            else "Facilities not on the network (they serve nobody in the figures)"
        )
        table = unplaced_for_people(unplaced, report.study.catalogue, lang)
        parts += [f"<h2>{esc(title)}</h2>", _frame_html(table, "unplaced")]
    if report.opening is not None:
        parts.append(f"<p id='at'><strong>{esc(at_line(report.opening, lang))}</strong></p>")
    for title, ident, (summary, by_unit), source in sections:
        parts += [f"<h2>{esc(title)}</h2>", _frame_html(summary, ident)]
        if by_unit is not None:
            parts.append(_frame_html(by_unit, f"{ident}-units"))
        parts.append(f"<p><small>{esc(terrain_source(source, lang))}</small></p>")
    return "\n".join(parts)  # fmt: skip


def at_line(opening: OpenAt, lang: str) -> str:
    """What ``--at`` chose, in words."""
    when = describe_at(parse_at(opening.when), lang) if ":" in opening.when else opening.when
    unknown = opening.assumed
    if lang == "zh":
        told = (f"，其中{unknown}处营业时间不明、按营业计" if opening.unknown_open and unknown
                else "；营业时间不明的按未营业计" if not opening.unknown_open else "")  # fmt: skip
        return f"本报告只计 {when} 营业的设施：{opening.open}/{opening.total}处{told}。"
    told = (f", {unknown} of them without known hours, assumed open" if opening.unknown_open
            and unknown else "; facilities without known hours counted closed"
            if not opening.unknown_open else "")  # fmt: skip
    return f"Only facilities open at {when} count: {opening.open} of {opening.total}{told}."


def _hours_section(report: Report, lang: str) -> tuple:
    """The "open when needed" section: its title, id, tables and the note on hours."""
    hours = report.hours
    assert hours is not None
    table = hours_for_people(hours, report.study.catalogue, check_lang(lang))
    known = hours.hours
    assumed = int(known["facilities"].sum() - known["hours_known"].sum())
    invalid = int(known["hours_invalid"].sum())
    pharmacy = hours.table[(hours.table["category"] == "pharmacy")
                           & (hours.table["window"] == "24h")]  # fmt: skip
    if lang == "zh":
        title = "需要时是否开着：各时段覆盖率（与不计营业时间相比）"
        note = (f"{assumed}处设施营业时间不明（其中{invalid}处无法识别），"
                + ("按营业计。" if hours.unknown_open else "按未营业计。"))  # fmt: skip
        if len(pharmacy):
            note += f"24小时药房覆盖率（海东方案要求建24小时药房）：{pharmacy['group_share'].iloc[0]:.1%}。"  # noqa: E501
    else:
        title = "Open when needed: coverage in each window, next to all hours"
        note = f"{assumed} facilities have no known hours ({invalid} unreadable); they were " + (
            "counted open." if hours.unknown_open else "counted closed."
        )
        if len(pharmacy):
            note += (f" Coverage by 24-hour pharmacies (the Haidong plan asks for them): "
                     f"{pharmacy['group_share'].iloc[0]:.1%}.")  # fmt: skip
    return (title, "open-when-needed", (table, None), note)


def _fmt(value: float | None, unit: str) -> str:

    return indicator_text(value, unit, missing="—")


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
        "title": "一刻钟便民生活圈评估报告 — {name}",
        "about": "研究范围",
        "area": "范围：东经{x0:.3f}°–{x1:.3f}°，北纬{y0:.3f}°–{y1:.3f}°（WGS-84）。",
        "units": "规划单元：{n}个（城市社区{urban}个，行政村{village}个）；乡镇（街道）{towns}个。",
        "no_units": "未提供规划单元（社区、行政村）：按单元计的指标无法计算。",
        "residents": "常住人口：{n}人（{basis}）；户数：{hh}（{hh_basis}）。",
        "basis": {"official": "单元官方统计", "modelled": "模型估算",
                  "mixed": "部分官方统计、部分估算", "": ""},
        "targets_line": "目标：{label}（{source}）。",
        "sources": "数据：",
        "roles": {"network": "路网", "facilities": "设施", "demand": "人口", "units": "规划单元"},
        "rule": "评估规则：每类设施一个阈值与步速",
        "rule_head": ("设施", "阈值", "步速档"),
        "targets": "规划指标",
        "head": ("指标", "现状值", "目标值", "是否达标", "口径", "说明"),
        "lacking": "缺配社区（按人口从多到少）",
        "lacking_head": ("社区/村", "乡镇（街道）", "常住人口", "缺配数", "缺配设施"),
        "none_lacking": "所有单元均已配齐所评估的设施。",
        "not_assessed": "未评估（无设施数据）：{names}。",
        "coverage": "各类设施覆盖情况（评估阈值）",
        "unreached": "未覆盖居民及原因（评估阈值）",
        "unreached_head": ("设施", "阈值", "覆盖率", "超出阈值", "路网不可达", "远离路网",
                           "被水体阻隔", "无位置"),
        "notes": "说明",
        "data": "数据来源",
    },
    "en": {
        "title": "15-minute living circle report — {name}",
        "about": "Study",
        "area": "Area: {x0:.3f}–{x1:.3f} °E, {y0:.3f}–{y1:.3f} °N (WGS-84).",
        "units": "Planning units: {n} ({urban} urban communities, {village} villages); "
                 "{towns} townships / streets.",
        "no_units": "No planning units (communities, villages) given: the indicators that "
                    "count units are not computable.",
        "residents": "Residents: {n} ({basis}); households: {hh} ({hh_basis}).",
        "basis": {"official": "the units' official counts", "modelled": "modelled",
                  "mixed": "partly official, partly modelled", "": ""},
        "targets_line": "Targets: {label} ({source}).",
        "sources": "Data: ",
        "roles": {},
        "rule": "How each category is judged: one threshold and walking profile",
        "rule_head": ("facility type", "threshold", "profile"),
        "targets": "Plan indicators",
        "head": ("indicator", "value", "target", "status", "basis", "note"),
        "lacking": "Units missing services (largest population first)",
        "lacking_head": ("community / village", "township", "residents", "missing",
                         "services missing"),
        "none_lacking": "Every unit has every service assessed.",
        "not_assessed": "Not assessed (no facility data): {names}.",
        "coverage": "Coverage by category (at the judged threshold)",
        "unreached": "Residents not covered, and why (at the judged threshold)",
        "unreached_head": ("facility type", "threshold", "share covered", "beyond threshold",
                           "unreachable", "off the network", "across water", "no location"),
        "notes": "Notes",
        "data": "Data",
    },
}  # fmt: skip


def _html(report: Report, lang: str, attribution: str) -> str:

    study, plan = report.study, report.plan
    text = _PAGE[lang]
    esc = html.escape
    zh = lang == "zh"
    frame = report_frame(plan.indicators)
    rows = "".join(
        f"<tr class='{esc(r.status.replace(' ', '-'))}' data-key='{esc(r.key)}'><td>"
        f"{esc(r.name_zh if zh else r.name_en)}</td>"
        f"<td>{esc(_fmt(r.value, r.unit))}</td><td>{esc(_fmt(r.target, r.unit))}</td>"
        f"<td>{esc(STATUS_NAMES[lang][r.status])}</td>"
        f"<td>{esc(BASIS_NAMES[lang].get(r.basis, r.basis))}</td>"
        f"<td><small>{esc(r.note_zh if zh else r.note)}</small></td></tr>"
        for r in frame.itertuples()
    )
    judged = report.coverage[report.coverage["judged"]] if "judged" in report.coverage else (
        report.coverage)  # fmt: skip
    reasons = ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry")
    unreached = "".join(
        f"<tr><td>{esc(r.name_zh if zh else r.name_en)}</td>"
        f"<td>{r.threshold:g} {esc(UNIT_NAMES[lang][r.unit])}</td><td>{percent(r.share)}</td>"
        + "".join(f"<td>{getattr(r, k):,.0f}</td>" for k in reasons)
        + "</tr>"
        for r in judged.itertuples()
        if all(k in judged for k in reasons)
    )
    speed_unit = " 米/秒" if zh else " m/s"

    def speed(j: Judgement) -> str:
        name = profile_label(j.profile.name, lang)
        return f"{name} {j.profile.speed_m_s:g}{speed_unit}" if j.threshold.is_time else "—"

    shown = set(report.coverage.get("category", []))
    rule = "".join(
        f"<tr><td>{esc(study.catalogue[k].name(lang))}</td>"
        f"<td>{j.threshold.value:g} {esc(UNIT_NAMES[lang][j.threshold.unit])}</td>"
        f"<td>{esc(speed(j))}</td></tr>"
        for k, j in plan.judged.items()
        if k in shown
    )
    gap = lacking(report)
    names = {c.key: c.name(lang) for c in study.catalogue}
    joiner = "、" if zh else ", "
    lacking_rows = "".join(
        f"<tr><td>{esc(r.unit_name)}</td><td>{esc(r.township)}</td>"
        f"<td>{r.residents:,.0f}</td><td>{int(r.missing_count)}</td>"
        f"<td>{esc(joiner.join(names.get(k, k) for k in str(r.missing).split(',') if k))}</td></tr>"
        for r in gap.itertuples()
    )
    x0, y0, x1, y1 = study.extent(units=True)
    about = [text["area"].format(x0=x0, x1=x1, y0=y0, y1=y1)]
    units = plan.units
    if units is not None:
        inside = units.iloc[:-1]
        towns = 0 if plan.townships is None else len(plan.townships)
        about.append(text["units"].format(
            n=len(inside), urban=int((inside["unit_kind"] == "urban").sum()),
            village=int((inside["unit_kind"] == "village").sum()), towns=towns))  # fmt: skip
        residents, hh = inside["residents"].sum(), inside["households"].sum()
    else:
        about.append(text["no_units"])
        residents = study.demand["population"].sum()
        hh = float("nan")
    about.append(text["residents"].format(
        n=f"{residents:,.0f}", basis=text["basis"][plan.basis.get("population", "")],
        hh="—" if not np.isfinite(hh) else f"{hh:,.0f}",
        hh_basis=text["basis"][plan.basis.get("households", "modelled")]))  # fmt: skip
    label = report.targets.get("label_zh" if zh else "label", "")
    source = report.targets.get("source_zh" if zh else "source", report.targets.get("source"))
    about.append(text["targets_line"].format(label=label, source=source))
    about.append(text["sources"] + "; ".join(
        f"{text['roles'].get(s.role, s.role)}: {s.name}" for s in study.sources))  # fmt: skip
    notes = list(plan.notes)
    if plan.unassessed:
        notes.append(text["not_assessed"].format(
            names=("、" if zh else ", ").join(names[k] for k in plan.unassessed)))  # fmt: skip
    head = "".join(f"<th>{esc(h)}</th>" for h in text["head"])
    unreached_head = "".join(f"<th>{esc(h)}</th>" for h in text["unreached_head"])
    rule_head = "".join(f"<th>{esc(h)}</th>" for h in text["rule_head"])
    lacking_head = "".join(f"<th>{esc(h)}</th>" for h in text["lacking_head"])
    lacking_block = (
        f"<table id='lacking'><tr>{lacking_head}</tr>{lacking_rows}</table>"
        if lacking_rows else f"<p>{esc(text['none_lacking'])}</p>"
    ) if units is not None else ""  # fmt: skip
    notes_block = (
        f"<h2>{esc(text['notes'])}</h2>" + "".join(f"<p><small>{esc(n)}</small></p>" for n in notes)
        if notes
        else ""
    )
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
<h2>{esc(text["about"])}</h2>
{"".join(f"<p>{esc(line)}</p>" for line in about)}
<h2>{esc(text["targets"])}</h2>
<table id="indicators"><tr>{head}</tr>
{rows}</table>
{f"<h2>{esc(text['lacking'])}</h2>{lacking_block}" if units is not None else ""}
<h2>{esc(text["rule"])}</h2>
<table id="rule"><tr>{rule_head}</tr>{rule}</table>
<h2>{esc(text["coverage"])}</h2>
{_chart(judged, lang)}
<h2>{esc(text["unreached"])}</h2>
<table><tr>{unreached_head}</tr>{unreached}</table>
{_extra_sections(report, lang)}
{notes_block}
<p><small>{esc(text["data"])}: {esc(attribution)}</small></p>
</body></html>
"""


def workbook_sheets(report: Report, lang: Lang) -> dict[str, pd.DataFrame]:
    """The sheets of ``report.xlsx``.

    指标汇总, 社区明细, 乡镇街道汇总, 缺配清单, 设施清单, 数据说明 (English names in ``en``).
    """
    zh = lang == "zh"
    study, plan = report.study, report.plan
    catalogue = study.catalogue
    names = SHEETS[lang]
    sheets: dict[str, pd.DataFrame] = {}
    sheets[names[0]] = report_for_people(report_frame(plan.indicators), lang)
    empty = pd.DataFrame(
        {
            ("说明" if zh else "note"): [
                "未提供规划单元（--units）" if zh else "no planning units given (--units)"
            ]
        }
    )
    sheets[names[1]] = (units_for_people(plan.units, catalogue, lang) if plan.units is not None
                        else empty)  # fmt: skip
    parents = [units_for_people(t, catalogue, lang) for t in (plan.townships, plan.counties)
               if t is not None]  # fmt: skip
    sheets[names[2]] = pd.concat(parents, ignore_index=True) if parents else empty
    gap = lacking(report)
    sheets[names[3]] = units_for_people(gap, catalogue, lang) if plan.units is not None else empty
    if study.units is not None and len(study.facilities):
        where = assign(study.units, study.facilities)
        unit_names = pd.Series(np.where(where >= 0, study.units["unit_name"].to_numpy(
            dtype=object)[np.maximum(where, 0)], ""))  # fmt: skip
    else:
        unit_names = pd.Series([""] * len(study.facilities))
    sheets[names[4]] = facilities_for_people(study.facilities, catalogue, unit_names, lang)
    about: list[tuple[str, str]] = [
        ("研究" if zh else "study", study.name),
        ("目标" if zh else "targets", str(report.targets.get("label_zh" if zh else "label"))),
        ("目标来源" if zh else "targets source",
         str(report.targets.get("source_zh" if zh else "source", ""))),
        ("人口口径" if zh else "population basis",
         BASIS_NAMES[lang].get(plan.basis.get("population", ""), "")),
        ("户数口径" if zh else "households basis",
         BASIS_NAMES[lang].get(plan.basis.get("households", ""), "")),
    ]  # fmt: skip
    for key, rule in plan.judged.items():
        about.append(((f"评估规则：{catalogue[key].name_zh}" if zh
                       else f"judged: {catalogue[key].name_en}"), rule.describe(lang)))  # fmt: skip
    for d in DEFINITIONS:
        formula, origin = DEFINITIONS_ZH[d.key] if zh else (d.formula, d.source)
        about.append(((f"定义：{d.name_zh}" if zh else f"definition: {d.key}"),
                      f"{formula} — {origin}"))  # fmt: skip
    if plan.townships is not None or plan.counties is not None:
        for column, how in PARENT_COLUMNS.items():
            about.append(((f"乡镇街道汇总：{parent_column_zh(column, catalogue)}" if zh
                           else f"townships: {column}"), how[1] if zh else how[0]))  # fmt: skip
    for source in study.sources:
        role = SOURCE_ROLES_ZH.get(source.role, source.role) if zh else source.role
        about.append((("数据来源：" if zh else "source: ") + role, source.name))
    about += [(("说明" if zh else "note"), n) for n in plan.notes]
    about.append(("署名" if zh else "attribution", study.attribution))
    if report.road is not None:
        summary, by_unit = road_for_people(report.road, catalogue, lang)
        sheets[ROAD_SHEETS[lang][0]] = summary
        if by_unit is not None:
            sheets[ROAD_SHEETS[lang][1]] = by_unit
        about.append(("车行路网" if zh else "drive network", report.road.network))
    if report.hours is not None and len(report.hours.table):
        sheets[HOURS_SHEET[lang]] = hours_for_people(report.hours, catalogue, lang)
        assumed = int(report.hours.hours["facilities"].sum()
                      - report.hours.hours["hours_known"].sum())  # fmt: skip
        about.append((("营业时间不明的设施" if zh else "facilities without known hours"),
                      f"{assumed}（{'按营业计' if report.hours.unknown_open else '按未营业计'}）"
                      if zh else f"{assumed} (counted "
                      f"{'open' if report.hours.unknown_open else 'closed'})"))  # fmt: skip
    if report.opening is not None:
        about.append((("计算时刻" if zh else "at"), report.opening.when))
    if report.terrain is not None:
        summary, by_unit = terrain_for_people(report.terrain, catalogue, lang)
        sheets[TERRAIN_SHEETS[lang][0]] = summary
        if by_unit is not None:
            sheets[TERRAIN_SHEETS[lang][1]] = by_unit
        about.append(("地形" if zh else "terrain", terrain_source(report.terrain.terrain, lang)))
    sheets[names[5]] = pd.DataFrame(about, columns=["项目", "内容"] if zh else ["item", "value"])
    return sheets
