"""The planner's workbench: one Leaflet page at ``/`` that talks only to the JSON API.

The page, its script and its styles are files of this package (``static/``); Leaflet and
Leaflet.markercluster are served from their XStatic packages, so the page works on an
intranet without internet. It carries no inline script: the Content-Security-Policy
allows scripts from this origin only. Base-map tiles are the one thing from elsewhere:
``SC_TILES`` names a tile server (an intranet one is shown from the start); unset, the
OpenStreetMap tiles are offered, off until the planner switches them on.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from service_circle_api.deps import SettingsDep
from service_circle_api.routers.report import html_page

from service_circle import __version__
from service_circle._escape import html_text

router = APIRouter(tags=["workbench"])

STATIC = Path(__file__).resolve().parent.parent / "static"
#: Where the page's own files and the XStatic packages are served.
ASSETS = {
    "/workbench-assets": "service_circle_api",
    "/assets/leaflet": "xstatic.pkg.leaflet",
    "/assets/markercluster": "xstatic.pkg.leaflet_markercluster",
}
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


def _package_folder(module: str) -> Path:
    """The folder of files an installed package serves."""
    if module == "service_circle_api":
        return STATIC
    spec = find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - a dependency
        raise RuntimeError(f"{module} is not installed: pip install service-circle")
    return Path(spec.origin).parent / "data"


def mount_assets(app: FastAPI) -> None:
    """Serve the page's files and Leaflet's from the installed packages."""
    for prefix, module in ASSETS.items():
        app.mount(prefix, StaticFiles(directory=_package_folder(module)), name=prefix[1:])


@cache
def _page() -> str:
    """The page as installed (read once)."""
    return (STATIC / "workbench.html").read_text(encoding="utf-8")


def _tile_origins(url: str) -> tuple[str, ...]:
    """The origins a tile template loads from (Leaflet's subdomains a, b and c for ``{s}``)."""
    parts = [urlsplit(url.replace("{s}", sub)) for sub in "abc"]
    return tuple(sorted({f"{p.scheme}://{p.netloc}" for p in parts}))


@router.api_route(
    "/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
)
async def workbench(settings: SettingsDep) -> HTMLResponse:
    """The workbench page (Chinese by default; ``?lang=en`` in English)."""
    tiles = settings.tiles or OSM_TILES
    page = _page()
    config = {
        "tiles": tiles,
        "tiles-on": "1" if settings.tiles else "0",
        "tiles-attribution": settings.tiles_attribution or OSM_ATTRIBUTION,
        "version": __version__,
    }
    attributes = " ".join(f'data-{k}="{html_text(v)}"' for k, v in config.items())
    page = page.replace("<body>", f"<body {attributes}>", 1)
    return html_page(page, img_hosts=_tile_origins(tiles))
