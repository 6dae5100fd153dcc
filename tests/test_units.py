"""Planning units and the plan's indicators, against hand computations on real streets.

Four units are drawn over the Haidian extract (two urban communities, a village and one
whose kind is not known), in two townships, with official population, households and 60+
counts for some of them; a bureau's table adds the facilities OSM lacks there (a canteen,
a childcare centre, community service stations, an elderly service centre, a nursing
home) with the fields the plan counts (座位数, 托位数, 建筑面积, 床位数, 护理型床位数).
Every indicator is then checked against the same count done by hand.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING, shared_file

from service_circle._errors import InputError
from service_circle.coords import wgs84_to_gcj02
from service_circle.judging import judging_rule
from service_circle.plan import DEFINITIONS, applies, plan_indicators
from service_circle.targets import load_targets, targets_for
from service_circle.units import assign, check_units, fit_demand, read_units, units_from_frame

X0, X1, Y0, Y1 = 116.33, 116.37, 39.99, 40.02
XM, YM = (X0 + X1) / 2, (Y0 + Y1) / 2
BOXES = [shapely.box(X0, Y0, XM, YM), shapely.box(XM, Y0, X1, YM),
         shapely.box(X0, YM, XM, Y1), shapely.box(XM, YM, X1, Y1)]  # fmt: skip
UNITS = {
    "社区名称": ["东门社区", "西门社区", "王庄村", "试验区"],
    "行政区划代码": ["110108001", "110108002", "110108003", "110108004"],
    "类型": ["城市社区", "城市社区", "行政村", None],
    "常住人口": [5000, 3000, 800, None],
    "户数": [1900, None, 300, None],
    "60岁及以上": [900, None, 200, None],
    "街道": ["东升镇", "东升镇", "马连洼街道", "马连洼街道"],
}
BUREAU = pd.DataFrame(
    {
        "名称": ["东门社区老年食堂", "西门社区托育中心", "东门社区党群服务中心", "王庄村村委会",
                 "马连洼街道综合养老服务中心", "颐和敬老院"],
        "类别": ["elderly_canteen", "childcare", "community_service", "community_service",
                 "township_elderly_centre", "nursing_home"],
        "lon": [116.3402, 116.3600, 116.3420, 116.3380, 116.3550, 116.3450],
        "lat": [39.9985, 39.9980, 39.9960, 40.0100, 40.0120, 40.0150],
        "座位数": [40, None, None, None, None, None],
        "托位数": [None, 60, None, None, None, None],
        "建筑面积": [200, 300, 700, 150, 1200, 3000],
        "床位数": [None, None, None, None, 80, 200],
        "护理型床位数": [None, None, None, None, 50, 110],
    }
)  # fmt: skip


def units_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(UNITS, geometry=BOXES, crs="EPSG:4326")


@pytest.fixture(scope="module")
def haidian(tmp_path_factory):
    """The Haidian study with its units, from the files a planning office brings."""
    from service_circle import demand as dm
    from service_circle.facilities import facilities_from_file, facilities_from_osm
    from service_circle.network import load_network
    from service_circle.study import Study

    folder = tmp_path_factory.mktemp("haidian-units")
    pbf = shared_file(f"{BEIJING}.osm.pbf")
    bureau = folder / "bureau.csv"
    BUREAU.to_csv(bureau, index=False, encoding="gbk")  # as an office saves it
    osm, _ = facilities_from_osm(pbf)
    table, _ = facilities_from_file(bureau, table_crs="wgs84")
    fac = gpd.GeoDataFrame(pd.concat([osm, table], ignore_index=True), crs="EPSG:4326")
    homes = dm.demand_from_buildings(dm.buildings_from_osm(pbf))
    study = Study.build(load_network(pbf), fac, homes, name="haidian")
    units, _ = units_from_frame(units_frame())
    return study, study.with_units(units, source="units.geojson"), folder


@pytest.fixture(scope="module")
def result(haidian):
    _, study, _ = haidian
    rule = judging_rule(study.catalogue)
    return plan_indicators(study, rule, load_targets("haidong_2025")), study


def by_key(result):
    return {i.key: i for i in result.indicators}


# ---------------------------------------------------------------------- reading units
def test_units_are_read_by_their_chinese_names_and_in_gcj02(tmp_path):
    plain = tmp_path / "units.geojson"
    units_frame().to_file(plain)
    units, report = read_units(plain)
    assert report.columns == {"unit_name": "社区名称", "unit_code": "行政区划代码",
                              "unit_kind": "类型", "population": "常住人口", "households": "户数",
                              "pop_60plus": "60岁及以上", "township": "街道"}  # fmt: skip
    assert units["unit_kind"].tolist() == ["urban", "urban", "village", ""]
    assert units["population"].iloc[:3].tolist() == [5000, 3000, 800]
    assert np.isnan(units["population"].iloc[3]) and np.isnan(units["households"].iloc[1])
    assert any("试验区" in p and "no kind" in p for p in report.problems)
    # traced on Amap: the same boundaries in GCJ-02, stated with crs="gcj02"
    gcj = units_frame()
    gcj.geometry = shapely.transform(
        gcj.geometry.to_numpy(), lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))
    )
    shifted = tmp_path / "units_gcj.gpkg"
    gcj.to_file(shifted)
    back, _ = read_units(shifted, crs="gcj02")
    metric = "EPSG:32650"
    error = back.to_crs(metric).geometry.hausdorff_distance(units.to_crs(metric).geometry)
    assert error.max() < 0.5  # metres
    raw = gpd.read_file(shifted).to_crs(metric).geometry.hausdorff_distance(
        units.to_crs(metric).geometry)  # fmt: skip
    assert raw.min() > 100  # unconverted, GCJ-02 would be hundreds of metres off


def test_units_from_geoparquet_and_a_gbk_shapefile(tmp_path):
    frame = units_frame()
    frame.to_parquet(tmp_path / "units.parquet")
    # as a Chinese office's GIS saves it: GBK, field names of at most 10 bytes
    frame.rename(columns={"行政区划代码": "代码"}).to_file(tmp_path / "units.shp", encoding="gbk")
    for name in ("units.parquet", "units.shp"):
        units, report = read_units(tmp_path / name)
        assert units["unit_name"].tolist() == UNITS["社区名称"], name
        assert report.columns["population"] == "常住人口"
        assert units["population"].iloc[0] == 5000
    # without its .cpg (GDAL would take the bytes as Latin-1): detected, or as stated
    (tmp_path / "units.cpg").unlink()
    for encoding in (None, "gbk"):
        units, report = read_units(tmp_path / "units.shp", encoding=encoding)
        assert units["unit_name"].tolist() == UNITS["社区名称"], encoding
        assert report.columns["population"] == "常住人口"


def test_kinds_from_names_codes_made_unique_and_bad_input_named():
    frame = units_frame().drop(columns=["类型"])
    frame["行政区划代码"] = ["1", "1", "", "4"]
    units, report = units_from_frame(frame)
    assert report.kinds_from == "names"
    assert units["unit_kind"].tolist() == ["urban", "urban", "village", ""]
    assert units["unit_code"].tolist() == ["1", "1~2", "U3", "4"]
    assert any("'1' repeats" in p for p in report.problems)
    bad = units_frame()
    bad.loc[0, "类型"] = "工业园"
    with pytest.raises(InputError, match="kind '工业园' is not 城市社区"):
        units_from_frame(bad)
    points = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(116.3, 40)], crs=4326)
    with pytest.raises(InputError, match="must be polygons"):
        units_from_frame(points)
    negative = units_frame()
    negative.loc[1, "常住人口"] = -5
    with pytest.raises(InputError, match="常住人口"):
        units_from_frame(negative)


def test_overlaps_and_gaps_are_named():
    frame = units_frame()
    frame.loc[0, "geometry"] = shapely.box(X0, Y0, XM + 0.002, YM)  # into 西门社区
    frame.loc[3, "geometry"] = shapely.box(XM + 0.004, YM, X1, Y1)  # leaves a strip open
    units, report = units_from_frame(frame)
    overlap = [p for p in report.problems if "overlap" in p]
    assert len(overlap) == 1 and "东门社区" in overlap[0] and "西门社区" in overlap[0]
    # the open strip touches the outside, so it is not a hole: close it to make one
    frame.loc[3, "geometry"] = shapely.box(XM, YM, X1, Y1).difference(
        shapely.box(XM + 0.004, YM + 0.004, XM + 0.008, YM + 0.008))  # fmt: skip
    hole = shapely.box(XM + 0.004, YM + 0.004, XM + 0.008, YM + 0.008)
    inner = gpd.GeoDataFrame({"社区名称": ["内"]}, geometry=[hole.buffer(-0.001)], crs=4326)
    units, _ = units_from_frame(pd.concat([frame, inner], ignore_index=True).pipe(
        gpd.GeoDataFrame, crs=4326))  # fmt: skip
    gaps = [p for p in check_units(units) if "gap" in p]
    assert len(gaps) == 1 and "试验区" in gaps[0] and "内" in gaps[0]


def test_overlaps_and_gaps_reach_the_report(haidian):
    _, study, _ = haidian
    frame = units_frame()
    frame.loc[0, "geometry"] = shapely.box(X0, Y0, XM + 0.002, YM)  # into 西门社区
    units, _ = units_from_frame(frame)
    plan = plan_indicators(study.with_units(units), judging_rule(study.catalogue),
                           load_targets("national"))  # fmt: skip
    assert any("东门社区 and 西门社区 overlap" in n for n in plan.notes)


def test_homes_are_scaled_to_the_official_population(haidian):
    built, study, _ = haidian
    units = study.units
    where = assign(units, study.demand)
    pop = study.demand["population"].to_numpy()
    for u, official in enumerate(UNITS["常住人口"]):
        if official is not None:
            assert pop[where == u].sum() == pytest.approx(official)
    # the unit without a population keeps its modelled homes, unchanged
    before = assign(units, built.demand) == 3
    assert pop[where == 3].sum() == pytest.approx(built.demand["population"][before].sum())
    # a 60+ count given is the unit's 60+; else the homes keep their shares
    old = study.demand["pop_60plus"].to_numpy()
    assert old[where == 0].sum() == pytest.approx(900)
    assert old[where == 1].sum() == pytest.approx(3000 * built.demand["pop_60plus"][
        assign(units, built.demand) == 1].sum() / built.demand["population"][
        assign(units, built.demand) == 1].sum())  # fmt: skip
    # the homes keep their places on the network
    assert len(study.demand) == len(built.demand)
    np.testing.assert_array_equal(study.demand_snap.edge, built.demand_snap.edge)


def test_a_unit_without_homes_gets_its_people_and_homes_outside_are_kept(haidian):
    built, _, _ = haidian
    empty = shapely.box(116.20, 39.90, 116.201, 39.901)  # far from any home
    frame = gpd.GeoDataFrame({"社区名称": ["东门社区", "新村"], "常住人口": [5000, 120]},
                             geometry=[BOXES[0], empty], crs=4326)  # fmt: skip
    units, _ = units_from_frame(frame)
    demand, notes = fit_demand(built.demand, units, source="units.gpkg")
    assert len(notes) == 1 and "新村" in notes[0]
    where = assign(units, demand)
    assert demand["population"][where == 1].sum() == pytest.approx(120)
    assert set(demand["source"][where == 1]) == {"units.gpkg"}
    outside = assign(units, built.demand) < 0
    assert demand["population"][where < 0].sum() == pytest.approx(
        built.demand["population"][outside].sum())  # fmt: skip
    assert (demand["unit_code"][where < 0] == "").all()


# ---------------------------------------------------------------------- indicators by hand
def test_every_indicator_against_a_hand_count(result):
    plan, study = result
    got = by_key(plan)
    assert [i.key for i in plan.indicators] == [d.key for d in DEFINITIONS]
    where = assign(study.units, study.demand)
    residents = 5000 + 3000 + 800 + study.demand["population"][where == 3].sum()
    households = 1900 + 3000 / 2.62 + 300 + study.demand["population"][where == 3].sum() / 2.62
    # 60 托位 of the childcare centre; the OSM kindergartens have no 托班 places given
    assert got["childcare_places_per_1000"].value == pytest.approx(60 / residents * 1000)
    assert got["childcare_places_per_1000"].basis == "mixed"  # 试验区 is modelled
    # elderly care: 东门 has the canteen inside; the others need ≥ 50 % of their 60+ within
    # 5 minutes at the elderly speed of a canteen or day care
    search = study.search("elderly_canteen", judging_rule(study.catalogue)["elderly_canteen"].cost)
    within = search.point_cost <= 5 * 60
    old = study.demand["pop_60plus"].to_numpy()
    served = [True] + [old[(where == u) & within].sum() / old[where == u].sum() >= 0.5
                       for u in (1, 2, 3)]  # fmt: skip
    assert got["home_community_elderly_care_coverage"].value == pytest.approx(np.mean(served))
    # urban compliance: 东门 700 m² for 1900 households = 36.8 m² / 100 ≥ 30; 西门 has none
    assert got["community_service_facility_compliance"].value == pytest.approx(0.5)
    assert got["community_service_facility_compliance"].status == "not met"
    # the village has its 村委会
    assert got["village_service_facility_coverage"].value == 1.0
    assert got["village_service_facility_coverage"].status == "met"
    area = got["community_service_area_per_100_households"]
    assert area.value == pytest.approx((700 + 150) / households * 100)
    assert area.denominator == pytest.approx(households) and area.basis == "mixed"
    # two OSM sports features have neither an area nor a polygon: not computable
    sports = got["sports_area_per_capita"]
    assert sports.value is None and sports.status == "not computable"
    assert "2 of the 21" in sports.note and sports.basis == ""
    assert got["care_bed_share"].value == pytest.approx((50 + 110) / (80 + 200))
    # the elderly service centre stands in 试验区, of 马连洼街道: one township of two
    assert got["township_elderly_service_centre_coverage"].value == 0.5
    assert got["township_elderly_service_centre_coverage"].status == "met"  # target 40 %


def test_the_per_unit_table(result):
    plan, study = result
    units = plan.units
    assert units["unit_name"].tolist() == ["东门社区", "西门社区", "王庄村", "试验区",
                                           "outside any unit"]  # fmt: skip
    assert units["residents_basis"].tolist() == ["official"] * 3 + ["modelled"] * 2
    assert units["households_basis"].tolist()[:4] == ["official", "modelled", "official",
                                                      "modelled"]  # fmt: skip
    east = units.iloc[0]
    assert east["community_service_area_per_100_households"] == pytest.approx(700 / 1900 * 100)
    assert bool(east["community_service_facility_compliance"]) is True
    assert bool(east["home_community_elderly_care_coverage"]) is True
    assert east["elderly_canteen.facilities"] == 1 and east["elderly_canteen.capacity"] == 40
    assert pd.isna(units.iloc[2]["community_service_facility_compliance"])  # a village
    assert bool(units.iloc[2]["village_service_facility_coverage"]) is True
    west = units.iloc[1]
    assert west["childcare_places_per_1000"] == pytest.approx(60 / 3000 * 1000)
    assert bool(west["childcare_places_per_1000.met"]) is True  # 20 ≥ 4.8
    # completeness: a category is provided when inside, or reached by ≥ half its group
    for _, row in units.iloc[:4].iterrows():
        missing = [k for k in row["missing"].split(",") if k]
        assert row["missing_count"] == len(missing) and row["complete"] == (not missing)
        for key in missing:  # none inside, and fewer than half its group within reach
            assert row[f"{key}.facilities"] == 0 and not row[f"{key}.share"] >= 0.5
        for key in plan.assessed:  # what the unit's tier asks of it (a village: 村/组)
            if key not in missing and applies(study.catalogue[key].level, row["unit_kind"]):
                assert row[f"{key}.facilities"] > 0 or row[f"{key}.share"] >= 0.5
    # the median time of 东门's 60+ to a canteen is the weighted median of their times
    rule = judging_rule(study.catalogue)["elderly_canteen"]
    times = rule.cost.to_threshold_unit(study.search("elderly_canteen", rule.cost).point_cost)
    mine = assign(study.units, study.demand) == 0
    weights = study.demand["pop_60plus"].to_numpy()[mine]
    order = np.argsort(times[mine])
    cumulative = np.cumsum(weights[order])
    median = times[mine][order][np.searchsorted(cumulative, cumulative[-1] / 2)]
    assert east["elderly_canteen.median"] == pytest.approx(median)
    # townships: sums of their units
    towns = plan.townships.set_index("township")
    assert towns.loc["东升镇", "residents"] == pytest.approx(8000)
    assert towns.loc["东升镇", "units"] == 2
    assert bool(towns.loc["马连洼街道", "township_elderly_service_centre_coverage"]) is True
    assert bool(towns.loc["东升镇", "township_elderly_service_centre_coverage"]) is False


def test_missing_data_is_not_computable_never_zero(haidian):
    built, study, _ = haidian
    rule = judging_rule(built.catalogue)
    targets = load_targets("haidong_2025")
    bare = plan_indicators(built, rule, targets)  # no units
    got = by_key(bare)
    for key in ("home_community_elderly_care_coverage", "community_service_facility_compliance",
                "village_service_facility_coverage",
                "township_elderly_service_centre_coverage"):  # fmt: skip
        assert got[key].status == "not computable" and got[key].value is None
        assert "planning units" in got[key].note or "townships" in got[key].note
    assert got["childcare_places_per_1000"].basis == "modelled"
    # facilities without the field the indicator counts
    import dataclasses

    fac = study.facilities.copy()
    fac.loc[fac["category"] == "childcare", "places"] = np.nan
    fac.loc[fac["category"] == "childcare", "capacity"] = np.nan
    fac = fac[fac["category"] != "elderly_canteen"]
    fac = fac[fac["category"] != "township_elderly_centre"]
    snap = study.facility_snap.take(study.facilities.index.isin(fac.index))
    poorer = dataclasses.replace(study, facilities=fac.reset_index(drop=True),
                                 facility_snap=snap, _searches={})  # fmt: skip
    got = by_key(plan_indicators(poorer, rule, targets))
    assert got["childcare_places_per_1000"].status == "not computable"
    assert "places" in got["childcare_places_per_1000"].note
    assert got["home_community_elderly_care_coverage"].status == "not computable"
    assert got["township_elderly_service_centre_coverage"].status == "not computable"
    units = plan_indicators(poorer, rule, targets).units
    assert units["childcare_places_per_1000"].isna().all()  # not 0 in any unit either
    assert units["home_community_elderly_care_coverage"].isna().all()


def test_homes_outside_every_unit_are_counted_in_their_own_row(haidian):
    built, _, _ = haidian
    half, _ = units_from_frame(units_frame().iloc[:2])
    study = built.with_units(half)
    plan = plan_indicators(study, judging_rule(study.catalogue), load_targets("national"))
    outside = plan.units.iloc[-1]
    expected = built.demand["population"][assign(half, built.demand) < 0].sum()
    assert outside["unit_name"] == "outside any unit" and expected > 0
    assert outside["residents"] == pytest.approx(expected)
    # a total that leaves facilities out says so where it is read (王庄村村委会, 150 m²)
    area = {i.key: i for i in plan.indicators}["community_service_area_per_100_households"]
    assert "未计入规划单元外的1处设施（150平方米）" in area.note_zh
    assert "not counted: 1 facility outside every unit (150 m²)" in area.note
    assert plan.units["residents"].sum() == pytest.approx(study.demand["population"].sum())
    assert any("outside every unit" in n for n in plan.notes)


def test_targets_follow_the_place_and_the_age_shares_too():
    from service_circle.targets import age_shares, age_shares_for

    assert targets_for(102.1, 36.5) == "haidong_2025"  # Ledu, Haidong
    assert targets_for(116.35, 40.0) == "national"  # Beijing is not judged by Haidong's plan
    assert age_shares_for(102.1, 36.5) == "qinghai"
    assert age_shares("qinghai")["pop_60plus"] == pytest.approx(0.1214)
    assert age_shares_for(116.35, 40.0) == "national"
    national = load_targets("national")
    assert national["childcare_places_per_1000"] == 4.5
    assert "home_community_elderly_care_coverage" not in national  # no national target


# ---------------------------------------------------------------------- the command line
def test_analyze_with_units_writes_the_report_an_official_signs(haidian, tmp_path, capsys):
    from openpyxl import load_workbook

    from service_circle.cli import main

    built, _, _ = haidian
    study_dir = tmp_path / "study"
    built.save(study_dir)
    gcj = units_frame()
    gcj.geometry = shapely.transform(
        gcj.geometry.to_numpy(), lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))
    )
    units_path = tmp_path / "communities.gpkg"
    gcj.to_file(units_path)
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study_dir), "--units", str(units_path),
                 "--units-crs", "gcj02", "--targets-preset", "haidong_2025",
                 "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert "4 planning units" in printed.err and "每千人口拥有3岁以下婴幼儿托位数" in printed.out
    for name in ("units.csv", "units.geojson", "report.json", "report.html", "report.xlsx"):
        assert (out / name).is_file(), name
    raw = (out / "units.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    table = pd.read_csv(out / "units.csv", encoding="utf-8-sig", dtype=str)
    assert {"代码", "名称", "类型", "常住人口", "人口口径", "配齐", "缺配设施"} <= set(
        table.columns
    )
    assert table["名称"].tolist()[-1] == "不在任何单元内"
    assert table.loc[0, "城市社区综合服务设施达标覆盖率"] == "是"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    first = report["indicators"][0]
    assert {"key", "value", "target", "status", "unit", "basis"} <= set(first)
    assert report["targets"]["name"] == "haidong_2025"
    assert report["population_basis"] == "mixed"
    shares = {i["key"]: i["value"] for i in report["indicators"]}
    assert 0 <= shares["village_service_facility_coverage"] <= 1  # a fraction, not %
    assert report["lacking"][0]["unit_name"] == "东门社区"  # the largest first
    assert {j["profile"] for j in report["judged"] if j["category"] == "elderly_canteen"} == {
        "elderly"}  # fmt: skip
    book = load_workbook(out / "report.xlsx", read_only=True)
    assert book.sheetnames == ["指标汇总", "社区明细", "乡镇街道汇总", "缺配清单", "设施清单",
                               "营业时段覆盖", "数据说明"]  # fmt: skip
    indicators = [row for row in book["指标汇总"].iter_rows(values_only=True)]
    assert indicators[0][:3] == ("指标代码", "指标", "现状值")
    assert len(indicators) == 1 + len(DEFINITIONS)
    facilities = [row for row in book["设施清单"].iter_rows(values_only=True)]
    canteen = next(r for r in facilities if r[1] == "东门社区老年食堂")
    assert canteen[3] == "东门社区"  # the unit it stands in
    about = dict(book["数据说明"].iter_rows(values_only=True))
    assert "OpenStreetMap" in about["署名"] and about["人口口径"] == "部分估算"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "缺配社区" in page and "东门社区" in page and "海东市" in page
    features = json.loads((out / "units.geojson").read_text(encoding="utf-8"))["features"]
    assert len(features) == 4 and features[0]["properties"]["unit_code"] == "110108001"
    ring = np.array(features[0]["geometry"]["coordinates"][0])
    assert abs(ring[:, 0].min() - X0) < 1e-5  # back in WGS-84


def test_metres_judge_every_category_and_the_report_says_so(haidian, tmp_path):
    from service_circle.cli import main

    built, _, _ = haidian
    study_dir = tmp_path / "study"
    built.with_units(units_from_frame(units_frame())[0]).save(study_dir)
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study_dir), "--metres", "300", "--lang", "en",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {(j["threshold"], j["unit"]) for j in report["judged"]} == {(300.0, "m")}
    assert report["targets"]["name"] == "national"  # Beijing, judged by the national plan
    coverage = pd.DataFrame(report["coverage"])
    assert set(coverage["unit"]) == {"m"} and coverage["judged"].all()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Units missing services" in page and "300 m" in page


# ---------------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def units_client(haidian, tmp_path_factory):
    """The app over a folder holding the Haidian study with its units, and one without."""
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    built, study, _ = haidian
    studies = tmp_path_factory.mktemp("unit-studies")
    study.save(studies / "haidian")
    built.save(studies / "bare")
    with TestClient(create_app(Settings(studies_dir=studies))) as c:
        yield c


def test_api_units_unit_and_workbook(units_client):
    from io import BytesIO

    from openpyxl import load_workbook

    r = units_client.get("/studies/haidian/units")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert [f["properties"]["unit_name"] for f in body["features"]] == [
        "东门社区", "西门社区", "王庄村", "试验区"]  # fmt: skip
    assert body["outside_any_unit"]["unit_name"] == "outside any unit"
    east = body["features"][0]["properties"]
    assert east["community_service_area_per_100_households"] == pytest.approx(700 / 19)
    assert {j["profile"] for j in body["judged"]
            if j["category"] in ("elderly_canteen", "nursing_home")} == {"elderly"}  # fmt: skip
    one = units_client.get("/studies/haidian/units/110108001")
    assert one.status_code == 200
    data = one.json()
    assert data["unit"]["unit_name"] == "东门社区"
    names = {f["name"] for f in data["facilities"]}
    assert {"东门社区老年食堂", "东门社区党群服务中心"} <= names
    canteen = next(f for f in data["facilities"] if f["name"] == "东门社区老年食堂")
    assert canteen["seats"] == 40 and canteen["floor_area_m2"] == 200
    assert {m["category"] for m in data["missing"]} == set(
        filter(None, data["unit"]["missing"].split(",")))  # fmt: skip
    missing = units_client.get("/studies/haidian/units/nowhere")
    assert missing.status_code == 404 and "110108001" in missing.json()["detail"]
    bare = units_client.get("/studies/bare/units")
    assert bare.status_code == 404 and "--units" in bare.json()["detail"]
    report = units_client.get("/studies/haidian/report").json()
    assert report["targets"]["name"] == "national" and report["lacking"]
    assert units_client.get("/studies/haidian/report", params={"preset": "haidong_2025"}).json()[
        "targets"]["name"] == "haidong_2025"  # fmt: skip
    xlsx = units_client.get("/studies/haidian/report.xlsx", params={"lang": "en"})
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    book = load_workbook(BytesIO(xlsx.content), read_only=True)
    assert book.sheetnames == ["indicators", "units", "townships", "lacking", "facilities",
                               "open when needed", "about"]  # fmt: skip
    page = units_client.get("/studies/haidian/report", headers={"Accept": "text/html"})
    assert "缺配社区" in page.text and "东门社区" in page.text


def test_the_report_and_the_unit_map_in_a_browser(haidian, tmp_path):
    from conftest import CHROMIUM
    from test_maps_browser import open_watched

    from service_circle.cli import main

    if not __import__("pathlib").Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (CI installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    _, study, _ = haidian
    study_dir = tmp_path / "study"
    study.save(study_dir)
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study_dir), "--category", "elderly_canteen",
                 "--category", "community_service", "--out", str(out)]) == 0  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page, _, dialogs, _, errors = open_watched(browser, (out / "report.html").as_uri())
        assert errors == [] and dialogs == []
        rows = page.eval_on_selector_all("#indicators tr[data-key]",
                                         "els => els.map(e => e.dataset.key)")  # fmt: skip
        assert rows == [d.key for d in DEFINITIONS]
        sports = page.inner_text("#indicators tr[data-key=sports_area_per_capita]")
        assert "无法计算" in sports and "0.0%" not in sports  # missing data is never 0 %
        lacking = page.eval_on_selector_all("#lacking tr td:first-child",
                                            "els => els.map(e => e.textContent)")  # fmt: skip
        expected = json.loads((out / "report.json").read_text(encoding="utf-8"))["lacking"]
        assert lacking == [r["unit_name"] for r in expected] and lacking
        residents = [r["residents"] for r in expected]
        assert residents == sorted(residents, reverse=True)  # the largest unit first
        rule = page.inner_text("#rule")  # the profile named in the report's language
        assert "老年人步速" not in rule and "老年人 1.18" in rule and "elderly" not in rule
        page.close()
        page, _, dialogs, _, errors = open_watched(browser, (out / "map.html").as_uri())
        page.wait_for_function("window.serviceCircle !== undefined")
        labels = page.eval_on_selector_all(".sc-unit-label", "els => els.map(e => e.textContent)")
        assert sorted(labels) == sorted(["东门社区", "西门社区", "王庄村", "试验区"])
        fills = page.evaluate("""() => window.serviceCircle.layers.units.getLayers()
                                 .map(l => l.options.fillColor)""")
        assert len(set(fills)) >= 2  # coloured by what each unit misses
        browser.close()


def test_guixi_units_with_their_own_columns_and_a_township_file(tmp_path, capsys):
    """A county town and a village over the Guixi extract, columns named by the office."""
    from conftest import GUIXI

    from service_circle.cli import main

    pbf = shared_file(f"{GUIXI}.osm.pbf")
    west, east = shapely.box(117.19, 28.28, 117.225, 28.32), shapely.box(117.225, 28.28, 117.26,
                                                                          28.32)  # fmt: skip
    units = gpd.GeoDataFrame({"社区": ["城东社区", "塘湾村"], "编码": ["360681001", "360681002"],
                              "人口数": [6000, 1500], "户": [2000, 500]},
                             geometry=[west, east], crs=4326)  # fmt: skip
    units.to_file(tmp_path / "units.geojson")
    gpd.GeoDataFrame({"名称": ["雄石街道"]}, geometry=[west.union(east)], crs=4326).to_file(
        tmp_path / "towns.geojson")  # fmt: skip
    pd.DataFrame({
        "名称": ["城东社区服务站", "塘湾村村委会", "城东托育园"],
        "类别": ["community_service", "community_service", "childcare"],
        "lon": [117.21, 117.24, 117.215], "lat": [28.30, 28.30, 28.295],
        "建筑面积": [900, 200, 400], "托位数": [None, None, 45],
    }).to_csv(tmp_path / "bureau.csv", index=False)  # fmt: skip
    demand = tmp_path / "demand.geojson"
    assert main(["demand", "--buildings", str(pbf), "--out", str(demand)]) == 0
    out = tmp_path / "out"
    assert main(["analyze", "--network", str(pbf), "--facilities", str(pbf), "--facilities",
                 str(tmp_path / "bureau.csv"), "--input-crs", "wgs84", "--demand", str(demand),
                 "--units", str(tmp_path / "units.geojson"),
                 "--unit-columns", "name=社区,code=编码,population=人口数,households=户",
                 "--townships", str(tmp_path / "towns.geojson"), "--lang", "en",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    got = {i["key"]: i for i in report["indicators"]}
    assert report["population_basis"] == "official"
    assert got["childcare_places_per_1000"]["value"] == pytest.approx(45 / 7500 * 1000)
    assert got["community_service_area_per_100_households"]["value"] == pytest.approx(
        1100 / 2500 * 100)  # fmt: skip
    assert got["community_service_area_per_100_households"]["basis"] == "official"
    assert got["village_service_facility_coverage"]["value"] == 1.0
    # 900 m² for 2000 households: 45 m² per 100 ≥ 30, compliant
    assert got["community_service_facility_compliance"]["value"] == 1.0
    town = pd.read_csv(out / "units.csv", encoding="utf-8-sig")
    assert town["township / street"].tolist()[:2] == ["雄石街道", "雄石街道"]
    assert town["kind"].tolist()[:2] == ["urban community", "village"]  # from their names
    # the township has no elderly service centre in the data: not computable, not 0 %
    assert got["township_elderly_service_centre_coverage"]["status"] == "not computable"
    assert (
        main(
            [
                "analyze",
                "--study",
                str(out),
                "--unit-columns",
                "colour=red",
                "--units",
                str(tmp_path / "units.geojson"),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "--unit-columns 'colour=red'" in capsys.readouterr().err


def test_names_that_look_like_formulas_stay_text_in_csv_and_xlsx(haidian, tmp_path):
    from openpyxl import load_workbook

    from service_circle.indicators import Report, write_report
    from service_circle.pipeline import judged_coverage

    built, _, _ = haidian
    formula = '=HYPERLINK("http://example.invalid","点击")'
    frame = units_frame()
    frame["社区名称"] = [formula, "+1+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]
    study = built.with_units(units_from_frame(frame)[0])
    rule = judging_rule(study.catalogue)
    plan = plan_indicators(study, rule, load_targets("national"))
    coverage = judged_coverage(study, {k: rule[k] for k in ("pharmacy",)})
    write_report(Report(study, plan, coverage, load_targets("national")), tmp_path)
    cells = pd.read_csv(tmp_path / "units.csv", encoding="utf-8-sig", dtype=str)["名称"]
    assert cells.tolist()[:4] == ["'" + formula, "'+1+cmd|' /C calc'!A0", "'@SUM(1)", "'-2+3"]
    book = load_workbook(tmp_path / "report.xlsx")
    names = [c for c in book["社区明细"]["B"]][1:5]
    assert [c.value for c in names] == frame["社区名称"].tolist()  # as written, and
    assert {c.data_type for c in names} == {"s"}  # text, not a formula


def test_grouped_quantiles_equal_one_group_at_a_time():
    from service_circle.plan import grouped_quantiles

    rng = np.random.default_rng(3)
    values = rng.exponential(5, 2000)
    values[rng.random(2000) < 0.05] = np.inf  # some homes reach nothing
    weights = rng.gamma(1.5, 10, 2000) * (rng.random(2000) > 0.1)  # some weigh nothing
    groups = rng.integers(0, 40, 2000)
    got = grouped_quantiles(values, weights, groups, 42, (0.5, 0.9))
    for g in range(42):
        mine = (groups == g) & (weights > 0)
        if not mine.any():
            assert np.isnan(got[:, g]).all()  # groups 40 and 41 are empty
            continue
        order = np.argsort(values[mine], kind="stable")
        v, w = values[mine][order], weights[mine][order]
        for i, q in enumerate((0.5, 0.9)):
            at = np.searchsorted(np.cumsum(w), q * w.sum() * (1 - 1e-9))
            assert got[i, g] == v[min(at, v.size - 1)]


def test_the_plan_is_the_same_whichever_categories_are_shown(result):
    from service_circle.cost import Threshold
    from service_circle.pipeline import analyze_study

    plan, study = result
    shown = analyze_study(
        study,
        [Threshold.minutes(5), Threshold.minutes(10)],
        categories=["pharmacy"],
        targets_preset="haidong_2025",
        polygons=False,
    )
    assert set(shown.coverage["category"]) == {"pharmacy"}
    for mine, full in zip(shown.indicators, plan.indicators, strict=True):
        assert (mine.key, mine.value, mine.status) == (full.key, full.value, full.status)
