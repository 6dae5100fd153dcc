"""The plan-target report, the planning units and the map.

Answers a browser opens offline and safely.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from service_circle_api import tasks
from service_circle_api.deps import (
    GroupProfileDep,
    OpeningDep,
    RegistryDep,
    SettingsDep,
    StudyDep,
    ThresholdsDep,
)
from service_circle_api.geojson import MEDIA_TYPE, GeoJSONResponse
from service_circle_api.schemas import FeatureCollection, problems
from service_circle_api.tasks import Task

from service_circle._errors import InputNotFoundError
from service_circle._escape import content_security_policy
from service_circle.indicators import Report, report_html, report_payload, workbook_sheets
from service_circle.plan import PlanResult
from service_circle.study import Study
from service_circle.tables import check_lang, study_language
from service_circle.writers import feature_collection, json_safe

router = APIRouter(prefix="/studies/{study_id}", tags=["report"])

ERRORS = problems(404, 422, 503)
Preset = Literal["haidong_2025", "national"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PresetQuery = Annotated[
    Preset | None,
    Query(description="The plan targets (default: the plan governing the study's place: "
          "Haidong's in Haidong, else national)"),
]  # fmt: skip
LangQuery = Annotated[
    Literal["zh", "en"] | None,
    Query(description="Language for people (default: zh for a study in China)"),
]


def html_page(
    page: str, *, img_hosts: tuple[str, ...] = (), workers: tuple[str, ...] = ()
) -> HTMLResponse:
    """An HTML answer with a Content-Security-Policy that allows only its own scripts."""
    policy = content_security_policy(page, img_hosts=img_hosts, workers=workers)
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def report_of(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    thresholds: ThresholdsDep,
    profile: GroupProfileDep,
    opening: OpeningDep,
    preset: PresetQuery = None,
    lang: LangQuery = None,
) -> Report:
    """The report of a study for the question asked, computed once in a worker."""
    task = Task(tasks.report_parts, study_id, (thresholds, profile, preset, opening))
    plan, table, targets, hours, chosen, terrain = await registry.get(
        (study_id, "report", tuple(thresholds), profile, preset, opening), task
    )
    view = study if opening[0] is None else study.open_at(opening[0], unknown_open=opening[1])
    return Report(view, plan, table, targets, check_lang(lang or study_language(study)),
                  hours=hours, opening=chosen, terrain=terrain)  # fmt: skip


ReportDep = Annotated[Report, Depends(report_of)]


@router.get(
    "/report",
    responses={200: {"content": {"application/json": {}, "text/html": {}},
                     "description": "JSON, or HTML with Accept: text/html"}, **ERRORS},
    operation_id="getReport",
)  # fmt: skip
async def report(rep: ReportDep, accept: Annotated[str | None, Header()] = None) -> Response:
    """The plan's indicators against the targets, the units missing services and coverage.

    Each category is judged at one threshold (its default minutes, or the one ``minutes`` /
    ``metres`` value) under its served group's profile; a share is a fraction 0-1.
    """
    if accept and "text/html" in accept:
        return html_page(report_html(rep))
    return JSONResponse(report_payload(rep))


@router.get(
    "/report.html",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The report as a page"},
               **ERRORS},
    operation_id="getReportPage",
)  # fmt: skip
async def report_page(rep: ReportDep) -> HTMLResponse:
    """The report as an HTML page to open, print or save (what ``Accept: text/html`` gets)."""
    return html_page(report_html(rep))


@router.get(
    "/report.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The report as a workbook"},
               **ERRORS},
    operation_id="getReportWorkbook",
)  # fmt: skip
async def report_workbook(rep: ReportDep) -> Response:
    """The report as an Excel workbook.

    Sheets 指标汇总, 社区明细, 乡镇街道汇总, 缺配清单, 设施清单, 数据说明 (English names with
    ``lang=en``).
    """
    from service_circle.writers import xlsx_bytes

    name = f"{rep.study.name}-report.xlsx"
    return Response(
        xlsx_bytes(workbook_sheets(rep, check_lang(rep.lang))),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=\"report.xlsx\"; "
                 f"filename*=UTF-8''{quote(name)}"},
    )  # fmt: skip


def _units_of(study: Study, plan: PlanResult) -> Any:
    if plan.units is None:
        raise InputNotFoundError(
            f"study {study.name!r} has no planning units: build it with --units FILE"
        )
    return plan.units


@router.get(
    "/units",
    response_class=GeoJSONResponse,
    responses={200: {"model": FeatureCollection, "content": {MEDIA_TYPE: {}},
                     "description": "The planning units with their indicators (GeoJSON)"},
               **problems(404, 422, 503, described={404: "Unknown study, or no units"})},
    operation_id="getUnits",
)  # fmt: skip
async def units(study_id: str, rep: ReportDep) -> GeoJSONResponse:
    """Every planning unit (社区 / 行政村) with its own indicators, as GeoJSON (WGS-84).

    Each unit carries its completeness (配齐, 缺配), its values of the plan's indicators and
    per category the share within the threshold, the median and 90th-percentile times.
    """
    study = rep.study
    table = _units_of(study, rep.plan)
    body = feature_collection(
        table.iloc[:-1], study=study_id, outside_any_unit=json_safe(
            table.drop(columns="geometry").iloc[-1].to_dict()),
        judged=[j.to_dict() for j in rep.plan.judged.values()],
        attribution=study.attribution,
    )  # fmt: skip
    return GeoJSONResponse(body)


@router.get(
    "/units/{code}",
    responses=problems(404, 422, 503, described={404: "Unknown study or unit"}),
    operation_id="getUnit",
)
async def unit(
    study_id: str,
    code: Annotated[str, Path(description="The unit's code (unit_code)", max_length=200)],
    rep: ReportDep,
    registry: RegistryDep,
) -> dict[str, Any]:
    """One unit: its indicators, what it lacks, the facilities inside it and serving it.

    What it lacks (缺配) comes with the names; a facility serves the unit when it is the
    nearest of its category for some of the unit's homes, and comes with those homes,
    their people and their median and longest time (or distance) to it, as judged. The
    facilities inside it that are not on the network (farther than the access distance
    from every street, or across water) are listed apart with their reason (``unplaced``).
    """
    study = rep.study
    table = _units_of(study, rep.plan)
    rows = table.iloc[:-1]
    match = rows.index[rows["unit_code"] == code]
    if not len(match):
        shown = ", ".join(rows["unit_code"].astype(str).head(20))
        raise InputNotFoundError(f"study {study.name!r} has no unit {code!r}: its units are "
                                 f"{shown}")  # fmt: skip
    i = int(match[0])
    row = rows.drop(columns="geometry").loc[i].to_dict()
    missing = [k for k in str(row.get("missing") or "").split(",") if k]
    judged = [(j.category, j.threshold, j.profile.name) for j in rep.plan.judged.values()]
    opening = None if rep.opening is None else (rep.opening.when, rep.opening.unknown_open)
    found = await registry.get(
        (study_id, "unit", i, tuple(judged), opening),
        Task(tasks.unit_facilities, study_id, (i, judged), {"opening": opening}),
    )
    return json_safe({
        "study": study_id,
        "unit": row,
        "missing": [{"category": k, "name_zh": study.catalogue[k].name_zh,
                     "name_en": study.catalogue[k].name_en} for k in missing
                    if k in study.catalogue],
        "facilities": found["inside"],
        "serving": found["serving"],
        # inside the unit but not on the network: they serve nobody (and why)
        "unplaced": found["unplaced"],
        "judged": [j.to_dict() for j in rep.plan.judged.values()],
        "attribution": study.attribution,
    })  # fmt: skip


@router.get(
    "/map",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "A Leaflet map"}, **ERRORS},
    operation_id="getMap",
)
async def study_map(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    settings: SettingsDep,
    thresholds: ThresholdsDep,
    profile: GroupProfileDep,
    category: Annotated[str | None, Query(description="One category; all when absent")] = None,
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="Language of the page (default: zh for a study in China)"),
    ] = None,
    tiles: Annotated[
        Literal["osm", "none"],
        Query(description="Base tiles: none (offline, the default) or osm (OpenStreetMap)"),
    ] = "none",
    self_contained: Annotated[
        bool | None,
        Query(
            description="Embed the scripts so that the page works without internet "
            "(default: SC_SELF_CONTAINED_MAPS, on)"
        ),
    ] = None,
) -> HTMLResponse:
    """The study as a Leaflet map: facilities, isochrones, gaps, neighbourhoods."""
    from service_circle.maps import TILE_HOSTS

    if category is not None:
        study.catalogue[category]
    embed = settings.self_contained_maps if self_contained is None else self_contained
    lang = lang or study_language(study)
    key = (study_id, "map", category, tuple(thresholds), profile, lang, tiles, embed)
    task = Task(tasks.map_page, study_id, (category, thresholds, profile, lang, tiles, embed))
    page = await registry.get(key, task)
    return html_page(page, img_hosts=TILE_HOSTS if tiles == "osm" else ())
