"""Dependencies: the registry, the study named in the path, thresholds from the query."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Path, Query, Request
from service_circle_api.errors import StudyNotFoundError, StudyUnavailableError
from service_circle_api.registry import Registry
from service_circle_api.schemas import AT_PATTERN, MAX_METRES, MAX_MINUTES, ProfileName
from service_circle_api.settings import Settings

from service_circle._errors import InputError
from service_circle._validate import parse_numbers
from service_circle.cost import Threshold
from service_circle.profiles import get_profile
from service_circle.study import Study

# A number in (0, 60] and one in (0, 5000], written plainly (5, 7.5, 0.5, 300): the
# patterns state in the schema exactly what the server accepts.
_MINUTE = r"0*(?:[1-9]|[1-5][0-9])(?:\.[0-9]*)?|0*60(?:\.0*)?|0*\.[0-9]*[1-9][0-9]*"
_METRE = r"0*(?:[1-9][0-9]{0,2}|[1-4][0-9]{3})(?:\.[0-9]*)?|0*5000(?:\.0*)?|0*\.[0-9]*[1-9][0-9]*"


def _list_pattern(number: str) -> str:
    item = rf"\s*(?:{number})\s*"
    return rf"^{item}(?:,{item}){{0,5}}$"


MINUTES_PATTERN = _list_pattern(_MINUTE)
METRES_PATTERN = _list_pattern(_METRE)


async def get_registry(request: Request) -> Registry:
    """The studies and the result cache."""
    return request.app.state.registry


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_study(
    study_id: Annotated[str, Path(description="A study id from GET /studies")],
    registry: Annotated[Registry, Depends(get_registry)],
) -> Study:
    """The study named in the path: 404 when unknown, 503 when it did not load."""
    if study_id in registry.unavailable:
        raise StudyUnavailableError(study_id, registry.unavailable[study_id])
    if study_id not in registry.studies:
        raise StudyNotFoundError(study_id, sorted(registry.studies))
    return registry.studies[study_id]


def _numbers(text: str, field: str, upper: float) -> list[float]:
    try:
        return parse_numbers(text, field, gt=0, le=upper)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


async def thresholds(
    minutes: Annotated[
        str | None,
        Query(
            description=f"Minutes, comma-separated, each in (0, {MAX_MINUTES:g}] (e.g. 5,10,15)",
            pattern=MINUTES_PATTERN,
        ),
    ] = None,
    metres: Annotated[
        str | None,
        Query(
            description=f"Metres of network distance, comma-separated, each in (0, "
            f"{MAX_METRES:g}] (e.g. 300,500,1000)",
            pattern=METRES_PATTERN,
        ),
    ] = None,
) -> list[Threshold]:
    """``minutes`` and/or ``metres``; 5, 10 and 15 minutes when neither is given."""
    out: list[Threshold] = []
    if minutes is not None:
        out += [Threshold.minutes(v) for v in _numbers(minutes, "minutes", MAX_MINUTES)]
    if metres is not None:
        out += [Threshold.metres(v) for v in _numbers(metres, "metres", MAX_METRES)]
    return out or [Threshold.minutes(v) for v in (5, 10, 15)]


async def profile_name(
    profile: Annotated[
        ProfileName | None, Query(description="A walking profile (GET /profiles)")
    ] = None,
) -> str:
    """The profile's name (default ``adult``)."""
    return get_profile(profile).name


async def optional_profile(
    profile: Annotated[
        ProfileName | None,
        Query(
            description="One walking profile for every category (GET /profiles); default "
            "each category's served group's: elderly services under elderly, the rest adult"
        ),
    ] = None,
) -> str | None:
    """The profile's name, or ``None`` for each group's own (the judging rule)."""
    return None if profile is None else get_profile(profile).name


AtText = Annotated[
    str | None,
    Query(
        description="Count only the facilities open then, local time at the study: "
        "'Tue 23:00', '周二 23:00' (an ordinary week) or '2026-12-05T12:00' (that day)",
        pattern=AT_PATTERN,
        max_length=40,
    ),
]
UnknownHours = Annotated[
    Literal["open", "closed"],
    Query(description="Facilities without known hours count as open (default) or closed"),
]


async def opening(
    study: Annotated[Study, Depends(get_study)],
    at: AtText = None,
    unknown_hours: UnknownHours = "open",
) -> tuple[str | None, bool]:
    """``(at, unknown_open)``: the moment as ISO local time (checked), and the option."""
    return check_at(study, at), unknown_hours == "open"


def check_at(study: Study, at: str | None) -> str | None:
    """The moment as ISO local time, or 422 naming the forms understood."""
    if at is None:
        return None
    from service_circle.hours import parse_at

    try:
        return parse_at(at, study.timezone).isoformat(timespec="minutes")
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


StudyDep = Annotated[Study, Depends(get_study)]
OpeningDep = Annotated[tuple[str | None, bool], Depends(opening)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ThresholdsDep = Annotated[list[Threshold], Depends(thresholds)]
ProfileDep = Annotated[str, Depends(profile_name)]
GroupProfileDep = Annotated[str | None, Depends(optional_profile)]
