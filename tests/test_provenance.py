"""A study carries the attribution of the data it was built from (and no other)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd

from service_circle.cli import main
from service_circle.provenance import OSM
from service_circle.synthetic import grid_network, random_points


def test_a_study_of_an_offices_own_files_does_not_claim_osm(tmp_path):
    net = grid_network(25, seed=4)
    lines = gpd.GeoDataFrame(geometry=net.edge_geometries(), crs=net.crs).to_crs(4326)
    lines.to_file(tmp_path / "规划道路中心线.geojson")
    fac = random_points(net, 6, seed=1).to_crs(4326)
    pd.DataFrame({"id": fac["id"], "name": "药店", "category": "pharmacy",
                  "lon": fac.geometry.x, "lat": fac.geometry.y}).to_csv(
        tmp_path / "药店.csv", index=False)  # fmt: skip
    homes = random_points(net, 40, seed=2).to_crs(4326).assign(population=50)
    homes.to_file(tmp_path / "人口.geojson")
    study = tmp_path / "study"
    assert main(["build", "--network", str(tmp_path / "规划道路中心线.geojson"),
                 "--facilities", str(tmp_path / "药店.csv"), "--demand",
                 str(tmp_path / "人口.geojson"), "--out", str(study)]) == 0  # fmt: skip
    meta = json.loads((study / "study.json").read_text())
    names = {s["role"]: s["attribution"] for s in meta["sources"]}
    assert names == {"network": "规划道路中心线.geojson", "facilities": "药店.csv",
                     "demand": "人口.geojson"}  # fmt: skip
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study), "--minutes", "5", "--out", str(out)]) == 0
    for page in ("report.html", "map.html"):
        text = (out / page).read_text()
        assert "药店.csv" in text and "OpenStreetMap" not in text, page
    assert "OpenStreetMap" not in (out / "gaps.geojson").read_text()


def test_an_osm_study_carries_the_odbl_attribution(sample_cache):
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    from service_circle.maps import render, study_map
    from service_circle.sample import sample_study

    study = sample_study(sample_cache)
    assert study.attribution == OSM
    assert OSM in render(study_map(study, categories=["pharmacy"], tiles="none"))
    with TestClient(create_app(Settings(cache_dir=sample_cache))) as client:
        listed = client.get("/studies").json()[0]
        assert listed["attribution"] == OSM
        gaps = client.get(f"/studies/{listed['id']}/gaps", params={"category": "pharmacy"})
        assert gaps.json()["attribution"] == OSM
