"""The maps in a real browser (Debian's chromium, headless, through Playwright), offline.

Every request to the internet is blocked, so these tests prove that the self-contained
pages work without it: the Leaflet map is there, each layer draws as many features as the
GeoJSON outputs hold, toggling a layer hides it, and no JavaScript error is raised. A
screenshot of each page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow

# the number of features drawn on the map (SVG paths in the page) per registered layer
DRAWN = """name => {
  const layer = window.serviceCircle.layers[name];
  const parts = layer.getLayers ? layer.getLayers() : [layer];
  return parts.filter(p => p._path && p._path.isConnected).length;
}"""
TOGGLE = """name => {
  const input = document.querySelector(`input[data-layer="${CSS.escape(name)}"]`);
  input.click();
  return window.serviceCircle.map.hasLayer(window.serviceCircle.layers[name]);
}"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (CI installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def open_offline(browser, url: str, allowed: str | None = None):
    """A page with every internet request blocked; returns it, the blocked URLs and errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        target = r.request.url
        if target.startswith(("http://", "https://")) and not (
            allowed and target.startswith(allowed)
        ):
            blocked.append(target)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("window.serviceCircle !== undefined && window.L !== undefined")
    return page, blocked, errors


def check_layers(page, expected: dict[str, int]) -> None:
    """Each layer draws its features when shown, and none once toggled off."""
    for name, count in expected.items():
        if page.evaluate(DRAWN, name) == 0 and count:
            assert page.evaluate(TOGGLE, name) is True  # hidden at first: show it
        assert page.evaluate(DRAWN, name) == count, name
        assert page.evaluate(TOGGLE, name) is False, name
        assert page.evaluate(DRAWN, name) == 0, name


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    from service_circle.cli import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text())["features"]


def test_demo_map_draws_every_layer_offline(browser, demo_out):
    from service_circle.catalogue import load_catalogue

    catalogue = load_catalogue()
    page, blocked, errors = open_offline(browser, (demo_out / "map.html").as_uri())
    assert page.locator(".leaflet-container").count() == 1
    layers = page.evaluate("Object.keys(window.serviceCircle.layers)")
    facilities = _features(demo_out / "facilities.geojson")
    iso = _features(demo_out / "isochrones.geojson")
    gaps = _features(demo_out / "gaps.geojson")
    expected = {}
    for name in layers:
        kind, key, *rest = name.split("/")
        if kind == "facilities":
            expected[name] = sum(f["properties"]["category"] == key for f in facilities)
        elif kind == "isochrones":
            value = float(rest[0].split()[0])
            expected[name] = sum(
                f["properties"]["category"] == key and f["properties"]["threshold"] == value
                for f in iso
            )
        elif kind == "gaps":  # at the category's own minutes, else the longest threshold
            own = catalogue[key].minutes
            minutes = own if own in (5, 10, 15) else 15
            expected[name] = sum(
                f["properties"]["category"] == key and f["properties"]["threshold"] == minutes
                and f["geometry"] is not None for f in gaps
            )  # fmt: skip
    assert {n.split("/")[0] for n in expected} == {"facilities", "isochrones", "gaps"}
    assert all(expected.values())
    screenshot(page, "demo-map.png")
    check_layers(page, expected)
    assert errors == []
    # only base-map tiles were asked of the internet: no script, no style
    assert blocked and all("tile.openstreetmap.org" in u for u in blocked), blocked[:3]
    assert "OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    assert page.inner_text("#sc-title")
    page.close()


def test_api_map_in_a_browser(browser, live):
    study = httpx.get(f"{live}/studies").json()[0]["id"]
    query = "self_contained=true&tiles=none&lang=en&minutes=5,10,15&category=pharmacy"
    page, blocked, errors = open_offline(browser, f"{live}/studies/{study}/map?{query}", live)
    assert blocked == [] and errors == []
    # pharmacies' own circle is 8 minutes: the gap layer shows the longest threshold
    params = {"category": "pharmacy", "minutes": 15}
    gaps = httpx.get(f"{live}/studies/{study}/gaps", params=params).json()["features"]
    params = {"category": "pharmacy", "minutes": "5,10,15"}
    iso = httpx.get(f"{live}/studies/{study}/isochrones", params=params).json()["features"]
    detail = httpx.get(f"{live}/studies/{study}").json()
    expected = {
        "facilities/pharmacy": detail["facilities_by_category"]["pharmacy"],
        "gaps/pharmacy": sum(f["geometry"] is not None for f in gaps),
        **{f"isochrones/pharmacy/{t} min": 1 for t in (5, 10, 15)},
    }
    assert len(iso) == 3
    assert sorted(page.evaluate("Object.keys(window.serviceCircle.layers)")) == sorted(expected)
    screenshot(page, "api-map.png")
    check_layers(page, expected)
    assert "OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    assert "pharmacy" in page.inner_text("#sc-legend").lower()
    page.close()
