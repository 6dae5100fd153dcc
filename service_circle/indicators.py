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

import numpy as np
import pandas as pd

from service_circle._errors import InputError, InputNotFoundError
from service_circle.coverage import coverage_table
from service_circle.io import atomic_write, write_csv
from service_circle.profiles import Profile, Threshold, get_profile
from service_circle.study import Study

logger = logging.getLogger(__name__)

#: Residents per household (7th national census, 2020: 2.62). Configurable.
PERSONS_PER_HOUSEHOLD = 2.62
ELDERLY_SERVICES = ("elderly_canteen", "elderly_daycare")


@dataclass(frozen=True)
class Indicator:
    """One line of the report."""

    key: str
    name_zh: str
    name_en: str
    unit: str
    value: float | None
    target: float | None
    status: str  # "met", "not met", "no target", "not computable"
    note: str = ""


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
    prof = get_profile(profile)
    targets = load_targets(preset, targets_file)
    population = float(study.demand["population"].sum())
    households = population / persons_per_household
    fac = study.facilities
    out: list[Indicator] = []

    def add(key, zh, en, unit, value, note=""):
        target = targets.get(key)
        if value is None:
            status = "not computable"
        elif target is None:
            status = "no target"
        else:
            status = "met" if value >= target - 1e-12 else "not met"
        out.append(Indicator(key, zh, en, unit, value, target, status, note))

    def capacity_sum(category: str, unit_name: str) -> tuple[float | None, str]:
        rows = fac[fac["category"] == category]
        if rows.empty:  # absent from the data is not the same as absent on the ground
            return None, f"needs the {category} facilities with their {unit_name}: none given"
        if "capacity" not in rows:
            return None, f"needs the {unit_name} of the {len(rows)} {category} facilities"
        cap = pd.to_numeric(rows["capacity"], errors="coerce")
        missing = int(cap.isna().sum())
        if missing:
            return None, f"needs the {unit_name} of {missing} of {len(rows)} {category} facilities"
        return float(cap.sum()), ""

    def share_within(key: str) -> tuple[float, str]:
        cat = study.catalogue[key]
        table = coverage_table(
            study, [Threshold.minutes(cat.minutes)], categories=[key], profile=prof
        )
        none = "" if table["facilities"].iloc[0] else f"; no {key} facility in the inputs"
        return float(table["share"].iloc[0]), f"within {cat.minutes:g} min{none}"

    places, note = capacity_sum("childcare", "places")
    per_1000 = None if places is None or population == 0 else places / population * 1000
    add("childcare_places_per_1000", "每千人口拥有3岁以下婴幼儿托位数",
        "childcare places (0-3) per 1000 residents", "places / 1000", per_1000, note)  # fmt: skip

    elderly = [k for k in ELDERLY_SERVICES if k in study.catalogue]
    reached = np.zeros(len(study.demand), dtype=bool)
    for key in elderly:
        cat = study.catalogue[key]
        found = study.search(key, Threshold.minutes(cat.minutes), prof)
        reached |= found.point_cost <= cat.minutes * 60
    old = study.demand["pop_60plus"].to_numpy(np.float64)
    add("elderly_care_coverage", "居家社区养老服务覆盖率", "home & community elderly-care coverage",
        "share of 60+", float(old[reached].sum() / old.sum()) if old.sum() > 0 else None,
        f"60+ within their own default minutes of {' or '.join(elderly)}"
        + ("" if fac["category"].isin(elderly).any() else "; none in the inputs"))  # fmt: skip

    if "community_service" in study.catalogue:
        share, note = share_within("community_service")
        add("community_service_coverage", "社区综合服务设施覆盖率",
            "community service facility coverage", "share of residents", share, note)  # fmt: skip
        area, note = capacity_sum("community_service", "floor area (m²)")
        per_100 = None if area is None or households == 0 else area / households * 100
        add("community_floor_area_per_100_households", "每百户居民拥有社区综合服务设施面积",
            "community service floor area per 100 households", "m² / 100 households",
            per_100, note or f"{persons_per_household} persons per household")  # fmt: skip
    area, note = capacity_sum("sports", "ground area (m²)")
    per_resident = None if area is None or population == 0 else area / population
    add("sports_area_per_resident", "人均体育场地面积", "sports ground per resident", "m²",
        per_resident, note)  # fmt: skip
    add("care_bed_share", "养老机构护理型床位占比", "care-type beds in elderly institutions",
        "share", None, "needs the care-type bed count of each nursing home")  # fmt: skip
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
        "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
    }


def report_html(
    study: Study, indicators: list[Indicator], coverage: pd.DataFrame, preset_label: str = ""
) -> str:
    """The report as a self-contained HTML page with an inline SVG chart."""
    return _html(study, report_frame(indicators), coverage, preset_label)


def write_report(
    study: Study,
    indicators: list[Indicator],
    coverage: pd.DataFrame,
    folder: str | os.PathLike,
    *,
    preset_label: str = "",
) -> list[Path]:
    """Write report.json, report.csv and report.html (with an inline SVG chart)."""
    folder = Path(folder)
    paths = [folder / "report.json", folder / "report.csv", folder / "report.html"]
    with atomic_write(paths[0]) as fh:
        json.dump(report_payload(study, indicators, coverage, preset_label), fh,
                  ensure_ascii=False, indent=2)  # fmt: skip
    write_csv(report_frame(indicators), paths[1])
    with atomic_write(paths[2]) as fh:
        fh.write(report_html(study, indicators, coverage, preset_label))
    return paths


def _fmt(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.0%}" if unit.startswith("share") else f"{value:,.2f}"


def _chart(coverage: pd.DataFrame) -> str:
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
        text = html.escape(f"{r.name_zh} {r.threshold:g} {r.unit}")
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 3}" text-anchor="end" '
                     f'font-size="11">{text}</text>')  # fmt: skip
        parts.append(f'<rect x="{label_w}" y="{y}" width="{share * width:.1f}" height="{bar}" '
                     f'fill="{color}"><title>{share:.1%}</title></rect>')  # fmt: skip
        parts.append(f'<text x="{label_w + share * width + 4:.1f}" y="{y + bar - 3}" '
                     f'font-size="11">{share:.0%}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _html(study: Study, frame: pd.DataFrame, coverage: pd.DataFrame, label: str) -> str:
    rows = "".join(
        f"<tr class='{html.escape(r.status.replace(' ', '-'))}'><td>{html.escape(r.name_zh)}"
        f"<br><small>{html.escape(r.name_en)}</small></td><td>{_fmt(r.value, r.unit)}</td>"
        f"<td>{_fmt(r.target, r.unit)}</td><td>{html.escape(r.status)}</td>"
        f"<td><small>{html.escape(r.note)}</small></td></tr>"
        for r in frame.itertuples()
    )
    population = study.demand["population"].sum()
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<title>一刻钟便民生活圈 — {html.escape(study.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1000px; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }}
tr.met td:nth-child(4) {{ color: #1a7f37; }} tr.not-met td:nth-child(4) {{ color: #b42318; }}
tr.not-computable td {{ color: #777; }}
</style></head><body>
<h1>一刻钟便民生活圈 · 15-minute living circle — {html.escape(study.name)}</h1>
<p>Residents: {population:,.0f}. Targets: {html.escape(label)}.</p>
<h2>Plan targets</h2>
<table><tr><th>indicator</th><th>value</th><th>target</th><th>status</th><th>note</th></tr>
{rows}</table>
<h2>Coverage by category and threshold</h2>
{_chart(coverage)}
<p><small>Map data © OpenStreetMap contributors (ODbL 1.0).</small></p>
</body></html>
"""
