"""Shared fixtures: the real networks are loaded once per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
#: Debian's chromium, which the browser tests drive (Playwright downloads no browser here).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHARED_DATA = ROOT.parent / "shared" / "data"

BEIJING = "cn_beijing_haidian_cau_map"
GUIXI = "cn_jiangxi_guixi_mapofgx"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test when that folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the real test data of ../shared/data is not here")
    return path


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    from service_circle.sample import sample_pbf

    return sample_pbf()


@pytest.fixture(scope="session")
def helsinki_net(helsinki_pbf):
    from service_circle.network import load_network

    return load_network(helsinki_pbf)


@pytest.fixture(scope="session")
def beijing_net():
    from service_circle.network import load_network

    return load_network(shared_file(f"{BEIJING}.osm.pbf"))


@pytest.fixture(scope="session")
def guixi_net():
    from service_circle.network import load_network

    return load_network(shared_file(f"{GUIXI}.osm.pbf"))


@pytest.fixture(scope="session")
def sample():
    from service_circle.sample import load_sample

    return load_sample()


@pytest.fixture
def offline_overpass(monkeypatch):
    """Serve osmnx's Overpass and Nominatim requests from the Beijing XML file."""
    import osmnx as ox
    from osmnx import _nominatim, _osm_xml, _overpass

    data = _osm_xml._overpass_json_from_xml(shared_file(f"{BEIJING}.osm"), "utf-8")
    calls = []

    def fake_overpass(query):
        calls.append(query["data"])
        return data

    def fake_nominatim(query, by_osmid=False, limit=1, polygon_geojson=True):
        box = shapely.box(116.335, 40.0, 116.36, 40.015)
        return [
            {
                "importance": 1.0,
                "geojson": shapely.geometry.mapping(box),
                "boundingbox": ["40.0", "40.015", "116.335", "116.36"],
                "lat": "40.007",
                "lon": "116.347",
                "display_name": str(query),
                "osm_type": "relation",
                "osm_id": 1,
            }
        ]

    monkeypatch.setattr(_overpass, "_overpass_request", fake_overpass)
    monkeypatch.setattr(_nominatim, "_download_nominatim_element", fake_nominatim)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    return calls


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory) -> Path:
    """A cache folder for the sample study, shared by the API tests."""
    return tmp_path_factory.mktemp("sample-cache")


SERVE = "import sys; from service_circle.cli import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(log_dir: Path, env: dict[str, str] | None = None, args: tuple = ()):
    """`service-circle serve` on a free loopback port; yields its base URL."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    if "SC_STUDIES_DIR" not in (env or {}):
        full_env.pop("SC_STUDIES_DIR", None)
    log_path = log_dir / f"server-{port}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), *args],
        env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.close()
                pytest.fail(f"the server exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start within 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def live(sample_cache, tmp_path_factory):
    """Base URL of `service-circle serve` (the sample) on a free loopback port."""
    with running_server(
        tmp_path_factory.mktemp("server"), {"SC_CACHE_DIR": str(sample_cache)}
    ) as url:
        yield url


@pytest.fixture(scope="module")
def client(sample_cache):
    """The app over the sample, in process (a fresh one per test module)."""
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    with TestClient(create_app(Settings(cache_dir=sample_cache))) as c:
        yield c


@pytest.fixture(scope="module")
def study_id(client) -> str:
    """The sample study's id."""
    return client.get("/studies").json()[0]["id"]


@pytest.fixture(scope="module")
def browser():
    """Headless chromium for the page tests (skipped where it is not installed)."""
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
