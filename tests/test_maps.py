"""The folium map of a study: layers, languages, offline pages, the CLI."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely

from service_circle import InputError
from service_circle.cost import Threshold
from service_circle.maps import render, study_map


@pytest.fixture(scope="module")
def study(sample_cache):
    from service_circle.sample import sample_study

    return sample_study(sample_cache)


EXTERNAL = re.compile(r'<(script|link)[^>]+(src|href)="https?://')


def test_self_contained_page_needs_no_internet(study):
    page = render(study_map(study, categories=["pharmacy"], tiles="none", self_contained=True))
    assert not EXTERNAL.search(page)
    assert "L.map(" in page and "MarkerClusterGroup = L.FeatureGroup.extend" not in page
    assert "© OpenStreetMap contributors" in page
    assert "data:image/png;base64" in page  # the layer control's icon, embedded
    for unused in ("bootstrap", "font-awesome", "fontawesome", "awesome-markers"):
        assert unused not in page.lower()


def test_linked_page_keeps_only_what_it_uses(study):
    page = render(study_map(study, categories=["pharmacy"], tiles="osm"))
    links = re.findall(r'(?:src|href)="(https?://[^"]+\.(?:js|css))"', page)
    assert links and all("leaflet" in u or "jquery" in u for u in links)
    assert "tile.openstreetmap.org" in page


def test_offline_first_tiles_only_when_asked(study):
    page = render(study_map(study, categories=["pharmacy"], self_contained=True))
    assert "tile.openstreetmap.org" not in page and not EXTERNAL.search(page)


def test_layers_languages_sites_and_neighbourhoods(study):
    pharmacies = study.facilities[study.facilities["category"] == "pharmacy"]
    sites = gpd.GeoDataFrame(
        {"rank": [1, 2], "marginal_population": [120.0, 40.0], "category": "pharmacy"},
        geometry=pharmacies.geometry.iloc[:2].to_numpy(), crs="EPSG:4326",
    )  # fmt: skip
    box = shapely.box(*study.demand.total_bounds)
    area = gpd.GeoDataFrame({"name": ["社区A"]}, geometry=[box], crs=4326)
    zh = render(study_map(study, categories=["pharmacy"], sites=sites, neighbourhoods=area))
    en = render(study_map(study, categories=["pharmacy"], lang="en",
                          thresholds=[Threshold.metres(400), Threshold.metres(800)]))  # fmt: skip
    assert "一刻钟便民生活圈" in zh and "药店" in zh
    assert '"label": "社区A"' in zh  # the boundary's name, written on the map
    assert '"sites"' in zh and "sc-site" in zh and "新增覆盖人口" in zh
    assert "15-minute living circle" in en and "400 m" in en and "walkable area" in en
    assert '"isochrones/pharmacy/400 m"' in en and '"gaps/pharmacy"' in en


def test_bad_options_are_clear(study):
    with pytest.raises(InputError, match="lang"):
        study_map(study, lang="fr")
    with pytest.raises(InputError, match="tiles"):
        study_map(study, tiles="satellite")
    with pytest.raises(LookupError, match="canteen"):
        study_map(study, categories=["canteen"])


def test_cli_map(tmp_path, study, capsys):
    from service_circle.cli import main

    folder = study.save(tmp_path / "study")
    out = tmp_path / "map.html"
    assert main(["map", "--study", str(folder), "--category", "pharmacy", "--lang", "en",
                 "--tiles", "none", "--out", str(out)]) == 0  # fmt: skip
    assert not EXTERNAL.search(out.read_text())
    assert main(["map", "--study", str(folder), "--cdn", "--out", str(out)]) == 0
    assert EXTERNAL.search(out.read_text())
    capsys.readouterr()
    assert main(["map", "--study", str(folder), "--lang", "fr", "--out", str(out)]) == 2
    assert "lang" in capsys.readouterr().err
