"""The maps in a real browser (Debian's chromium, headless, through Playwright), offline.

Every request to the internet is blocked, so these tests prove that the self-contained
pages work without it: the Leaflet map is there, each layer draws as many features as the
GeoJSON outputs hold, toggling a layer hides it, and no JavaScript error is raised. A
screenshot of each page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from conftest import ROOT

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


def _offline_page(browser, allowed: str | None = None, init_script: str | None = None):
    """A new page on which every internet request but ``allowed``'s is blocked.

    Returns the page, the list the blocked URLs go to and the list of its script errors.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    if init_script:
        page.add_init_script(init_script)
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
    return page, blocked, errors


def open_offline(browser, url: str, allowed: str | None = None):
    """A map opened with the internet blocked; returns it, the blocked URLs and errors."""
    page, blocked, errors = _offline_page(browser, allowed)
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
        elif kind == "gaps":  # at the minutes the category is judged at: its own
            minutes = catalogue[key].minutes
            expected[name] = sum(
                f["properties"]["category"] == key and f["properties"]["threshold"] == minutes
                and f["geometry"] is not None for f in gaps
            )  # fmt: skip
    assert {n.split("/")[0] for n in expected} == {"facilities", "isochrones", "gaps"}
    assert all(expected.values())
    screenshot(page, "demo-map.png")
    check_layers(page, expected)
    assert errors == []
    assert blocked == [], blocked[:3]  # offline first: nothing asked of the internet
    assert "OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    assert page.inner_text("#sc-title")
    page.close()


def test_api_map_in_a_browser(browser, live):
    study = httpx.get(f"{live}/studies").json()[0]["id"]
    query = "self_contained=true&tiles=none&lang=en&minutes=5,10,15&category=pharmacy"
    page, blocked, errors = open_offline(browser, f"{live}/studies/{study}/map?{query}", live)
    assert blocked == [] and errors == []
    # pharmacies are judged at their own 5 minutes (GB 50180's 5-minute 社区商业网点): the gap
    # layer shows those
    params = {"category": "pharmacy", "minutes": 5}
    gaps = httpx.get(f"{live}/studies/{study}/gaps", params=params).json()["features"]
    params = {"category": "pharmacy", "minutes": "5,10,15"}
    iso = httpx.get(f"{live}/studies/{study}/isochrones", params=params).json()["features"]
    detail = httpx.get(f"{live}/studies/{study}").json()
    # a layer per window the pharmacy is needed in: the area of those open throughout it
    # (the sample's hours are OSM's; those without count as open)
    from service_circle.catalogue import load_catalogue

    pharmacies = httpx.get(f"{live}/studies/{study}/facilities",
                           params={"category": "pharmacy"}).json()["features"]  # fmt: skip
    hours = [f["properties"]["opening_hours"] for f in pharmacies]
    windows = {f"windows/pharmacy/{w.key}": int(w.open_mask(hours, country=None).any())
               for w in load_catalogue()["pharmacy"].windows}  # fmt: skip
    assert sum(h is not None for h in hours) > 0  # Helsinki's pharmacies carry hours
    expected = {
        "facilities/pharmacy": detail["facilities_by_category"]["pharmacy"],
        "gaps/pharmacy": sum(f["geometry"] is not None for f in gaps),
        **{f"isochrones/pharmacy/{t} min": 1 for t in (5, 10, 15)},
        **windows,
    }
    assert len(iso) == 3
    assert sorted(page.evaluate("Object.keys(window.serviceCircle.layers)")) == sorted(expected)
    screenshot(page, "api-map.png")
    check_layers(page, expected)
    assert "OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    assert "pharmacy" in page.inner_text("#sc-legend").lower()
    page.close()


# ---------------------------------------------------------------------- untrusted text
# every tooltip and popup of every layer, opened in turn: their text as the reader sees it
OPEN_ALL = """() => {
  const texts = [];
  for (const layer of Object.values(window.serviceCircle.layers)) {
    window.serviceCircle.map.addLayer(layer);
    const parts = layer.getLayers ? layer.getLayers() : [layer];
    for (const p of parts) {
      if (p.getTooltip && p.getTooltip()) {
        p.openTooltip();
        texts.push(p.getTooltip().getElement().textContent);
      }
      if (p.getPopup && p.getPopup()) {
        p.openPopup();
        texts.push(p.getPopup().getElement().textContent);
        p.closePopup();
      }
    }
  }
  return texts;
}"""
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
                          e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def _no_script_ran(page, dialogs) -> None:
    assert page.evaluate("window.__pwned") is None, "an injected script ran"
    assert dialogs == []


def open_watched(browser, url: str, allowed: str | None = None):
    """A page opened offline that records dialogs and CSP violations too."""
    page, blocked, errors = _offline_page(browser, allowed, init_script=WATCH)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = page.goto(url)
    return page, response, dialogs, blocked, errors


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sample_cache):
    from hostile import hostile_areas, hostile_study

    folder = tmp_path_factory.mktemp("hostile")
    study = hostile_study(sample_cache, folder)
    areas = folder / "areas.geojson"
    hostile_areas(study).to_file(areas)
    return folder, study, areas


def test_hostile_names_stay_text_in_the_cli_map_and_report(browser, hostile, tmp_path):
    from hostile import AREA_NAME, CATEGORY_NAME_ZH, PAYLOADS, STUDY_NAME, TEMPLATES

    from service_circle.cli import main

    folder, _, areas = hostile
    study = folder / "studies" / STUDY_NAME
    page_path = tmp_path / "map.html"
    assert main(["map", "--study", str(study), "--neighbourhoods", str(areas), "--tiles", "none",
                 "--lang", "zh", "--out", str(page_path)]) == 0  # fmt: skip
    page, _, dialogs, blocked, errors = open_watched(browser, page_path.as_uri())
    page.wait_for_function("window.serviceCircle !== undefined")
    assert errors == [] and blocked == []
    texts = " ".join(page.evaluate(OPEN_ALL))
    screenshot(page, "hostile-map.png")
    for payload in (*PAYLOADS, *TEMPLATES, CATEGORY_NAME_ZH, AREA_NAME):  # as written, as text
        assert payload in texts, payload
    assert "SC_PWNED" not in os.environ, "a name ran as a Jinja2 template"
    assert CATEGORY_NAME_ZH in page.inner_text("#sc-legend")
    assert CATEGORY_NAME_ZH in page.inner_text(".sc-layers")
    assert page.title() == f"一刻钟便民生活圈 — {STUDY_NAME}"
    assert PAYLOADS[1] in page.inner_text(".leaflet-control-attribution")
    _no_script_ran(page, dialogs)
    page.close()
    out = tmp_path / "analysis"
    assert main(["analyze", "--study", str(study), "--category", "pharmacy", "--minutes", "8",
                 "--lang", "zh", "--out", str(out)]) == 0  # fmt: skip
    for name in ("report.html", "map.html"):
        page, _, dialogs, blocked, errors = open_watched(browser, (out / name).as_uri())
        page.wait_for_load_state("load")
        assert errors == [] and blocked == []  # offline first: no tile asked for
        assert STUDY_NAME in page.title()
        if name == "report.html":  # the units missing services, hostile names as text
            lacking = page.inner_text("#lacking")
            assert PAYLOADS[0] in lacking and PAYLOADS[2] in lacking
        else:  # the units layer: names written on the map, the row in a popup
            page.wait_for_function("window.serviceCircle !== undefined")
            labels = page.eval_on_selector_all(
                ".sc-unit-label", "els => els.map(e => e.textContent)"
            )
            assert AREA_NAME in labels and PAYLOADS[0] in labels
            texts = " ".join(page.evaluate(OPEN_ALL))
            assert PAYLOADS[2] in texts and AREA_NAME in texts  # township, name in popups
        _no_script_ran(page, dialogs)
        page.close()


@pytest.fixture(scope="module")
def live_studies(tmp_path_factory, hostile):
    """A server over a folder with the hostile study, a damaged one and crash leftovers."""
    import shutil

    from conftest import running_server
    from hostile import STUDY_NAME

    folder, _, _ = hostile
    studies = folder / "studies"
    broken = studies / "broken"
    if not broken.exists():
        shutil.copytree(studies / STUDY_NAME, broken)
        data = (broken / "network.npz").read_bytes()
        (broken / "network.npz").write_bytes(data[: len(data) // 3])  # a truncated copy
        shutil.copytree(studies / STUDY_NAME, studies / ".broken.staging-1-abcd")
    with running_server(tmp_path_factory.mktemp("server"),
                        {"SC_STUDIES_DIR": str(studies)}) as url:  # fmt: skip
        yield url


def test_api_pages_keep_hostile_names_as_text_under_their_csp(browser, live_studies):
    from urllib.parse import quote

    from hostile import CATEGORY_NAME_ZH, PAYLOADS, STUDY_NAME, TEMPLATES

    base = f"{live_studies}/studies/{quote(STUDY_NAME, safe='')}"
    page, response, dialogs, blocked, errors = open_watched(
        browser, f"{base}/map?tiles=none&category=pharmacy&lang=zh", live_studies
    )
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy.split(";")[1]
    page.wait_for_function("window.serviceCircle !== undefined")
    texts = " ".join(page.evaluate(OPEN_ALL))
    for payload in (*PAYLOADS, CATEGORY_NAME_ZH):
        assert payload in texts, payload
    assert page.title().endswith(STUDY_NAME)  # {{ 6*7 }} as written, not 42
    assert PAYLOADS[1] in page.inner_text(".leaflet-control-attribution")
    assert TEMPLATES[2] in page.inner_text(".leaflet-control-attribution")
    assert page.evaluate("window.__csp") == []  # the map's own scripts run under the policy
    assert errors == [] and blocked == []
    _no_script_ran(page, dialogs)
    page.close()
    page, *_ = open_watched(  # the stores named in Jinja2 and template-literal syntax
        browser, f"{base}/map?category=convenience_store&lang=zh", live_studies
    )
    page.wait_for_function("window.serviceCircle !== undefined")
    texts = " ".join(page.evaluate(OPEN_ALL))
    assert all(t in texts for t in TEMPLATES), texts
    assert "49便利店" not in texts and "evaluated超市" not in texts
    page.close()
    page, response, dialogs, blocked, errors = open_watched(
        browser, f"{base}/report?lang=zh", live_studies
    )
    assert response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers
    assert STUDY_NAME in page.title() and CATEGORY_NAME_ZH in page.inner_text("body")
    assert PAYLOADS[1] in page.inner_text("body")  # the attribution, as text
    assert errors == [] and blocked == [] and page.evaluate("window.__csp") == []
    _no_script_ran(page, dialogs)
    page.close()


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info .title"),
                                             ("/redoc", "h1")])  # fmt: skip
def test_docs_work_without_internet(browser, live, path, ready):
    page, response, _, blocked, errors = open_watched(browser, f"{live}{path}", live)
    assert "content-security-policy" in response.headers
    page.wait_for_selector(ready, timeout=30_000)
    assert "service-circle" in page.inner_text(ready)
    screenshot(page, f"docs{path.replace('/', '-')}.png")
    assert blocked == [], blocked[:3]  # no CDN, no fonts, no validator badge
    # ReDoc's bundle pointed its "powered by" badge at its CDN: served without the link
    assert errors == [] and page.evaluate("window.__csp") == []
    assert "cdn.redoc.ly" not in page.content()
    page.close()


def test_the_map_tells_the_story_at_first_sight(browser, demo_out):
    """The worst gap shown at first, a grouped control, metric scale, legend with numbers."""
    import re

    page, _, errors = open_offline(browser, (demo_out / "map.html").as_uri())
    coverage = json.loads((demo_out / "coverage.json").read_text())
    from service_circle.catalogue import load_catalogue

    catalogue = load_catalogue()
    shown_gap = {}
    for row in coverage:
        own = catalogue[row["category"]].minutes
        minutes = own if own in (5, 10, 15) else 15
        if row["unit"] == "min" and row["threshold"] == minutes:
            shown_gap[row["category"]] = 1 - row["group_share"]
    worst = max(shown_gap, key=shown_gap.get)
    visible = page.evaluate("""() => Object.entries(window.serviceCircle.layers)
        .filter(([k, l]) => k.startsWith('gaps/') && window.serviceCircle.map.hasLayer(l))
        .map(([k]) => k)""")
    assert visible == [f"gaps/{worst}"]  # the largest uncovered share, and only it
    groups = page.locator("details.sc-group")
    assert groups.count() == len({k.split("/")[1] for k in page.evaluate(
        "Object.keys(window.serviceCircle.layers)")})  # fmt: skip
    assert page.locator(".leaflet-control-scale-line").count() == 1  # metric only
    assert re.search(r"\d[\d,]*–\d[\d,]*", page.inner_text("#sc-legend"))  # gap classes
    attribution = page.locator(".leaflet-control-attribution")
    box = attribution.bounding_box()
    assert "OpenStreetMap" in attribution.inner_text()
    assert (
        box
        and box["x"] >= 0
        and box["x"] + box["width"] <= 1280
        and box["y"] + box["height"] <= 800
    )
    legend = page.locator("#sc-legend").bounding_box()
    assert legend["x"] + legend["width"] <= box["x"] or legend["y"] + legend["height"] <= box["y"]
    assert errors == []
    page.close()
