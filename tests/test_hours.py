"""Opening hours: read as offices and OSM write them, and coverage at a time of day."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING, shared_file
from networks import X0, Y0, street_network

from service_circle import InputError
from service_circle.catalogue import load_catalogue
from service_circle.cost import Threshold
from service_circle.coverage import coverage_table
from service_circle.demand import with_groups
from service_circle.hours import (
    ORDINARY_MONDAY,
    Window,
    normalise_hours,
    open_mask,
    parse_at,
    status_at,
)
from service_circle.profiles import get_profile
from service_circle.study import Study


# ---------------------------------------------------------------------- reading hours
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("24小时", "24/7"),
        ("24小时营业", "24/7"),
        ("全天", "24/7"),
        ("00:00-24:00", "24/7"),
        ("08:00-20:00", "08:00-20:00"),
        ("8:00-20:00", "08:00-20:00"),
        ("早8:00-晚8:00", "08:00-20:00"),
        ("上午8点半-下午5点", "08:30-17:00"),
        ("周一至周五 11:00-13:00", "Mo-Fr 11:00-13:00"),
        ("周一至周五：08:30-11:30 14:00-17:00", "Mo-Fr 08:30-11:30,14:00-17:00"),
        ("周一至周五 8:00-20:00，周六、周日 9:00-17:00", "Mo-Fr 08:00-20:00; Sa-Su 09:00-17:00"),
        ("星期一到星期六 07:30～21:00", "Mo-Sa 07:30-21:00"),
        ("工作日 8:30-17:00", "Mo-Fr 08:30-17:00"),
        ("每天 6:00-22:00", "06:00-22:00"),
        # OSM forms, as the parser writes them back
        ("24/7", "24/7"),
        ("Mo-Fr 11:00-13:00; PH off", "Mo-Fr 11:00-13:00; PH closed"),
        ("22:00-02:00", "22:00-02:00"),
        ("Mo-Su 00:00-04:50,23:20-24:00", "00:00-04:50,23:20-24:00"),
    ],
)
def test_hours_are_normalised_to_osm_syntax(given, expected):
    assert normalise_hours(given) == (expected, "ok")


@pytest.mark.parametrize("given", [None, np.nan, "", " ", "暂无", "nan"])
def test_missing_hours_are_unknown(given):
    assert normalise_hours(given) == (None, "unknown")


@pytest.mark.parametrize("given", ["营业中", "请来电", "Mo-Fr 25:00-26:00x"])
def test_unreadable_hours_are_invalid_and_count_as_unknown(given):
    assert normalise_hours(given) == (None, "invalid")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of the ordinary week (0 = Monday)."""
    return dt.datetime.combine(ORDINARY_MONDAY + dt.timedelta(days=day), dt.time(hour, minute))


def test_common_forms_are_open_when_they_say():
    hours = ["24/7", "Mo-Fr 11:00-13:00", "Mo-Fr 11:00-13:00; PH off", "22:00-02:00", None]
    assert list(status_at(hours, at(1, 12))) == ["open", "open", "open", "closed", "unknown"]
    assert list(status_at(hours, at(5, 12))) == ["open", "closed", "closed", "closed", "unknown"]
    # overnight: open at 01:00 after the evening before, closed at 03:00
    assert list(status_at(hours, at(2, 1)))[3] == "open"
    assert list(status_at(hours, at(2, 3)))[3] == "closed"
    # 1 October 2026 (a Thursday) is National Day: PH off closes it
    national_day = dt.datetime(2026, 10, 1, 12)
    assert list(status_at(hours[1:3], national_day)) == ["open", "closed"]
    assert list(status_at(hours[1:3], at(3, 12))) == ["open", "open"]  # an ordinary Thursday
    assert list(open_mask(hours, at(2, 3))) == [True, False, False, False, True]
    assert list(open_mask(hours, at(2, 3), unknown_open=False)) == [True, False, False, False,
                                                                    False]  # fmt: skip


def test_the_ordinary_week_has_no_public_holiday():
    for day in range(7):
        assert list(status_at(["PH"], at(day, 12))) == ["closed"]


def test_moments_in_the_forms_people_write():
    assert parse_at("Tue 23:00") == at(1, 23)
    assert parse_at("周二 23:00") == at(1, 23)
    assert parse_at("星期日 07:30") == at(6, 7, 30)
    assert parse_at("sunday 7:30") == at(6, 7, 30)
    assert parse_at("2026-12-05T12:00") == dt.datetime(2026, 12, 5, 12)
    assert parse_at("2026-12-05T04:00Z") == dt.datetime(2026, 12, 5, 12)  # Beijing time
    assert parse_at("2026-12-05T12:00+02:00", "Europe/Helsinki") == dt.datetime(2026, 12, 5, 12)
    for bad in ("23:00", "Tue 25:00", "someday", "周八 10:00"):
        with pytest.raises(InputError, match="Tue 23:00"):
            parse_at(bad)


def test_a_window_needs_the_facility_open_throughout_every_day():
    lunch = Window("lunch", "午餐", "lunch", "Mo-Fr", "11:30", "12:30")
    hours = ["Mo-Fr 11:00-13:00", "Mo-Fr 11:00-12:00", "Mo-Fr 11:00-13:00; We off", "24/7",
             "Sa-Su 11:00-13:00", None]  # fmt: skip
    assert list(lunch.open_mask(hours)) == [True, False, False, True, False, True]
    assert list(lunch.open_mask(hours, unknown_open=False))[-1] is np.False_
    night = Window("night", "夜间", "night", "Mo-Su", "22:00", "02:00")  # past midnight
    assert list(night.open_mask(["20:00-03:00", "20:00-01:00", "24/7"])) == [True, False, True]


def test_the_catalogue_names_the_windows_a_category_is_needed_in():
    cat = load_catalogue()
    assert [w.key for w in cat["pharmacy"].windows] == ["night", "24h"]
    assert cat["elderly_canteen"].windows[0].days == "Mo-Fr"
    assert cat["childcare"].windows[0].start == "07:30"
    assert cat["convenience_store"].windows == ()


def test_real_osm_hours_from_the_chinese_extracts():
    from service_circle.facilities import facilities_from_osm

    pbf, _ = facilities_from_osm(shared_file(f"{BEIJING}.osm.pbf"))
    xml, _ = facilities_from_osm(shared_file(f"{BEIJING}.osm"))
    known = pbf[pbf["opening_hours"].notna()].set_index("id")["opening_hours"].to_dict()
    assert known == xml[xml["opening_hours"].notna()].set_index("id")["opening_hours"].to_dict()
    assert sorted(known.values()) == ["24/7", "24/7", "Mo-Sa 08:00-18:00"]
    assert set(pbf["hours_status"]) == {"ok", "unknown"}
    shop = pbf[pbf["opening_hours"] == "Mo-Sa 08:00-18:00"]["opening_hours"].tolist()
    assert list(status_at(shop, at(5, 17, 59))) == ["open"]
    assert list(status_at(shop, at(6, 12))) == ["closed"]
    # the extract's other hours parse too (bus stops and shops not in the catalogue)
    text = shared_file(f"{BEIJING}.osm").read_text(encoding="utf-8")
    import re

    values = set(re.findall(r'k="opening_hours" v="([^"]*)"', text))
    assert len(values) > 30
    assert all(normalise_hours(v)[1] == "ok" for v in values)


def test_a_poi_file_with_chinese_hours(tmp_path):
    from service_circle.facilities import facilities_from_file

    table = pd.DataFrame({
        "名称": ["仁和大药房", "老百姓大药房", "益丰药房", "社区药店"],
        "类别": ["pharmacy"] * 4,
        "lon": [116.345, 116.350, 116.355, 116.352], "lat": [40.0, 40.002, 40.004, 40.006],
        "营业时间": ["24小时", "08:00-22:00", "营业中", None],
    })  # fmt: skip
    path = tmp_path / "pharmacies.csv"
    table.to_csv(path, index=False, encoding="gbk")
    frame, report = facilities_from_file(path, table_crs="wgs84")
    hours = [v if isinstance(v, str) else None for v in frame["opening_hours"]]
    assert hours == ["24/7", "08:00-22:00", None, None]
    assert frame["hours_status"].tolist() == ["ok", "ok", "invalid", "unknown"]
    reasons = report.problems["reason"].tolist()
    assert any("营业中" in r and "unknown hours" in r for r in reasons)


# ---------------------------------------------------------------------- coverage at a time
PHARMACY_HOURS = {"A": "24/7", "B": "08:00-22:00", "C": None}
PHARMACY_X = {"A": 500.0, "B": 2000.0, "C": 3500.0}


@pytest.fixture(scope="module")
def street():
    """A 4 km street (in Beijing), a home every 100 m, three pharmacies on it.

    A is open day and night, B from 08:00 to 22:00, C has no known hours.
    """
    net = street_network([(x, 0) for x in range(0, 4001, 100)], [(i, i + 1) for i in range(40)])
    facilities = gpd.GeoDataFrame(
        {"id": list(PHARMACY_X), "category": "pharmacy",
         "opening_hours": [PHARMACY_HOURS[k] for k in PHARMACY_X]},
        geometry=shapely.points([[X0 + x, Y0] for x in PHARMACY_X.values()]), crs="EPSG:32650",
    )  # fmt: skip
    xs = np.arange(0, 4001, 100.0)
    demand = gpd.GeoDataFrame(
        {"id": [f"h{int(x)}" for x in xs], "population": 10.0},
        geometry=shapely.points(np.column_stack([X0 + xs, np.full(xs.size, Y0 + 0.0)])),
        crs="EPSG:32650",
    )  # fmt: skip
    return Study.build(net, facilities, with_groups(demand), name="street")


def _hand_count(open_ids: list[str], minutes: float = 5) -> float:
    reach_m = get_profile("adult").speed_m_s * minutes * 60
    xs = np.arange(0, 4001, 100.0)
    near = np.zeros(xs.size, bool)
    for k in open_ids:
        near |= np.abs(xs - PHARMACY_X[k]) <= reach_m
    return 10.0 * near.sum()


def _covered(study: Study) -> float:
    row = coverage_table(study, [Threshold.minutes(5)], categories=["pharmacy"],
                         profile="adult").iloc[0]  # fmt: skip
    return float(row["covered"])


def test_coverage_at_3am_counts_only_the_24_hour_pharmacy(street):
    assert street.country == "CN" and street.timezone == "Asia/Shanghai"
    night = street.open_at("Wed 03:00", unknown_open=False)
    assert night.facilities["id"].tolist() == ["A"]
    assert night.opening.open == 1 and night.opening.assumed == 0
    assert _hand_count(["A"]) > 0
    assert _covered(night) == pytest.approx(_hand_count(["A"]))
    # facilities without hours count as open unless told otherwise, and it is said
    assumed = street.open_at("Wed 03:00")
    assert assumed.facilities["id"].tolist() == ["A", "C"] and assumed.opening.assumed == 1
    assert _covered(assumed) == pytest.approx(_hand_count(["A", "C"]))
    day = street.open_at("周三 12:00", unknown_open=False)
    assert _covered(day) == pytest.approx(_hand_count(["A", "B"]))
    assert _covered(street) == pytest.approx(_hand_count(["A", "B", "C"]))


def test_a_week_of_hourly_slots_costs_one_search_per_distinct_open_set(street):
    fresh = Study(
        name="fresh", network=street.network, facilities=street.facilities,
        demand=street.demand, catalogue=street.catalogue, facility_snap=street.facility_snap,
        demand_snap=street.demand_snap,
    )  # fmt: skip
    sets = set()
    for day in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"):
        for hour in range(24):
            view = fresh.open_at(f"{day} {hour:02d}:00", unknown_open=False)
            _covered(view)
            sets.add(tuple(view.facilities["id"]))
    assert sets == {("A",), ("A", "B")}
    assert len(fresh._searches) == 2  # 168 slots, two searches


def test_the_open_when_needed_section_by_hand(street):
    from service_circle.judging import judging_rule
    from service_circle.opening import open_when_needed

    rule = judging_rule(street.catalogue, ["pharmacy"], threshold=Threshold.minutes(5),
                        profile="adult")  # fmt: skip
    section = open_when_needed(street, rule, unknown_open=False)
    table = section.table.set_index("window")
    population = 10.0 * 41
    assert table.loc["all_hours", "covered"] == pytest.approx(_hand_count(["A", "B", "C"]))
    assert table.loc["night", "facilities"] == 1  # B closes at 22:00, C is unknown
    assert table.loc["night", "covered"] == pytest.approx(_hand_count(["A"]))
    assert table.loc["24h", "share"] == pytest.approx(_hand_count(["A"]) / population)
    assert table.loc["24h", "change"] < 0
    counted = open_when_needed(street, rule).table.set_index("window")
    assert counted.loc["24h", "assumed_open"] == 1
    assert counted.loc["24h", "covered"] == pytest.approx(_hand_count(["A", "C"]))
    assert section.hours.set_index("category").loc["pharmacy", "always_open"] == 1


# ---------------------------------------------------------------------- the command line
def test_times_at_counts_only_the_facilities_open_then(tmp_path, capsys):
    from service_circle.cli import main

    pbf = shared_file(f"{BEIJING}.osm.pbf")
    pharmacies = pd.DataFrame({
        "名称": ["二十四小时药房", "白天药房", "不明药房"],
        "lon": [116.3455, 116.3500, 116.3560], "lat": [40.0010, 40.0040, 40.0070],
        "营业时间": ["24小时", "周一至周日 08:00-20:00", None],
    })  # fmt: skip
    homes = pd.DataFrame({"lon": np.linspace(116.344, 116.358, 30),
                          "lat": np.linspace(39.999, 40.008, 30)})  # fmt: skip
    fac, pts = tmp_path / "pharmacies.csv", tmp_path / "homes.csv"
    pharmacies.to_csv(fac, index=False, encoding="gbk")
    homes.to_csv(pts, index=False)
    base = ["times", "--network", str(pbf), "--facilities", str(fac), "--points", str(pts),
            "--input-crs", "wgs84", "--minutes", "30"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "all.csv")]) == 0
    assert main([*base, "--out", str(tmp_path / "night.csv"), "--at", "Tue 23:00",
                 "--unknown-hours", "closed"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "at Tue 23:00: 1 of 3" in err and "1 without known hours counted closed" in err
    night = pd.read_csv(tmp_path / "night.csv")
    assert set(night["facility_id"].dropna().astype(int)) == {0}  # the 24-hour one (first)
    every = pd.read_csv(tmp_path / "all.csv")
    assert (night["time_s"].fillna(np.inf) >= every["time_s"].fillna(np.inf) - 1e-9).all()
    assert (night["time_s"] > every["time_s"]).any()
    assert main([*base, "--out", str(tmp_path / "x.csv"), "--at", "someday"]) == 2
    assert "Tue 23:00" in capsys.readouterr().err
    # at 03:00 on a holiday-less Wednesday with only day pharmacies: nobody is served, said so
    pharmacies.iloc[[1]].to_csv(fac, index=False, encoding="gbk")
    assert main([*base, "--out", str(tmp_path / "none.csv"), "--at", "Wed 03:00"]) == 0
    assert "0 of 1" in capsys.readouterr().err
    nobody = pd.read_csv(tmp_path / "none.csv")
    assert nobody["time_s"].isna().all() and set(nobody["status"]) == {"unreachable"}


def test_analyze_reports_open_when_needed_and_at(street, tmp_path, capsys):
    from service_circle.cli import main

    folder = tmp_path / "study"
    street.save(folder)
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(folder), "--out", str(out), "--minutes", "5",
                 "--profile", "adult", "--lang", "zh"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "需要时是否开着" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    windows = {w["window"]: w for w in report["open_when_needed"]["windows"]}
    assert windows["24h"]["covered"] == pytest.approx(_hand_count(["A", "C"]))
    assert report["open_when_needed"]["unknown_hours"] == "open" and report["at"] is None
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "24小时药房覆盖率" in page and "1处设施营业时间不明" in page
    assert (out / "open_when_needed.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "windows/pharmacy/night" in page and "windows/pharmacy/24h" in page
    night = tmp_path / "night"
    assert main(["analyze", "--study", str(folder), "--out", str(night), "--minutes", "5",
                 "--profile", "adult", "--at", "Wed 03:00", "--unknown-hours", "closed",
                 "--lang", "en"]) == 0  # fmt: skip
    report = json.loads((night / "report.json").read_text(encoding="utf-8"))
    assert report["at"] == {
        "at": "2026-03-11T03:00",
        "unknown_hours": "closed",
        "facilities_open": 1,
        "facilities": 3,
        "assumed_open": 0,
    }
    row = next(r for r in report["coverage"] if r["category"] == "pharmacy")
    assert row["covered"] == pytest.approx(_hand_count(["A"]))
    assert "Only facilities open at Wed 03:00 count: 1 of 3" in (night / "report.html").read_text(
        encoding="utf-8")  # fmt: skip
    assert main(["analyze", "--study", str(folder), "--out", str(tmp_path / "bad"),
                 "--at", "25:00"]) == 2  # fmt: skip
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def street_client(street, tmp_path_factory):
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    studies = tmp_path_factory.mktemp("hour-studies")
    street.save(studies / "street")
    with TestClient(create_app(Settings(studies_dir=studies))) as c:
        yield c


def test_the_api_answers_at_a_time(street_client):
    params = {"category": "pharmacy", "minutes": "5", "profile": "adult"}
    every = street_client.get("/studies/street/coverage", params=params).json()[0]
    night = street_client.get("/studies/street/coverage", params={
        **params, "at": "Wed 03:00", "unknown_hours": "closed"}).json()[0]  # fmt: skip
    assert every["covered"] == pytest.approx(_hand_count(["A", "B", "C"]))
    assert night["covered"] == pytest.approx(_hand_count(["A"]))
    assert night["facilities"] == 1
    gaps = street_client.get("/studies/street/gaps", params={**params, "at": "周三 03:00"})
    people = sum(f["properties"]["population"] for f in gaps.json()["features"])
    assert people == pytest.approx(410 - _hand_count(["A", "C"]))
    fac = street_client.get(
        "/studies/street/facilities", params={"at": "Wed 12:00", "unknown_hours": "closed"}
    )
    assert [f["properties"]["id"] for f in fac.json()["features"]] == ["A", "B"]
    reach = street_client.post("/studies/street/reach", json={
        "lon": float(gpd.GeoSeries(shapely.points([X0 + 2000], [Y0]), crs=32650).to_crs(4326)
                     .x.iloc[0]),
        "lat": float(gpd.GeoSeries(shapely.points([X0 + 2000], [Y0]), crs=32650).to_crs(4326)
                     .y.iloc[0]),
        "minutes": 5, "at": "Wed 23:00", "unknown_hours": "closed"}).json()  # fmt: skip
    assert [
        f["properties"]["id"] for f in reach["features"] if f["properties"]["kind"] == "facility"
    ] == []  # B is closed at 23:00
    report = street_client.get("/studies/street/report", params={"at": "Wed 03:00"}).json()
    assert report["at"]["facilities_open"] == 2 and report["at"]["assumed_open"] == 1
    assert {w["window"] for w in report["open_when_needed"]["windows"]} == {
        "all_hours", "night", "24h"}  # fmt: skip
    bad = street_client.get("/studies/street/coverage", params={**params, "at": "Tue 25:00"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "at"]
    assert "'Tue 25:00'" in bad.json()["detail"][0]["msg"]
    assert "周二 23:00" in bad.json()["detail"][0]["msg"]
    body = street_client.post("/studies/street/reach", json={"lon": 116.3, "lat": 39.9,
                                                            "at": "never"})  # fmt: skip
    assert body.status_code == 422 and "Tue 23:00" in body.json()["detail"][0]["msg"]
    schema = street_client.get("/openapi.json").json()
    assert "周" in json.dumps(schema, ensure_ascii=False)  # the forms are in the schema
