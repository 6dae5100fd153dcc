"""The FastAPI application factory.

The full API (studies, coverage, gaps, isochrones, siting, maps) is built on the library as
its issues land; this module already serves the health check and the walking profiles so
that ``uvicorn api.main:app`` starts.
"""

from __future__ import annotations

from fastapi import FastAPI

from service_circle import __version__
from service_circle.profiles import PROFILES


def create_app() -> FastAPI:
    """Build the application."""
    app = FastAPI(
        title="service-circle",
        version=__version__,
        description="15-minute convenience living circle planner (一刻钟便民生活圈).",
    )

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness check."""
        return {"status": "ok", "version": __version__}

    @app.get("/profiles", tags=["meta"])
    def profiles() -> list[dict[str, str | float]]:
        """The walking profiles, with their speeds and sources."""
        return [
            {
                "name": p.name,
                "speed_m_s": p.speed_m_s,
                "description": p.description,
                "source": p.source,
            }
            for p in PROFILES.values()
        ]

    return app


app = create_app()
