"""The FastAPI application: a thin layer over the library.

Each route validates its input, makes one library call and serialises the result (GeoJSON
as RFC 7946, ``application/geo+json``). At start the app loads every study folder under
``SC_STUDIES_DIR`` (built with ``service-circle build``), or the bundled Helsinki sample
when that is unset; a study that does not load is listed as unavailable with its reason
and never stops the others. The app never opens a path sent by a client.

The event loop answers ``/health``, the catalogue and cached results; every computation
runs in a bounded pool (:mod:`api.compute`) under a time limit, and is refused with 503
and ``Retry-After`` when the pool is full. ``/docs`` and ``/redoc`` serve their scripts
from an installed package, so they work on an intranet without internet.

Run ``service-circle serve`` or ``uvicorn service_circle_api.main:app`` (the ``api/`` folder
installs as ``service_circle_api``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from service_circle_api import errors
from service_circle_api.compute import CLIENT, ComputePool
from service_circle_api.registry import REQUEST, Registry, load_studies
from service_circle_api.routers import coverage, meta, report, siting, studies, workbench
from service_circle_api.routers.report import html_page
from service_circle_api.settings import Settings
from starlette.types import ASGIApp, Receive, Scope, Send

from service_circle import __version__

DOCS_ASSETS = "/docs-assets"
#: ReDoc's bundle, served with its one link to the internet (the "powered by" logo on a
#: CDN) replaced by an empty image, so that the page asks nothing of the network.
REDOC_JS = "/docs-offline/redoc.standalone.js"
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def _docs_assets() -> Path:
    """Swagger UI and ReDoc, as installed with the ``fastapi-offline`` package."""
    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:  # pragma: no cover - a dependency
        raise RuntimeError("fastapi-offline is not installed: pip install service-circle")
    return Path(spec.origin).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; studies load when it starts (lifespan)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loaded, unavailable = load_studies(settings.studies_dir, settings.cache_dir)
        pool = ComputePool(
            settings.compute_workers,
            settings.compute_queue,
            settings.compute_time_limit_s,
            loaded,
            processes=settings.compute_processes,
            per_client=settings.compute_per_client,
        )
        pool.start()  # workers fork now, sharing the loaded studies
        app.state.registry = Registry(
            loaded, settings.cache_entries, unavailable=unavailable, pool=pool
        )
        try:
            yield
        finally:
            pool.shutdown()

    app = FastAPI(
        title="service-circle",
        version=__version__,
        description=(
            "15-minute convenience living circle planner (一刻钟便民生活圈): coverage, gaps, "
            "isochrones and siting on real street networks. Each answer carries the attribution "
            "of the data its study was built from."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(WhoAsks)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "HEAD"],
            allow_headers=["content-type", "accept"],
        )
    for module in (meta, studies, coverage, siting, report, workbench):
        app.include_router(module.router)
    _offline_docs(app)
    workbench.mount_assets(app)
    return app


class WhoAsks:
    """Each request's client (its address) and the request itself, for the compute pool.

    The pool shares its workers by client (:data:`~service_circle_api.compute.CLIENT`),
    and the registry stops a computation whose client has gone
    (:data:`~service_circle_api.registry.REQUEST`).
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request with its client and itself known to the computations."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        who = CLIENT.set(str(client[0]) if client else "local")
        request = REQUEST.set(Request(scope, receive))
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST.reset(request)
            CLIENT.reset(who)


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their assets served by the app."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_docs_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger():
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        return html_page(page.body.decode("utf-8"))

    redoc_js = (_docs_assets() / "redoc.standalone.js").read_text(encoding="utf-8")
    redoc_js = redoc_js.replace(_REDOC_LOGO, _EMPTY_IMAGE)

    @app.get(REDOC_JS, include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return html_page(page.body.decode("utf-8"), workers=("blob:",))  # ReDoc's search


def __getattr__(name: str):
    # ``uvicorn service_circle_api.main:app`` gets an app built from the environment
    if name == "app":
        return create_app()
    raise AttributeError(name)
