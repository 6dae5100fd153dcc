"""The plan-target report and the map, as pages a browser opens offline and safely."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from service_circle_api import tasks
from service_circle_api.deps import ProfileDep, RegistryDep, SettingsDep, StudyDep, ThresholdsDep
from service_circle_api.schemas import problems
from service_circle_api.tasks import Task

from service_circle._escape import content_security_policy
from service_circle.indicators import report_html, report_payload
from service_circle.tables import study_language

router = APIRouter(prefix="/studies/{study_id}", tags=["report"])

ERRORS = problems(404, 422, 503)
Preset = Literal["haidong_2025", "national"]


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


@router.get(
    "/report",
    responses={200: {"content": {"application/json": {}, "text/html": {}},
                     "description": "JSON, or HTML with Accept: text/html"}, **ERRORS},
    operation_id="getReport",
)  # fmt: skip
async def report(
    study_id: str,
    study: StudyDep,
    registry: RegistryDep,
    thresholds: ThresholdsDep,
    profile: ProfileDep,
    preset: Annotated[Preset, Query(description="The plan targets")] = "haidong_2025",
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="Language of the HTML page (default: zh for a study in China)"),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The plan-target report: indicators against the targets and the coverage table."""
    task = Task(tasks.report_parts, study_id, (thresholds, profile, preset))
    indicators, table, label = await registry.get(
        (study_id, "report", tuple(thresholds), profile, preset), task
    )
    if accept and "text/html" in accept:
        page = report_html(study, indicators, table, label, lang=lang or study_language(study))
        return html_page(page)
    return JSONResponse(report_payload(study, indicators, table, label))


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
    profile: ProfileDep,
    category: Annotated[str | None, Query(description="One category; all when absent")] = None,
    lang: Annotated[
        Literal["zh", "en"] | None,
        Query(description="Language of the page (default: zh for a study in China)"),
    ] = None,
    tiles: Annotated[Literal["osm", "none"], Query(description="Base tiles")] = "osm",
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
