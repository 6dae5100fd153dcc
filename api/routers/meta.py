"""Health, categories and walking profiles."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import RegistryDep
from api.schemas import Category, Health, ProfileOut
from service_circle import __version__
from service_circle.catalogue import load_catalogue
from service_circle.profiles import PROFILES

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(registry: RegistryDep) -> Health:
    """Liveness: the version and how many studies are loaded."""
    return Health(status="ok", version=__version__, studies=len(registry.studies))


@router.get("/categories")
def categories(lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> list[Category]:
    """The facility categories of the catalogue, named in Chinese or English."""
    return [
        Category(
            key=c.key,
            name=c.name_zh if lang == "zh" else c.name_en,
            name_zh=c.name_zh,
            name_en=c.name_en,
            level=c.level,
            minutes=c.minutes,
            metres=c.metres,
            capacity_unit=c.capacity_unit,
            group=c.group,
            group_column=c.group_column,
            basic_guarantee=c.basic_guarantee,
        )
        for c in load_catalogue()
    ]


@router.get("/profiles")
def profiles() -> list[ProfileOut]:
    """The walking profiles, with their speeds and sources."""
    return [
        ProfileOut(name=p.name, speed_m_s=p.speed_m_s, description=p.description, source=p.source)
        for p in PROFILES.values()
    ]
