"""What a Chinese planning office hands over, read as it comes (issue 13).

GCJ-02 tables beside WGS-84 GeoJSON, Amap exports, spreadsheets saved by Excel in GBK,
census columns named in Chinese — and every resident accounted for in what comes out.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING, shared_file

from service_circle.cli import main
from service_circle.coords import wgs84_to_gcj02


@pytest.fixture(scope="module")
def haidian(tmp_path_factory):
    """The Haidian extract's facilities and homes, written by the tool (WGS-84 GeoJSON)."""
    folder = tmp_path_factory.mktemp("haidian")
    pbf = shared_file(f"{BEIJING}.osm.pbf")
    assert main(["facilities", "--osm", str(pbf), "--out", str(folder / "fac.geojson")]) == 0
    assert main(["demand", "--buildings", str(pbf), "--out", str(folder / "dem.geojson")]) == 0
    return pbf, folder


def _build(pbf, folder, name, *extra):
    out = folder / name
    args = ["build", "--network", str(pbf), "--facilities", str(folder / "fac.geojson"),
            "--demand", str(folder / "dem.geojson"), "--out", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return out


# ---------------------------------------------------------------------- coordinates
def test_a_geojson_is_wgs84_whatever_input_crs_says(haidian, capsys):
    from service_circle.study import Study

    pbf, folder = haidian
    plain = Study.load(_build(pbf, folder, "plain"))
    flagged = Study.load(_build(pbf, folder, "flagged", "--input-crs", "gcj02"))
    err = capsys.readouterr().err
    assert "dem.geojson: GeoJSON: WGS-84 (RFC 7946)" in err
    # the homes did not move (the defect moved them 547-550 m and changed coverage by 37 %)
    moved = shapely.distance(plain.demand.geometry.to_numpy(), flagged.demand.geometry.to_numpy())
    assert float(moved.max()) == 0.0


def test_a_table_takes_input_crs_and_a_file_its_own_override(haidian, tmp_path, capsys):
    from service_circle.study import Study

    pbf, folder = haidian
    fac = gpd.read_file(folder / "fac.geojson")
    lon, lat = wgs84_to_gcj02(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
    table = pd.DataFrame({"id": fac["id"], "name": fac["name"], "category": fac["category"],
                          "lon": lon, "lat": lat})  # fmt: skip
    table.to_csv(tmp_path / "fac.csv", index=False)
    for flag in ("--input-crs", "--facilities-crs"):
        out = tmp_path / f"study{flag}"
        args = ["build", "--network", str(pbf), "--facilities", str(tmp_path / "fac.csv"),
                "--demand", str(folder / "dem.geojson"), flag, "gcj02",
                "--out", str(out)]  # fmt: skip
        assert main(args) == 0
        err = capsys.readouterr().err
        assert "fac.csv: a table: GCJ-02, converted to WGS-84 (stated)" in err
        assert "dem.geojson: GeoJSON: WGS-84 (RFC 7946)" in err
        back = Study.load(out).facilities
        assert (
            float(shapely.distance(back.geometry.to_numpy(), fac.geometry.to_numpy()).max()) < 1e-7
        )


AMAP = (
    "id,name,type,typecode,location,pname,cityname,adname\n"
    'B0FFG1,北京市海淀区第一幼儿园,科教文化服务;学校;幼儿园,141204,"116.3521,40.0056",北京市,北京市,海淀区\n'
    'B0FFG2,好邻居便利店,购物服务;便利店,060200|090601,"116.3499,40.0089",北京市,北京市,海淀区\n'
    'B0FFG3,金象大药房,医疗保健服务;医药保健销售店;药房,090601,"40.0031,116.3487",北京市,北京市,海淀区\n'
    'B0FFG4,某汽车销售,汽车服务,050000,"116.3402,40.0101",北京市,北京市,海淀区\n'
)


def test_an_amap_export_without_its_system_is_refused_with_the_fix(tmp_path, capsys):
    path = tmp_path / "amap.csv"
    path.write_text(AMAP, encoding="utf-8")
    out = tmp_path / "amap.geojson"
    rc = main(["facilities", "--file", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "looks like an export" in err and "location, typecode" in err and "gcj02" in err
    assert not out.exists()
    assert main(["facilities", "--file", str(path), "--crs", "gcj02", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # the row with latitude and longitude swapped is named, and read swapped back
    assert "line 4: longitude and latitude swapped (lon 40.0031, lat 116.349" in err
    written = gpd.read_file(out)
    assert written.set_index("id").loc["B0FFG2", "category"] == "convenience_store"  # first code
    assert written.set_index("id").loc["B0FFG3", "category"] == "pharmacy"
    raw = json.loads(out.read_text())
    codes = {f["properties"]["id"]: f["properties"]["typecode"] for f in raw["features"]}
    assert codes["B0FFG1"] == "141204" and codes["B0FFG2"] == "060200|090601"  # text, not 60200


AMAP_ZH = (
    "名称,类型,经度,纬度,地址,电话\n"
    "好邻居便利店,购物服务;便民商店/便利店;便民商店/便利店,116.3499,40.0089,海淀区某路1号,010-1\n"
    "金象大药房,医疗保健服务;医药保健销售店;药房,116.3487,40.0031,海淀区某路2号,010-2\n"
)


def test_a_chinese_header_export_without_its_system_is_refused_too(tmp_path, capsys):
    """名称, 类型 (the platform's type text in levels), 经度, 纬度: GCJ-02, read as WGS-84
    without a word before; every reader of tables shares the rule."""
    from service_circle import CRSError
    from service_circle.readers import read_points_with_report

    path = tmp_path / "poi.csv"
    path.write_text(AMAP_ZH, encoding="gbk")
    rc = main(["facilities", "--file", str(path), "--out", str(tmp_path / "f.geojson")])
    err = capsys.readouterr().err
    assert rc == 2 and "looks like an export" in err and "类型" in err and "gcj02" in err
    for option in ("--facilities", "--demand", "--units", "--candidates"):  # one reader
        with pytest.raises(CRSError):
            read_points_with_report(path, what=f"{option} {path}")
    frame, report = read_points_with_report(path, crs="gcj02")
    assert "GCJ-02" in report.coordinates and len(frame) == 2
    # an office's own table with a 类型 column of kinds is not an export
    units = tmp_path / "units.csv"
    units.write_text("名称,类型,经度,纬度\n城东社区,城市社区,116.35,40.0\n", encoding="utf-8")
    _, report = read_points_with_report(units)
    assert report.coordinates.startswith("a table: WGS-84")


def test_times_reads_the_location_column(tmp_path):
    pbf = shared_file(f"{BEIJING}.osm.pbf")
    path = tmp_path / "amap.csv"
    path.write_text(AMAP, encoding="utf-8")
    homes = tmp_path / "homes.csv"
    pd.DataFrame({"id": ["h1", "h2"], "lon": [116.351, 116.346],
                  "lat": [40.006, 40.009]}).to_csv(homes, index=False)  # fmt: skip
    out = tmp_path / "times.csv"
    rc = main(["times", "--network", str(pbf), "--facilities", str(path), "--facilities-crs",
               "gcj02", "--points", str(homes), "--out", str(out)])  # fmt: skip
    assert rc == 0
    times = pd.read_csv(out)
    assert times["status"].tolist() == ["ok", "ok"]
    assert set(times["facility_id"]) <= {"B0FFG1", "B0FFG2", "B0FFG3", "B0FFG4"}


# ---------------------------------------------------------------------- every resident
def test_residents_the_network_cannot_bring_to_a_facility_are_counted(haidian, tmp_path):
    _, folder = haidian
    study = folder / "plain"
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study), "--out", str(out)]) == 0
    coverage = pd.read_json(out / "coverage.json")
    reasons = ["beyond_threshold", "unreachable", "off_network", "blocked", "no_geometry"]
    np.testing.assert_allclose(coverage["covered"] + coverage[reasons].sum(axis=1),
                               coverage["population"])  # fmt: skip
    assert (coverage["unreachable"] > 0).all()  # homes on pieces no facility reaches
    # the share is over every resident: the unreached count as not covered
    np.testing.assert_allclose(coverage["share"], coverage["covered"] / coverage["population"])
    times = pd.read_csv(out / "demand_times.csv")
    for key in coverage["category"].unique():
        status, time_s = times[f"status_{key}"], times[f"time_s_{key}"]
        assert not (time_s.isna() & (status == "ok")).any()  # an empty time is never "ok"
        assert (status == "unreachable").sum() > 0
    report = json.loads((out / "report.json").read_text())
    judged = pd.DataFrame(report["coverage"]).query("judged")
    assert (judged["unreachable"] > 0).all()  # the report counts them too, with the reason
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "路网不可达" in page


# ---------------------------------------------------------------------- Chinese conventions
def test_a_csv_saved_by_excel_in_china_is_read(tmp_path, capsys):
    path = tmp_path / "助餐点.csv"
    table = pd.DataFrame({"名称": ["学院路老年餐桌", "东升助餐点"], "经度": [116.35, 116.34],
                          "纬度": [40.00, 40.01], "类别": ["老年食堂", "老年食堂"],
                          "座位": ["40", "25"]})  # fmt: skip
    path.write_bytes(table.to_csv(index=False).encode("gbk"))
    out = tmp_path / "canteens.geojson"
    assert main(["facilities", "--file", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "encoding GB18030" in err and "lon from '经度'" in err
    written = gpd.read_file(out)
    assert written["name"].tolist() == ["学院路老年餐桌", "东升助餐点"]
    assert (written["category"] == "elderly_canteen").all()  # named in Chinese
    assert written["capacity"].tolist() == [40, 25]
    rc = main(["facilities", "--file", str(path), "--encoding", "utf-8", "--out", str(out)])
    assert rc == 2 and "--encoding" in capsys.readouterr().err
    rc = main(["facilities", "--file", str(path), "--all-rows-are", "老年食堂", "--out", str(out)])
    assert rc == 0


def test_census_columns_in_chinese_and_the_community_name_carry_to_the_homes(tmp_path, capsys):
    box = shapely.box(116.34, 40.0, 116.345, 40.004)
    communities = gpd.GeoDataFrame(
        {"社区名称": ["东升社区", "学院路社区"], "常住人口": [1200, 800],
         "60岁及以上": [300, 150]},
        geometry=[box, shapely.box(116.346, 40.0, 116.35, 40.004)], crs=4326,
    )  # fmt: skip
    path = tmp_path / "communities.geojson"
    communities.to_file(path)
    out = tmp_path / "demand.geojson"
    assert main(["demand", "--polygons", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "population from '常住人口'" in err and "pop_60plus from '60岁及以上'" in err
    assert "area_name from '社区名称'" in err
    assert "pop_0_3 = population × 0.03" in err and "national, 7th census" in err  # said
    points = gpd.read_file(out)
    by_area = points.groupby("area_name")[["population", "pop_60plus"]].sum()
    assert by_area.loc["东升社区", "population"] == pytest.approx(1200)
    assert by_area.loc["学院路社区", "pop_60plus"] == pytest.approx(150)


def test_candidate_polygons_are_sited_at_a_point_inside_them(haidian, tmp_path, capsys):
    _, folder = haidian
    study = folder / "plain"
    demand = gpd.read_file(folder / "dem.geojson")
    lots = gpd.GeoDataFrame(
        {"id": ["lot-1", "lot-2"]},
        geometry=[shapely.Point(p).buffer(0.0003) for p in
                  zip(demand.geometry.x[:2], demand.geometry.y[:2], strict=True)],
        crs=4326,
    )  # fmt: skip
    lots.to_file(tmp_path / "lots.geojson")
    out = tmp_path / "site"
    rc = main(["site", "--study", str(study), "--category", "kindergarten", "--p", "1",
               "--candidates", str(tmp_path / "lots.geojson"), "--out", str(out)])  # fmt: skip
    assert rc == 0
    assert "2 candidates of" in capsys.readouterr().err
    sites = gpd.read_file(out / "sites.geojson")
    assert (sites.geom_type == "Point").all()
    assert lots.set_index("id").loc[sites["id"].iloc[0]].geometry.contains(sites.geometry.iloc[0])


# ---------------------------------------------------------------------- outputs
def test_outputs_for_people_speak_the_study_language(haidian, tmp_path, sample_cache):
    from service_circle.sample import sample_study

    _, folder = haidian
    out = tmp_path / "zh"
    assert main(["analyze", "--study", str(folder / "plain"), "--category", "pharmacy",
                 "--out", str(out)]) == 0  # fmt: skip
    raw = (out / "report.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    report = pd.read_csv(out / "report.csv")
    assert list(report.columns)[:3] == ["指标代码", "指标", "现状值"]
    assert report["是否达标"].isin(["达标", "未达标", "无目标", "无法计算"]).all()
    assert '<html lang="zh">' in (out / "report.html").read_text()
    english = tmp_path / "en"
    helsinki = sample_study(sample_cache).save(tmp_path / "helsinki")
    assert main(["analyze", "--study", str(helsinki), "--category", "pharmacy",
                 "--out", str(english)]) == 0  # fmt: skip
    assert "indicator" in pd.read_csv(english / "report.csv").columns
    forced = tmp_path / "forced"
    assert main(["analyze", "--study", str(helsinki), "--category", "pharmacy", "--lang", "zh",
                 "--out", str(forced)]) == 0  # fmt: skip
    assert "覆盖率" in pd.read_csv(forced / "coverage.csv").columns
