"""Facilities from OSM files (real extracts) and from POI files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import BEIJING, shared_file

from service_circle import InputError
from service_circle._errors import UnknownCategoryError
from service_circle.cli import main
from service_circle.coords import wgs84_to_gcj02
from service_circle.facilities import (
    ColumnMap,
    facilities_from_file,
    facilities_from_osm,
)


def test_helsinki_pois_map_to_categories(helsinki_pbf):
    frame, _ = facilities_from_osm(helsinki_pbf)
    counts = frame["category"].value_counts()
    assert counts["pharmacy"] == 6
    assert counts["convenience_store"] == 9
    assert counts["health_station"] >= 7
    assert counts["supermarket"] >= 6 and counts["fresh_market"] >= 1  # apart (issue 16)
    assert counts["public_toilet"] >= 10 and counts["post_office"] >= 1  # new categories
    assert counts["childcare"] == 1  # social_facility:for=child
    assert (frame.geom_type == "Point").all()  # polygons became points inside them
    assert frame["id"].str.match(r"^(node|way|relation)/\d+$").all()


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm"])
def test_beijing_extract_yields_its_facilities(suffix):
    frame, report = facilities_from_osm(shared_file(f"{BEIJING}{suffix}"))
    counts = frame["category"].value_counts()
    # ../shared/data/README.md: 2 kindergartens (+1 named so), 2 pharmacies, 2 marketplaces,
    # 17 convenience stores
    assert counts["kindergarten"] >= 2
    assert counts["pharmacy"] == 2
    assert counts["fresh_market"] >= 2
    assert counts["convenience_store"] >= 17
    assert counts["sports"] >= 15
    assert "elderly_canteen" not in counts  # none mapped: tests add their own
    assert report.problems.empty


def test_pbf_and_xml_find_the_same_facilities():
    a, _ = facilities_from_osm(shared_file(f"{BEIJING}.osm.pbf"))
    b, _ = facilities_from_osm(shared_file(f"{BEIJING}.osm"))
    assert sorted(zip(a["id"], a["category"], strict=True)) == sorted(
        zip(b["id"], b["category"], strict=True)
    )


AMAP = """id,name,type,typecode,location,capacity
B0001,清华东路幼儿园,科教文化服务;学校;幼儿园,141204,"116.3568,40.0062",180
B0002,学院路全家便利店,购物服务;便利店,060200,"116.3501,40.0010",
B0003,北林大药房,医疗保健服务;医药保健销售店;药房,090601,"116.3452,40.0045",
B0004,某某公司,公司企业,170000,"116.3400,40.0020",
B0005,坏坐标,购物服务,060200,"not a place",
B0006,清华东路幼儿园分园,科教文化服务;学校;幼儿园,141204,"116.35681,40.00621",60
"""


def test_amap_export_in_gcj02(tmp_path):
    path = tmp_path / "amap.csv"
    path.write_text(AMAP, encoding="utf-8")
    frame, report = facilities_from_file(path, crs="gcj02")
    assert frame["category"].tolist() == [
        "kindergarten", "convenience_store", "pharmacy", "kindergarten"
    ]  # fmt: skip
    assert frame["id"].tolist() == ["B0001", "B0002", "B0003", "B0006"]
    assert frame["capacity"].tolist()[0] == 180 and np.isnan(frame["capacity"].tolist()[1])
    # GCJ-02 → WGS-84 moves the points back by a few hundred metres
    lon, lat = wgs84_to_gcj02(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    np.testing.assert_allclose(lon[0], 116.3568, atol=1e-7)
    np.testing.assert_allclose(lat[0], 40.0062, atol=1e-7)
    assert report.problems["row"].tolist() == [5, 6]
    assert "typecode 170000" in report.problems["reason"].iloc[0]
    assert "location" in report.problems["reason"].iloc[1]
    assert report.duplicates[["id_a", "id_b"]].values.tolist() == [["B0001", "B0006"]]


def test_bureau_spreadsheet_of_canteens(tmp_path):
    path = tmp_path / "canteens.xlsx"
    pd.DataFrame(
        {
            "设施名称": ["学院路街道老年餐桌", "东升镇助餐点", "清河长者食堂"],
            "经度": [116.35, 116.34, 116.36],
            "纬度": [40.00, 40.01, 40.02],
            "座位": [40, 25, "约30"],
        }
    ).to_excel(path, index=False)
    frame, report = facilities_from_file(
        path, columns=ColumnMap(lon="经度", lat="纬度"), category="elderly_canteen"
    )
    assert (frame["category"] == "elderly_canteen").all()
    assert frame["name"].tolist()[0] == "学院路街道老年餐桌"
    assert frame["capacity"].tolist()[:2] == [40, 25] and np.isnan(frame["capacity"].iloc[2])
    # the unreadable capacity is said, the canteen kept
    assert report.problems.values.tolist() == [
        [4, "kept without seats: 座位 '约30' is not a number ≥ 0"]
    ]
    # the same file without a fixed category: the names carry the keywords
    by_name, _ = facilities_from_file(path, columns=ColumnMap(lon="经度", lat="纬度"))
    assert (by_name["category"] == "elderly_canteen").all()


def test_category_column_and_unknown_categories(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "name,category,lon,lat\nA,kindergarten,116.35,40.0\nB,canteen,116.34,40.0\n",
        encoding="utf-8",
    )
    frame, report = facilities_from_file(path)
    assert frame["category"].tolist() == ["kindergarten"]
    assert report.problems.values.tolist() == [[3, "not used: unknown category 'canteen'"]]
    with pytest.raises(UnknownCategoryError):
        facilities_from_file(path, category="canteen")
    with pytest.raises(InputError, match="no column 'lng'"):
        facilities_from_file(path, columns=ColumnMap(name="lng"))


def test_facilities_command(tmp_path, capsys):
    path = tmp_path / "amap.csv"
    path.write_text(AMAP, encoding="utf-8")
    out = tmp_path / "facilities.geojson"
    assert main(["facilities", "--file", str(path), "--crs", "gcj02", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "amap.csv: a table: GCJ-02, converted to WGS-84 (stated)" in captured.err
    assert "line 5:" in captured.err and "likely duplicates" in captured.err
    assert "4 facilities" in captured.out
    import geopandas as gpd

    written = gpd.read_file(out)
    assert written["name"].iloc[0] == "清华东路幼儿园"
    assert main(["facilities", "--out", str(out)]) == 2
    assert main(["facilities", "--osm", str(path), "--file", str(path), "--out", str(out)]) == 2
    assert main(["facilities", "--file", str(path), "--category", "nope", "--out", str(out)]) == 2


def test_online_facilities_run_osmnx_for_real(offline_overpass):
    from service_circle.facilities import facilities_from_place

    frame, _ = facilities_from_place("Haidian, Beijing", categories=["convenience_store"])
    assert offline_overpass  # osmnx built and sent a real Overpass query
    assert (frame["category"] == "convenience_store").all()
    assert 5 <= len(frame) <= 18


def test_vector_poi_file_and_times_accepts_the_output(tmp_path, capsys):
    path = tmp_path / "amap.csv"
    path.write_text(AMAP, encoding="utf-8")
    facilities = tmp_path / "facilities.geojson"
    assert (
        main(["facilities", "--file", str(path), "--crs", "gcj02", "--out", str(facilities)]) == 0
    )
    frame, report = facilities_from_file(facilities)  # the written GeoJSON reads back
    assert len(frame) == 4 and report.problems.empty
    homes = tmp_path / "homes.csv"
    pd.DataFrame({"lon": [116.35, 116.352], "lat": [40.003, 40.004]}).to_csv(homes, index=False)
    out = tmp_path / "times.csv"
    network = shared_file(f"{BEIJING}.osm.pbf")
    rc = main(["times", "--network", str(network), "--facilities", str(facilities),
               "--points", str(homes), "--out", str(out)])  # fmt: skip
    assert rc == 0
    assert set(pd.read_csv(out)["facility_id"].dropna()) <= set(frame["id"])
