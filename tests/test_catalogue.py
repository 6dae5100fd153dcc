"""The category catalogue: the built-in file and user catalogues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service_circle import InputError
from service_circle._errors import UnknownCategoryError
from service_circle.catalogue import GROUPS, age_band, load_catalogue
from service_circle.cli import main
from service_circle.cost import Threshold

STANDARDS_KEYS = {
    "elderly_canteen", "elderly_daycare", "nursing_home", "childcare", "kindergarten",
    "primary_school", "health_station", "health_centre", "pharmacy", "convenience_store",
    "fresh_market", "sports", "community_service", "parcel_point",
    # GB 50180-2018 appendix B entries and MOFCOM formats (issue 16)
    "middle_school", "culture_station", "culture_centre", "outdoor_fitness", "public_toilet",
    "recycling_point", "community_canteen", "elderly_care_home", "supermarket", "print_photo",
    "street_service_centre", "post_office",
    # TD/T 1062-2021 rural tiers
    "village_service", "village_clinic", "township_health_centre", "mutual_aid_home",
    "township_elderly_centre", "rural_parcel_station",
}  # fmt: skip
#: (tier, walking metres) the standards give (GB 50180-2018 appendices B and C).
TIERS = {
    "pharmacy": ("5min", 300), "laundry": ("5min", 300), "hairdresser": ("5min", 300),
    "convenience_store": ("block", 300), "parcel_point": ("block", 300),
    "post_office": ("15min", 1000), "street_service_centre": ("15min", 1000),
    "community_service": ("5min", 300), "middle_school": ("15min", 1000),
    "primary_school": ("10min", 500), "kindergarten": ("5min", 300),
    "culture_station": ("5min", 300), "culture_centre": ("15min", 1000),
    "outdoor_fitness": ("5min", 300), "fresh_market": ("10min", 500),
    "elderly_care_home": ("15min", 1000), "village_clinic": ("village", 1000),
    "township_health_centre": ("township", 1000),
}  # fmt: skip


def test_builtin_catalogue_covers_standards_and_mofcom():
    cat = load_catalogue()
    assert set(cat.keys()) >= STANDARDS_KEYS
    basic = {c.key for c in cat if c.basic_guarantee}
    assert {"convenience_store", "fresh_market", "pharmacy", "breakfast", "hairdresser"} <= basic
    assert cat["elderly_canteen"].group == "60plus"
    assert cat["childcare"].group_column == "pop_0_3"
    assert cat["kindergarten"].metres == 300 and cat["primary_school"].minutes == 10
    assert cat["kindergarten"].name("zh") == "幼儿园"
    assert all(c.group in GROUPS or age_band(c.group) for c in cat)
    assert cat["middle_school"].group == "12_15" and cat["middle_school"].group_column == (
        "pop_12_15"
    )


def test_catalogue_follows_the_standards():
    cat = load_catalogue()
    for key, (level, metres) in TIERS.items():
        assert (cat[key].level, cat[key].metres) == (level, metres), key
    # every entry cites its clause; the rural tiers and the township circle by road
    assert all(c.clause for c in cat)
    assert "B.0.2" in cat["pharmacy"].clause and "TD/T 1062" in cat["village_clinic"].clause
    assert {c.key for c in cat if c.level in ("village", "township")} == {
        "village_service", "village_clinic", "mutual_aid_home", "rural_parcel_station",
        "township_health_centre", "township_elderly_centre",
    }  # fmt: skip
    assert cat["township_health_centre"].road_minutes == 30
    # MOFCOM's two formats apart
    assert cat["print_photo"].mofcom == "quality" and not cat["print_photo"].basic_guarantee
    assert cat["supermarket"].format_name("zh") == "基本保障类"
    assert cat["kindergarten"].mofcom == ""
    # aliases resolve
    assert cat.resolve("托老所") == "elderly_daycare"
    assert cat.resolve("村卫生室") == "village_clinic"
    assert cat.resolve("公共厕所") == "public_toilet"


def test_classification_rules():
    cat = load_catalogue()
    assert cat.classify_tags({"amenity": "kindergarten"}) == ["kindergarten"]
    assert cat.classify_tags({"amenity": "school", "isced:level": "1"}) == ["primary_school"]
    assert cat.classify_tags({"amenity": "school"}) == []
    assert cat.classify_tags({"amenity": "restaurant", "name": "学院路长者食堂"}) == [
        "elderly_canteen"
    ]
    assert cat.classify_tags({"name": "长者食堂"}) == []  # not a POI: no amenity/shop tag
    assert cat.classify_name("全家便利超市") == "convenience_store"  # the longest keyword wins
    assert cat.classify_typecode("141204") == ["kindergarten"]
    # Amap lists a POI's primary type first: the first code's category comes first
    assert cat.classify_typecode("080104|060200") == ["sports", "convenience_store"]
    assert cat.classify_typecode("060200|090601") == ["convenience_store", "pharmacy"]
    with pytest.raises(UnknownCategoryError, match="elderly_canteen"):
        cat["old_people_canteen"]


BROKEN = {
    'level = "5min"': ('level = "3min"', "field 'level' is '3min'"),
    "minutes = 5\n": ("minutes = -5\n", "field 'minutes' must be a positive number"),
    'name_zh = "便利店"': ("", "field 'name_zh' is missing"),
    'osm = [{ shop = ["convenience"] }]': ('osm = ["shop"]', "field 'osm' must be a list"),
}


@pytest.mark.parametrize("change", list(BROKEN))
def test_malformed_catalogue_names_entry_and_field(tmp_path, change):
    text = """
[[category]]
key = "convenience_store"
name_zh = "便利店"
name_en = "convenience store"
level = "5min"
minutes = 5
metres = 300
group = "everyone"
capacity_unit = "none"
osm = [{ shop = ["convenience"] }]
keywords = ["便利店"]
amap_typecodes = ["060200"]
"""
    replacement, message = BROKEN[change]
    assert change in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(change, replacement), encoding="utf-8")
    with pytest.raises(InputError, match=r"category #1 \('convenience_store'\)") as info:
        load_catalogue(path)
    assert message in str(info.value)
    path.write_text(text, encoding="utf-8")
    assert load_catalogue(path).keys() == ["convenience_store"]


ENTRY = """
[[category]]
key = "{key}"
name_zh = "初中"
name_en = "middle school"
level = "{level}"
minutes = 15
metres = 1000
group = "{group}"
capacity_unit = "places"
{extra}
osm = []
keywords = ["初中"]
amap_typecodes = []
"""


def _entry(key="middle_school", level="15min", group="12_15", extra=""):
    return ENTRY.format(key=key, level=level, group=group, extra=extra)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_entry() + _entry(), r"category #2 \('middle_school'\): the key is used twice"),
        (_entry(level="20min"), r"field 'level' is '20min', expected one of block, 5min"),
        (_entry(group="teens"), r"field 'group' is 'teens', expected everyone, an age band"),
        (_entry(group="15_12"), r"field 'group' is '15_12'"),
        (
            _entry(extra='basic_guarantee = true\nmofcom = "quality"'),
            r"basic_guarantee = true contradicts mofcom = 'quality'",
        ),
        (_entry(extra='mofcom = "premium"'), r"field 'mofcom' is 'premium'"),
        (_entry(extra='exclude = ["初"]'), r"keyword\(s\) 初中 hold one of its own exclusions"),
        (_entry(extra="road_minutes = -3"), r"field 'road_minutes' must be a positive number"),
    ],
)
def test_contradictory_catalogue_refused_with_the_entry(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_catalogue(path)


def test_any_age_band_is_accepted(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(_entry() + _entry(key="senior_high", group="15_18") +
                    _entry(key="very_old", group="80plus"), encoding="utf-8")  # fmt: skip
    cat = load_catalogue(path)
    assert [c.group_column for c in cat] == ["pop_12_15", "pop_15_18", "pop_80plus"]


def test_catalogue_file_problems(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[category]\nkey=", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_catalogue(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("version = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no \\[\\[category\\]\\] entries"):
        load_catalogue(empty)


def test_categories_command(capsys):
    assert main(["categories", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "老年食堂" in out and "141204" in out
    # every category with its tier, distance, group and clause
    for text in (
        "村/组层级",
        "乡集镇层级",
        "十五分钟生活圈",
        "品质提升类",
        "12_15",
        "TD/T 1062",
        "B.0.2",
        "road 30 min",
    ):
        assert text in out, text
    assert main(["categories"]) == 0
    assert "elderly canteen" in capsys.readouterr().out


def _band_study(tmp_path, group):
    from service_circle.demand import with_groups
    from service_circle.study import Study
    from service_circle.synthetic import grid_network, random_points

    path = tmp_path / "bands.toml"
    path.write_text(_entry(key="senior_high", group=group), encoding="utf-8")
    cat = load_catalogue(path)
    net = grid_network(8, seed=1)
    fac = random_points(net, 2, seed=1).assign(category="senior_high")
    homes = with_groups(random_points(net, 30, seed=2).assign(population=100.0))
    return Study.build(net, fac, homes, catalogue=cat)


def test_a_band_the_demand_lacks_comes_from_the_census(tmp_path):
    from service_circle.demand import band_share

    study = _band_study(tmp_path, "15_18")
    # ages 15, 16 and 17: three fifths of the census 15-19 group
    assert band_share("15_18") == pytest.approx(0.0515 * 3 / 5)
    np.testing.assert_allclose(study.demand["pop_15_18"], 100.0 * band_share("15_18"))
    assert "census 2020" in study.demand.attrs["groups_from_shares"]["pop_15_18"]
    reach = study.search("senior_high", Threshold.minutes(15))
    assert reach.point_cost.shape == (30,)


def test_a_group_the_demand_cannot_supply_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"no 'pop_90plus' column .* cannot give group '90plus'"):
        _band_study(tmp_path, "90plus")


def test_every_entry_is_documented():
    text = (Path(__file__).parent.parent / "docs" / "standards.md").read_text(encoding="utf-8")
    for c in load_catalogue():
        assert f"| `{c.key}` |" in text, c.key
