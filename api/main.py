"""The FastAPI application: a thin layer over the library.

Each route validates its input, makes one library call and serialises the result (GeoJSON
as RFC 7946, ``application/geo+json``). At start the app loads every study folder under
``SC_STUDIES_DIR`` (built with ``service-circle build``), or the bundled Helsinki sample
when that is unset; it never opens a path sent by a client. Routes are plain functions,
so FastAPI runs the CPU-bound work in its thread pool, off the event loop.

Run ``service-circle serve`` or ``uvicorn api.main:app``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.registry import Registry, load_studies
from api.routers import coverage, meta, report, siting, studies
from api.settings import Settings
from service_circle import __version__


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; studies load when it starts (lifespan)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.registry = Registry(
            load_studies(settings.studies_dir, settings.cache_dir), settings.cache_entries
        )
        yield

    app = FastAPI(
        title="service-circle",
        version=__version__,
        description=(
            "15-minute convenience living circle planner (一刻钟便民生活圈): coverage, gaps, "
            "isochrones and siting on real street networks. Data © OpenStreetMap contributors."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    for module in (meta, studies, coverage, siting, report):
        app.include_router(module.router)
    return app


def __getattr__(name: str):
    # ``uvicorn api.main:app`` gets an app built from the environment on first access
    if name == "app":
        return create_app()
    raise AttributeError(name)
