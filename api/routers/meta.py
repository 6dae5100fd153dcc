"""Health, categories and walking profiles: answered on the event loop, never queued."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from service_circle_api.deps import RegistryDep
from service_circle_api.schemas import Category, Health, ProfileOut

from service_circle import __version__
from service_circle.catalogue import load_catalogue
from service_circle.judging import GROUP_PROFILES
from service_circle.profiles import CROSSED_CLASSES, PROFILES, CrossingWaits, get_profile

router = APIRouter(tags=["meta"])


@router.head("/health", include_in_schema=False)
@router.get("/health", operation_id="getHealth")
async def health(registry: RegistryDep) -> Health:
    """Liveness: the version, the studies loaded and the computations under way.

    Answered on the event loop, so it stays fast while every compute worker is busy.
    """
    load = registry.pool.load
    return Health(
        status="ok",
        version=__version__,
        studies=len(registry.studies),
        unavailable=len(registry.unavailable),
        running=load["running"],
        waiting=load["waiting"],
        stopped=registry.pool.stopped,
    )


@router.get("/categories", operation_id="getCategories")
async def categories(lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> list[Category]:
    """The facility categories of the catalogue, named in Chinese or English."""
    return [
        Category(
            key=c.key,
            name=c.name_zh if lang == "zh" else c.name_en,
            name_zh=c.name_zh,
            name_en=c.name_en,
            level=c.level,
            level_name=c.level_name(lang),
            minutes=c.minutes,
            metres=c.metres,
            road_minutes=c.road_minutes,
            capacity_unit=c.capacity_unit,
            group=c.group,
            group_column=c.group_column,
            profile=get_profile(GROUP_PROFILES.get(c.group)).name,
            basic_guarantee=c.basic_guarantee,
            mofcom=c.mofcom,
            clause=c.clause,
        )
        for c in load_catalogue()
    ]


@router.get("/profiles", operation_id="getProfiles")
async def profiles() -> list[ProfileOut]:
    """The walking profiles, with their speeds and sources."""
    return [
        ProfileOut(
            name=p.name,
            speed_m_s=p.speed_m_s,
            description=p.description,
            source=p.source,
            slope=p.slope_name,
            avoids_steps=p.avoid_steps,
            step_s=None if p.avoid_steps else p.step_s,
            crossing_wait_s=_waits(p.crossing),
        )
        for p in PROFILES.values()
    ]


def _waits(crossing: CrossingWaits | None) -> dict[str, float] | None:
    """A profile's crossing waits by class, and at a signal."""
    if crossing is None:
        return None
    names = (*CROSSED_CLASSES, "signal")
    return dict(zip(names, crossing.waits_s().tolist(), strict=True))
