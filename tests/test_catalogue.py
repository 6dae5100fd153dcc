"""The category catalogue: the built-in file and user catalogues."""

from __future__ import annotations

import pytest

from service_circle import InputError
from service_circle._errors import UnknownCategoryError
from service_circle.catalogue import GROUPS, load_catalogue
from service_circle.cli import main

STANDARDS_KEYS = {
    "elderly_canteen", "elderly_daycare", "nursing_home", "childcare", "kindergarten",
    "primary_school", "health_station", "health_centre", "pharmacy", "convenience_store",
    "fresh_market", "sports", "community_service", "parcel_point",
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
    assert all(c.group in GROUPS for c in cat)


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
    assert main(["categories"]) == 0
    assert "elderly canteen" in capsys.readouterr().out
