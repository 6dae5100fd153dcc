"""Villages in the model: the drive network, the township circle by road, rural indicators.

A village study over the Guixi extract (real OSM streets and buildings): four villages and
two urban communities drawn over the town, with the facilities a county office lists — a
村委会 in three villages, a 村卫生室 in two, a 互助幸福院 in one, the 乡镇卫生院 and the
street's comprehensive elderly service centre — read by their names alone.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import GUIXI, shared_file

from service_circle import InputError
from service_circle._walkable import NOT_DRIVABLE
from service_circle.catalogue import load_catalogue
from service_circle.cost import CostModel
from service_circle.network import load_network
from service_circle.plan import applies

XS, YS = (117.19, 117.213, 117.236, 117.26), (28.28, 28.30, 28.32)
UNITS = [  # (name, population): a 3 × 2 grid over the extract, south row first
    ("塘湾村", 1200), ("城东社区", 5000), ("上清村", 900),
    ("鹰潭村", 1500), ("城西社区", 6000), ("白田村", 800),
]  # fmt: skip
FACILITIES = [  # (name, unit, offset from the unit's centre in degrees)
    ("塘湾村村委会", "塘湾村", 0.0, 0.0),
    ("鹰潭村村民委员会", "鹰潭村", 0.002, 0.0),
    ("上清村党群服务中心", "上清村", 0.0, 0.002),
    ("塘湾村卫生室", "塘湾村", 0.003, 0.001),
    ("白田村卫生室", "白田村", 0.0, 0.0),
    ("上清村互助幸福院", "上清村", 0.002, -0.002),
    ("雄石镇卫生院", "城东社区", 0.001, 0.001),
    ("雄石街道综合养老服务中心", "城西社区", 0.0, 0.0),
]


def village_units() -> gpd.GeoDataFrame:
    boxes = [shapely.box(XS[i], YS[j], XS[i + 1], YS[j + 1]) for j in range(2) for i in range(3)]
    return gpd.GeoDataFrame(
        {"名称": [n for n, _ in UNITS], "代码": [f"36068110{k}" for k in range(6)],
         "常住人口": [p for _, p in UNITS]},
        geometry=boxes, crs=4326,
    )  # fmt: skip


def bureau_list(units: gpd.GeoDataFrame) -> pd.DataFrame:
    centre = dict(zip(units["名称"], shapely.centroid(units.geometry.to_numpy()), strict=True))
    return pd.DataFrame(
        [{"名称": n, "lon": centre[u].x + dx, "lat": centre[u].y + dy}
         for n, u, dx, dy in FACILITIES]
    )  # fmt: skip


@pytest.fixture(scope="module")
def village_study(tmp_path_factory):
    """``service-circle analyze --units … --road`` over the Guixi extract, once."""
    from service_circle.cli import main

    tmp = tmp_path_factory.mktemp("villages")
    pbf = shared_file(f"{GUIXI}.osm.pbf")
    units = village_units()
    units.to_file(tmp / "villages.geojson")
    bureau_list(units).to_csv(tmp / "bureau.csv", index=False)
    demand = tmp / "demand.geojson"
    assert main(["demand", "--buildings", str(pbf), "--out", str(demand)]) == 0
    out = tmp / "out"
    assert main(["analyze", "--network", str(pbf), "--facilities", str(pbf), "--facilities",
                 str(tmp / "bureau.csv"), "--input-crs", "wgs84", "--demand", str(demand),
                 "--units", str(tmp / "villages.geojson"), "--road",
                 "--out", str(out)]) == 0  # fmt: skip
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_the_drive_network_follows_osmnx_drive_rules():
    walk = load_network(shared_file(f"{GUIXI}.osm.pbf"))
    drive = load_network(shared_file(f"{GUIXI}.osm.pbf"), mode="drive")
    xml = load_network(shared_file(f"{GUIXI}.osm"), mode="drive")
    highways = set(drive.edge_highway())
    assert not highways & NOT_DRIVABLE and "service" in set(walk.edge_highway())
    assert drive.n_edges < walk.n_edges
    # both OSM readers give the same drive network
    assert (xml.n_edges, round(xml.total_length_m, 3)) == (
        drive.n_edges, round(drive.total_length_m, 3))  # fmt: skip
    with pytest.raises(InputError, match="network mode 'bus'"):
        load_network(shared_file(f"{GUIXI}.osm.pbf"), mode="bus")


def test_road_cost_rides_the_arcs_and_walks_to_the_road():
    drive = load_network(shared_file(f"{GUIXI}.osm.pbf"), mode="drive")
    road = CostModel.road(30)
    assert road.name == "road 30 km/h" and road.road_speed_kmh == pytest.approx(30)
    np.testing.assert_allclose(road.arc_costs(drive), drive.arc_length_m / (30 / 3.6))
    # the leg from a home to the road is walked at the adult speed
    assert road.access_costs(143.0) == pytest.approx(100.0)
    assert road.key != CostModel.road(20).key != CostModel.walking().key
    with pytest.raises(InputError, match="between 0 and 120 km/h"):
        CostModel.road(300)


def test_village_tier_is_what_a_village_must_have():
    levels = {c.key: c.level for c in load_catalogue()}
    assert applies(levels["village_clinic"], "village")
    assert not applies(levels["village_clinic"], "urban")
    assert not applies(levels["middle_school"], "village")  # GB 50180 is the urban standard
    assert applies(levels["middle_school"], "urban") and applies(levels["pharmacy"], "")
    assert not applies(levels["township_health_centre"], "village")  # the township's, by road


def test_a_village_study_reports_the_rural_indicators(village_study):
    out, report = village_study
    got = {i["key"]: i for i in report["indicators"]}
    # read by their names: 村委会 / 村民委员会 / 村党群服务中心 in three of four villages
    assert got["village_service_facility_coverage"]["value"] == pytest.approx(3 / 4)
    assert got["village_service_facility_coverage"]["numerator"] == 3
    assert got["village_clinic_coverage"]["value"] == pytest.approx(2 / 4)
    assert got["mutual_aid_home_coverage"]["value"] == pytest.approx(1 / 4)
    assert got["mutual_aid_home_coverage"]["status"] == "no target"
    units = pd.read_csv(out / "units.csv", encoding="utf-8-sig").set_index("名称")
    clinic = units["村卫生室覆盖率"]
    assert clinic[["塘湾村", "白田村"]].tolist() == ["是", "是"]
    assert clinic[["上清村", "鹰潭村"]].tolist() == ["否", "否"]
    assert clinic[["城东社区", "城西社区"]].isna().all()  # not a village's indicator
    # what each village lacks is its own tier; a community is not asked for a 村卫生室
    lacking = {r["unit_name"]: set(r["missing"].split(",")) for r in report["lacking"]}
    assert lacking["鹰潭村"] == {"mutual_aid_home", "village_clinic"}
    assert lacking["白田村"] == {"mutual_aid_home", "village_service"}
    assert all(not m & {"village_clinic", "mutual_aid_home", "village_service"}
               for name, m in lacking.items() if name.endswith("社区"))  # fmt: skip
    assert all("township_health_centre" not in m for m in lacking.values())


def test_township_services_by_road_apart_from_the_walk(village_study):
    out, report = village_study
    road = report["road_circle"]
    assert road["speed_kmh"] == 30 and "drive" in road["network"]
    summary = {r["category"]: r for r in road["summary"]}
    assert set(summary) == {"township_health_centre", "township_elderly_centre"}
    health = summary["township_health_centre"]
    assert health["minutes"] == 30 and health["facilities"] == 1
    # every resident counted: the official populations, within, beyond or unreachable
    assert health["people"] == pytest.approx(sum(p for _, p in UNITS))
    assert health["within"] + health["beyond"] + health["unreachable"] == pytest.approx(
        health["people"])  # fmt: skip
    assert health["village_people"] == pytest.approx(1200 + 900 + 1500 + 800)
    # by road the town is minutes away; on foot, the same centre is far beyond 30 minutes
    walk = pd.read_json(out / "coverage.json")
    on_foot = walk[(walk["category"] == "township_health_centre") & walk["judged"]]
    assert health["share"] > float(on_foot["group_share"].iloc[0])
    assert 0 < health["median_min"] < 30
    per_unit = pd.DataFrame(road["units"]).set_index("unit_name")
    assert len(per_unit) == len(UNITS)
    assert (per_unit["township_health_centre.median_min"] > 0).all()
    # the files an office opens: a CSV, the workbook's sheets, a section of the page
    by_unit = pd.read_csv(out / "road_circle.csv", encoding="utf-8-sig").set_index("名称")
    assert by_unit.loc["塘湾村", "类型"] == "行政村"
    assert by_unit.loc["塘湾村", "乡镇卫生院：覆盖率"] == "100.0%"
    from openpyxl import load_workbook

    book = load_workbook(out / "report.xlsx", read_only=True)
    assert {"车行圈", "车行圈单元明细"} <= set(book.sheetnames)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "乡集镇层级：车行可达" in page and "id='road-units'" in page


def test_road_needs_an_osm_file(tmp_path, capsys):
    from service_circle.cli import main

    units = village_units()
    lines = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(117.2, 28.29), (117.25, 28.31)])],
                     crs=4326).to_file(lines)  # fmt: skip
    units.to_file(tmp_path / "v.geojson")
    bureau_list(units).to_csv(tmp_path / "b.csv", index=False)
    pbf = shared_file(f"{GUIXI}.osm.pbf")
    code = main(["analyze", "--network", str(pbf), "--facilities", str(tmp_path / "b.csv"),
                 "--input-crs", "wgs84", "--demand", str(tmp_path / "v.geojson"),
                 "--road-network", str(lines), "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--road-network FILE.osm.pbf" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
