"""Dependencies: the registry, the study named in the path, thresholds from the query."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request

from api.errors import StudyNotFoundError
from api.registry import Registry
from api.schemas import MAX_METRES, MAX_MINUTES
from api.settings import Settings
from service_circle.profiles import Threshold, get_profile
from service_circle.study import Study


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
    """The study named in the path, or 404."""
    if study_id not in registry.studies:
        raise StudyNotFoundError(study_id, sorted(registry.studies))
    return registry.studies[study_id]


def _numbers(text: str, field: str, upper: float) -> list[float]:
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise HTTPException(422, f"{field}: {part.strip()!r} is not a number") from None
        if not 0 < value <= upper:
            raise HTTPException(422, f"{field}: {value:g} is outside (0, {upper:g}]")
        values.append(value)
    if len(values) > 6:
        raise HTTPException(422, f"{field}: at most 6 thresholds, got {len(values)}")
    return values


async def thresholds(
    minutes: Annotated[
        str | None,
        Query(description="Minutes, comma-separated (e.g. 5,10,15)", pattern=r"^[0-9.,\s]+$"),
    ] = None,
    metres: Annotated[
        str | None,
        Query(description="Metres of network distance, comma-separated", pattern=r"^[0-9.,\s]+$"),
    ] = None,
) -> list[Threshold]:
    """``minutes`` or ``metres`` (not both); 5, 10, 15 minutes when neither is given."""
    if minutes is not None and metres is not None:
        raise HTTPException(422, "give minutes or metres, not both")
    if metres is not None:
        return [Threshold.metres(v) for v in _numbers(metres, "metres", MAX_METRES)]
    return [Threshold.minutes(v) for v in _numbers(minutes or "5,10,15", "minutes", MAX_MINUTES)]


async def profile_name(
    profile: Annotated[str | None, Query(description="A walking profile (GET /profiles)")] = None,
) -> str:
    """The profile's name (default ``adult``); an unknown one is a 422."""
    return get_profile(profile).name  # unknown → 422 through the error mapping


StudyDep = Annotated[Study, Depends(get_study)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ThresholdsDep = Annotated[list[Threshold], Depends(thresholds)]
ProfileDep = Annotated[str, Depends(profile_name)]
