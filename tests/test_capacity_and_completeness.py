"""2SFCA against a hand-computed case; completeness; neighbourhood queries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from networks import X0, Y0, street_network

from service_circle import InputError
from service_circle.accessibility import access_summary, gaussian_weight, two_step_fca
from service_circle.completeness import completeness, completeness_summary
from service_circle.coords import wgs84_to_gcj02
from service_circle.cost import Threshold
from service_circle.demand import with_groups
from service_circle.neighbourhood import neighbourhood
from service_circle.study import Study


@pytest.fixture(scope="module")
def street_study():
    # one straight 1 km street; childcare A at 100 m (10 places), B at 900 m (20 places)
    net = street_network([(0, 0), (500, 0), (1000, 0)], [(0, 1), (1, 2)])
    facilities = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "category": ["childcare", "childcare", "pharmacy"],
         "capacity": [10.0, 20.0, np.nan]},
        geometry=shapely.points([[X0 + 100, Y0], [X0 + 900, Y0], [X0 + 500, Y0]]),
        crs="EPSG:32650",
    )  # fmt: skip
    demand = gpd.GeoDataFrame(
        {"id": ["h0", "h500", "h1000"], "population": [100.0, 200.0, 300.0],
         "pop_0_3": [4.0, 6.0, 10.0]},
        geometry=shapely.points([[X0, Y0], [X0 + 500, Y0], [X0 + 1000, Y0]]),
        crs="EPSG:32650",
    )  # fmt: skip
    return Study.build(net, facilities, with_groups(demand), name="street")


def test_two_step_fca_by_hand(street_study):
    access = two_step_fca(street_study, "childcare", Threshold.metres(450))
    # R_A = 10 / (4 + 6) = 1; R_B = 20 / (6 + 10) = 1.25
    np.testing.assert_allclose(access["access"], [1.0, 2.25, 1.25], rtol=1e-6)
    np.testing.assert_allclose(access["access_per_1000"], [1000, 2250, 1250], rtol=1e-6)
    summary = access_summary(access, "pop_0_3")
    # all 30 places serve all 20 children: 1.5 places per child on average
    assert summary["access"] == pytest.approx((4 * 1 + 6 * 2.25 + 10 * 1.25) / 20)
    assert summary["access"] == pytest.approx(30 / 20)
    assert access.attrs["facilities_used"] == 2
    west = np.array([True, True, False])  # a neighbourhood holding h0 and h500
    assert access_summary(access, "pop_0_3", west)["access"] == pytest.approx(
        (4 * 1 + 6 * 2.25) / 10
    )


def test_gaussian_variant_by_hand(street_study):
    access = two_step_fca(street_study, "childcare", Threshold.metres(450), decay="gaussian")
    w100, w400 = gaussian_weight(np.array([100.0, 400.0]), 450.0)
    r_a = 10 / (w100 * 4 + w400 * 6)
    r_b = 20 / (w400 * 6 + w100 * 10)
    np.testing.assert_allclose(
        access["access"], [w100 * r_a, w400 * (r_a + r_b), w100 * r_b], rtol=1e-6
    )
    assert gaussian_weight(np.array([0.0, 450.0]), 450.0).tolist() == [1.0, 0.0]


def test_facilities_without_capacity_are_counted_not_invented(street_study):
    access = two_step_fca(street_study, "pharmacy", Threshold.minutes(10))
    assert access.attrs["facilities_without_capacity"] == 1
    assert access.attrs["facilities_used"] == 0
    assert (access["access"] == 0).all()
    with pytest.raises(InputError, match="decay"):
        two_step_fca(street_study, "childcare", Threshold.minutes(5), decay="linear")


def test_completeness_lists_what_is_missing(street_study):
    table = completeness(street_study, scheme="basic")
    required = table["required"].iloc[0]
    assert required == sum(c.basic_guarantee for c in street_study.catalogue)
    # only the pharmacy exists; it is 500 m from the ends: 5.8 min at 1.43 m/s, beyond the
    # 5 minutes of GB 50180's 5-minute 社区商业网点 (300 m); the middle home has it
    assert table["reached"].tolist() == [0, 1, 0]
    assert "convenience_store" in table["missing"].iloc[0]
    assert "pharmacy" in table["missing"].iloc[0] and "pharmacy" not in table["missing"].iloc[1]
    summary = completeness_summary(table)
    assert summary["score"] == pytest.approx(1 / 3 / required)
    assert summary["missing_share"]["convenience_store"] == pytest.approx(1.0)
    full = completeness(street_study)
    assert full["required"].iloc[0] == len(street_study.catalogue)


def test_neighbourhood_in_wgs84_and_gcj02(street_study):
    box = gpd.GeoSeries(
        [shapely.box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 50)], crs="EPSG:32650"
    ).to_crs(4326)
    polygon = box.iloc[0]
    result = neighbourhood(street_study, polygon, [Threshold.metres(450)], categories=["childcare"])
    assert result["homes"] == 2 and result["population"] == 300
    row = result["coverage"].iloc[0]
    assert row["population"] == 300 and row["covered"] == 300
    shifted = shapely.transform(
        polygon, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    same = neighbourhood(
        street_study, shapely.geometry.mapping(shifted), [Threshold.metres(450)],
        crs="gcj02", categories=["childcare"],
    )  # fmt: skip
    assert same["homes"] == 2
    # read as WGS-84, the shifted polygon misses the homes: the crs matters
    wrong = neighbourhood(street_study, shifted, [Threshold.metres(450)], categories=["childcare"])
    assert wrong["homes"] < 2
    bowtie = shapely.Polygon([(116, 40), (116.01, 40.01), (116.01, 40), (116, 40.01)])
    repaired = neighbourhood(street_study, bowtie, [Threshold.minutes(5)])
    assert "not valid" in repaired["note"] and "repaired" in repaired["note"]
    assert same["note"] is None
    with pytest.raises(InputError, match="Polygon"):
        neighbourhood(street_study, shapely.Point(116, 40), [Threshold.minutes(5)])


def test_plan_report_computes_what_it_can_and_says_what_it_cannot(street_study, tmp_path):
    import json

    from service_circle.indicators import Report, load_targets, plan_report, write_report
    from service_circle.judging import judging_rule
    from service_circle.pipeline import judged_coverage
    from service_circle.plan import plan_indicators

    report = {i.key: i for i in plan_report(street_study)}
    places = report["childcare_places_per_1000"]
    assert places.value == pytest.approx(30 / 600 * 1000)  # 30 places, 600 residents
    assert places.target == 4.8 and places.status == "met" and places.basis == "modelled"
    assert report["care_bed_share"].status == "not computable"
    assert report["sports_area_per_capita"].value is None
    assert "none given" in report["sports_area_per_capita"].note
    elderly = report["home_community_elderly_care_coverage"]  # counted over units: none given
    assert elderly.value is None and "planning units" in elderly.note
    national = {i.key: i for i in plan_report(street_study, preset="national")}
    assert national["childcare_places_per_1000"].target == 4.5
    mine = tmp_path / "targets.toml"
    mine.write_text('[preset.district]\nlabel = "our district"\nchildcare_places_per_1000 = 60\n'
                    'sports_area_per_resident = 3\n')  # fmt: skip
    ours = {i.key: i for i in plan_report(street_study, preset="district", targets_file=mine)}
    assert ours["childcare_places_per_1000"].status == "not met"
    assert load_targets("district", mine)["sports_area_per_capita"] == 3  # its former name
    with pytest.raises(InputError, match="no preset 'moon'"):
        load_targets("moon")
    mine.write_text('[preset.bad]\nchildcare_places_per_1000 = "many"\n')
    with pytest.raises(InputError, match="must be a number"):
        load_targets("bad", mine)
    rule = judging_rule(street_study.catalogue, ["childcare", "pharmacy"])
    table = judged_coverage(street_study, rule)
    plan = plan_indicators(street_study, rule, load_targets("haidong_2025"))
    paths = write_report(Report(street_study, plan, table, load_targets("haidong_2025")), tmp_path)
    data = json.loads(paths[0].read_text())
    assert data["indicators"][0]["key"] == "childcare_places_per_1000"
    assert data["indicators"][0]["formula"].startswith("Σ 0-3 places")
    page = paths[2].read_text()
    assert "<svg" in page and "托位" in page
    # built from arrays, not from OSM: the report says so, and does not claim OSM's licence
    assert "street network given by the user" in page and "OpenStreetMap" not in page
