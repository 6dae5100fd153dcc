"""The HTTP API: each router through FastAPI's test client, on the bundled sample study."""

from __future__ import annotations

import json
import re

import pytest
import shapely
import shapely.geometry
from fastapi.testclient import TestClient
from service_circle_api.main import create_app
from service_circle_api.settings import Settings

GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def bbox(client, study_id) -> list[float]:
    return client.get(f"/studies/{study_id}").json()["bbox"]


def _ring(west, south, east, north):
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


# ---------------------------------------------------------------------- meta, studies
def test_health_categories_profiles(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["studies"] == 1
    zh = client.get("/categories").json()
    en = client.get("/categories", params={"lang": "en"}).json()
    canteen = next(c for c in zh if c["key"] == "elderly_canteen")
    assert canteen["name"] == canteen["name_zh"] and "助餐" in canteen["name"]
    assert next(c for c in en if c["key"] == "elderly_canteen")["name"] == canteen["name_en"]
    assert client.get("/categories", params={"lang": "fr"}).status_code == 422
    profiles = {p["name"]: p for p in client.get("/profiles").json()}
    assert set(profiles) >= {"adult", "elderly", "wheelchair"}
    assert profiles["elderly"]["step_s"] == pytest.approx(2.8 / 3)
    assert profiles["wheelchair"]["avoids_steps"] and profiles["wheelchair"]["step_s"] is None
    assert profiles["elderly"]["crossing_wait_s"]["signal"] == pytest.approx(70**2 / 240)


def test_studies_and_unknown_study(client, study_id):
    listed = client.get("/studies").json()
    assert [s["id"] for s in listed] == [study_id]
    detail = client.get(f"/studies/{study_id}").json()
    west, south, east, north = detail["bbox"]
    assert 24 < west < east < 26 and 60 < south < north < 61  # Helsinki, lon/lat
    assert detail["crs"].startswith("EPSG:326")
    assert "OpenStreetMap" in detail["attribution"]
    assert detail["facilities"] == sum(detail["facilities_by_category"].values())
    assert sum(detail["demand_status"].values()) == detail["demand_points"]
    response = client.get("/studies/nowhere/coverage")
    assert response.status_code == 404 and "nowhere" in response.json()["detail"]


# ---------------------------------------------------------------------- coverage
def test_coverage_table(client, study_id):
    rows = client.get(f"/studies/{study_id}/coverage",
                      params={"category": "pharmacy", "minutes": "5,10,15"}).json()  # fmt: skip
    assert [r["threshold"] for r in rows] == [5, 10, 15]
    assert all(r["unit"] == "min" and r["profile"] == "adult" for r in rows)
    shares = [r["share"] for r in rows]
    assert shares == sorted(shares) and 0 <= shares[0] <= shares[-1] <= 1
    everything = client.get(f"/studies/{study_id}/coverage", params={"metres": "500"}).json()
    assert len({r["category"] for r in everything}) > 1 and {r["unit"] for r in everything} == {"m"}


def test_minutes_and_metres_together(client, study_id):
    params = {"category": "pharmacy", "minutes": "5", "metres": "400"}
    rows = client.get(f"/studies/{study_id}/coverage", params=params).json()
    assert [(r["threshold"], r["unit"]) for r in rows] == [(5, "min"), (400, "m")]
    for row in rows:  # every resident is counted: covered plus the reasons it is not
        reasons = ("beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry")
        assert row["covered"] + sum(row[r] for r in reasons) == pytest.approx(row["population"])


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"category": "canteen"}, 404, "canteen"),
        ({"category": "pharmacy", "minutes": "0"}, 422, "minutes"),
        ({"category": "pharmacy", "minutes": "500"}, 422, "minutes"),
        ({"category": "pharmacy", "minutes": "5", "metres": "0"}, 422, "metres"),
        ({"category": "pharmacy", "profile": "runner"}, 422, "runner"),
        ({"category": "pharmacy", "minutes": "abc"}, 422, "minutes"),
    ],
)
def test_bad_parameters_name_the_field(client, study_id, params, status, words):
    for route in ("coverage", "gaps", "isochrones"):
        response = client.get(f"/studies/{study_id}/{route}", params=params)
        assert response.status_code == status, (route, response.text)
        assert words in json.dumps(response.json())


def test_gaps_are_geojson_and_add_up(client, study_id):
    params = {"category": "pharmacy", "minutes": "5"}
    response = client.get(f"/studies/{study_id}/gaps", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    body = response.json()
    assert body["type"] == "FeatureCollection" and "crs" not in body
    assert "OpenStreetMap" in body["attribution"]
    props = [f["properties"] for f in body["features"]]
    assert props and {"category", "threshold", "unit", "profile", "population",
                      "group_population"} <= set(props[0])  # fmt: skip
    pops = [p["population"] for p in props]
    assert pops == sorted(pops, reverse=True)
    row = client.get(f"/studies/{study_id}/coverage", params=params).json()[0]
    assert row["covered"] + sum(pops) == pytest.approx(row["population"])
    big = client.get(f"/studies/{study_id}/gaps", params={**params, "min_population": 50}).json()
    assert all(f["properties"]["population"] >= 50 for f in big["features"])
    assert len(big["features"]) <= len(body["features"])
    # cached: the same bytes again
    assert client.get(f"/studies/{study_id}/gaps", params=params).content == response.content


def test_isochrones(client, study_id, bbox):
    response = client.get(f"/studies/{study_id}/isochrones",
                          params={"category": "convenience_store", "minutes": "5,10"})  # fmt: skip
    assert response.headers["content-type"].startswith(GEOJSON)
    features = response.json()["features"]
    assert [f["properties"]["threshold"] for f in features] == [5, 10]
    areas = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert all(a.geom_type == "MultiPolygon" and a.is_valid for a in areas)
    assert areas[0].area < areas[1].area
    west, _, east, _ = areas[1].bounds
    assert bbox[0] - 0.05 < west and east < bbox[2] + 0.05  # lon/lat order, near the study


# ---------------------------------------------------------------------- neighbourhood, reach
def test_neighbourhood_whole_study_and_gcj02(client, study_id, bbox):
    west, south, east, north = bbox
    polygon = {"type": "Polygon", "coordinates": [_ring(west - 0.01, south - 0.01,
                                                        east + 0.01, north + 0.01)]}  # fmt: skip
    body = {"geometry": polygon, "minutes": [10], "categories": ["pharmacy"]}
    whole = client.post(f"/studies/{study_id}/neighbourhood", json=body).json()
    detail = client.get(f"/studies/{study_id}").json()
    assert whole["homes"] == detail["demand_points"]
    assert whole["population"] == pytest.approx(detail["population"])
    assert whole["coverage"][0]["category"] == "pharmacy"
    assert 0 <= whole["completeness"]["score"] <= 1
    feature = {"type": "Feature", "properties": {}, "geometry": polygon}
    again = client.post(f"/studies/{study_id}/neighbourhood",
                        json={**body, "geometry": feature, "crs": "gcj02"}).json()  # fmt: skip
    assert again["homes"] >= 0  # Helsinki is outside China: GCJ-02 leaves it unshifted
    assert again["homes"] == whole["homes"]


@pytest.mark.parametrize(
    ("geometry", "words"),
    [
        ({"type": "Point", "coordinates": [24.9, 60.1]}, "Polygon"),
        ({"type": "Polygon", "coordinates": [_ring(24.9, 60.1, 25.0, 60.2)[:2]]}, "geometry"),
    ],
)
def test_neighbourhood_rejects_bad_geometry(client, study_id, geometry, words):
    response = client.post(f"/studies/{study_id}/neighbourhood", json={"geometry": geometry})
    assert response.status_code == 422 and words in response.text


def test_neighbourhood_repairs_a_bow_tie_and_says_so(client, study_id, bbox):
    west, south, east, north = bbox
    bow_tie = [[west, south], [east, north], [east, south], [west, north], [west, south]]
    url = f"/studies/{study_id}/neighbourhood"
    response = client.post(url, json={"geometry": {"type": "Polygon", "coordinates": [bow_tie]}})
    assert response.status_code == 200
    body = response.json()
    assert "not valid" in body["note"] and "Self-intersection" in body["note"]
    assert body["homes"] > 0
    flat = [[west, south]] * 4  # no area at all: nobody inside, said so
    response = client.post(url, json={"geometry": {"type": "Polygon", "coordinates": [flat]}})
    assert response.status_code == 200 and response.json()["homes"] == 0
    assert "no area" in response.json()["note"]


def test_reach_from_a_point(client, study_id, bbox):
    west, south, east, north = bbox
    lon, lat = (west + east) / 2, (south + north) / 2
    response = client.post(f"/studies/{study_id}/reach",
                           json={"lon": lon, "lat": lat, "minutes": 10})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(GEOJSON)
    features = response.json()["features"]
    area = shapely.geometry.shape(features[0]["geometry"])
    assert features[0]["properties"]["kind"] == "reach_area"
    assert area.contains(shapely.Point(lon, lat)) or area.distance(shapely.Point(lon, lat)) < 1e-3
    facilities = [f for f in features[1:]]
    times = [f["properties"]["time_s"] for f in facilities]
    assert times == sorted(times) and all(t <= 600 for t in times)
    assert all(f["properties"]["kind"] == "facility" for f in facilities)
    far = client.post(f"/studies/{study_id}/reach", json={"lon": 24.0, "lat": 60.0})
    assert far.status_code == 422 and "lon/lat" in far.json()["detail"]
    assert "helsinki-sample" in far.json()["detail"]
    both = client.post(f"/studies/{study_id}/reach",
                       json={"lon": lon, "lat": lat, "minutes": 5, "metres": 300})  # fmt: skip
    assert both.status_code == 422


# ---------------------------------------------------------------------- siting
def test_siting(client, study_id):
    body = {"category": "pharmacy", "p": 2, "minutes": 5}
    response = client.post(f"/studies/{study_id}/siting", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(GEOJSON)
    payload = response.json()
    summary = payload["summary"]
    assert summary["model"] == "mclp" and summary["status"] == "optimal"
    assert summary["share_after"] >= summary["share_before"]
    ranks = [f["properties"]["rank"] for f in payload["features"]]
    assert ranks == [1, 2]
    # the user's own candidates, in GCJ-02 (no shift outside China)
    spots = [f["geometry"]["coordinates"] for f in payload["features"]]
    candidates = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": f"lot-{i}"},
         "geometry": {"type": "Point", "coordinates": xy}}
        for i, xy in enumerate(spots)]}  # fmt: skip
    mine = client.post(f"/studies/{study_id}/siting",
                       json={**body, "p": 1, "candidates": candidates,
                             "candidates_crs": "gcj02"}).json()  # fmt: skip
    assert mine["features"][0]["properties"]["id"] == "lot-0"
    pm = client.post(f"/studies/{study_id}/siting", json={**body, "objective": "pmedian"})
    assert pm.status_code == 200 and pm.json()["summary"]["model"] == "pmedian"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"category": "pharmacy"}, 422, "p"),
        ({"category": "pharmacy", "p": 2, "target_share": 0.5}, 422, "target_share"),
        ({"category": "canteen", "p": 1}, 404, "canteen"),
        ({"category": "pharmacy", "p": 500, "minutes": 5}, 422, "candidates"),
        ({"category": "pharmacy", "target_share": 1.0, "minutes": 1}, 422, "coverage is"),
        ({"category": "pharmacy", "p": 1, "candidates": {"type": "FeatureCollection",
                                                         "features": []}}, 422, "features"),
        ({"category": "pharmacy", "p": 1, "candidates": {"type": "Feature"}}, 422,
         "FeatureCollection"),
        ({"category": "pharmacy", "p": 1, "candidates": {"type": "FeatureCollection",
          "features": [{"type": "Feature", "properties": {},
                        "geometry": {"type": "LineString",
                                     "coordinates": [[24.9, 60.1], [24.95, 60.1]]}}]}},
         422, "Point"),
    ],
)  # fmt: skip
def test_siting_errors(client, study_id, body, status, words):
    response = client.post(f"/studies/{study_id}/siting", json=body)
    assert response.status_code == status, response.text
    assert words in response.text


# ---------------------------------------------------------------------- report, map, limits
def test_report_json_and_html(client, study_id):
    report = client.get(f"/studies/{study_id}/report").json()
    assert report["indicators"] and report["coverage"]
    assert any(i["status"] == "not computable" for i in report["indicators"])
    page = client.get(f"/studies/{study_id}/report", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "OpenStreetMap" in page.text


def test_map_html(client, study_id):
    page = client.get(f"/studies/{study_id}/map", params={"category": "pharmacy"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "L.map(" in page.text and "OpenStreetMap" in page.text
    assert "bootstrap" not in page.text  # assets the map does not use are dropped
    # offline by default: Leaflet embedded, nothing linked from a CDN; Helsinki speaks English
    assert not re.search(r'<(script|link)[^>]+(src|href)="http', page.text)
    assert "15-minute living circle" in page.text
    zh = client.get(f"/studies/{study_id}/map", params={"category": "pharmacy", "lang": "zh"})
    assert "一刻钟便民生活圈" in zh.text
    offline = client.get(f"/studies/{study_id}/map",
                         params={"self_contained": True, "tiles": "none"})  # fmt: skip
    assert not re.search(r'<(script|link)[^>]+(src|href)="http', offline.text)
    assert "window.serviceCircle" in offline.text
    assert client.get(f"/studies/{study_id}/map", params={"category": "x"}).status_code == 404


def test_body_limit(sample_cache):
    app = create_app(Settings(cache_dir=sample_cache, max_body_bytes=2000))
    with TestClient(app) as small:
        study_id = small.get("/studies").json()[0]["id"]
        ring = [[24.9 + i * 1e-5, 60.1] for i in range(200)] + [[24.9, 60.1]]
        polygon = {"type": "Polygon", "coordinates": [ring]}
        response = small.post(f"/studies/{study_id}/neighbourhood", json={"geometry": polygon})
        assert response.status_code == 413 and "SC_MAX_BODY_BYTES" in response.text

        def chunks():  # no Content-Length: counted as it streams
            yield b'{"geometry": '
            yield b" " * 5000

        streamed = small.post(f"/studies/{study_id}/neighbourhood", content=chunks(),
                              headers={"content-type": "application/json"})  # fmt: skip
        assert streamed.status_code == 413


def test_studies_dir_setting(tmp_path, sample_cache, monkeypatch):
    from service_circle.sample import sample_study

    sample_study(sample_cache).save(tmp_path / "studies" / "district-a")
    (tmp_path / "studies" / "notes").mkdir()  # not a study: skipped
    monkeypatch.setenv("SC_STUDIES_DIR", str(tmp_path / "studies"))
    with TestClient(create_app()) as c:
        assert [s["id"] for s in c.get("/studies").json()] == ["district-a"]
    monkeypatch.setenv("SC_STUDIES_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no study folder"), TestClient(create_app()):
        pass


def test_geojson_numbers_are_finite(client, study_id):
    """NaN never reaches the wire: gaps no facility can reach say null."""
    body = client.get(f"/studies/{study_id}/gaps",
                      params={"category": "nursing_home", "minutes": "5"}).text  # fmt: skip
    assert "NaN" not in body and "Infinity" not in body
    nearest = [f["properties"]["nearest_time_s"] for f in json.loads(body)["features"]]
    assert nearest and all(t is None or t > 300 for t in nearest)
