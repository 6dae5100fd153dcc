"""Classification that can be trusted: real-looking Chinese POIs, labelled, and a floor.

``tests/data/poi_corpus.csv`` holds POIs as OSM China and Amap exports carry them — names,
tags, typecodes — with the category each one is (or none): positives for every category and
the negatives that fooled the keyword matcher (a car park named after a kindergarten, a
dental hospital, a pet hospital, a township government, a sorting centre …).
``python bench/classify.py`` prints the same table.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from service_circle._errors import InputError
from service_circle.catalogue import classification_scores, load_catalogue, parse_catalogue

CORPUS = Path(__file__).parent / "data" / "poi_corpus.csv"
FLOOR = 0.95


def corpus() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_category_is_found_with_precision_and_recall_of_095():
    rows = corpus()
    assert len(rows) >= 200
    scores = classification_scores(rows)
    for s in scores:
        assert s["positives"] >= 5, f"{s['category']}: too few labelled examples"
        assert not math.isnan(s["precision"]) and s["precision"] >= FLOOR, (
            s["category"],
            s["errors"],
        )
        assert s["recall"] >= FLOOR, (s["category"], s["errors"])
    negatives = [r for r in rows if not r["expected"]]
    assert len(negatives) >= 50  # the tricky ones, for every kind of mistake


@pytest.mark.parametrize(
    ("name", "tags", "typecode", "expected"),
    [
        ("碾伯街道社区卫生服务中心", None, "090300", ["health_centre"]),  # not a station
        ("平安街道社区卫生服务中心", {"amenity": "clinic"}, None, ["health_centre"]),
        ("海东皮肤病专科医院", None, "090100", []),
        ("美年口腔医院", {"amenity": "hospital"}, None, []),
        ("乐都区第一幼儿园停车场", {"amenity": "parking"}, None, []),
        ("海东市第一幼儿园停车场", None, "150900", []),
        ("瑞鹏宠物医院", None, None, []),
        ("邻家便利超市", None, None, ["convenience_store"]),  # the longer keyword
        ("互助县威远镇卫生院", None, None, ["township_health_centre"]),  # the rural tier
        ("高庙村村委会", {"office": "government"}, None, ["village_service"]),  # not urban
        ("高庙村卫生室", {"amenity": "clinic"}, None, ["village_clinic"]),
        (
            "平安街道党群服务中心",
            {"amenity": "community_centre"},
            None,
            ["street_service_centre"],
        ),  # the street tier, apart from the community station
        ("乐都区邮政局", {"amenity": "post_office"}, None, ["post_office"]),  # not a locker
        ("永辉超市", {"shop": "supermarket"}, None, ["supermarket"]),  # not the fresh market
        ("碾伯镇幼儿园公厕", None, None, ["public_toilet"]),  # the head noun decides
        ("全家便利店(碾伯店)", None, None, ["convenience_store"]),
        ("碾伯镇政府", {"office": "government"}, None, []),
        ("西关街社区居委会", {"office": "government"}, None, ["community_service"]),
    ],
)
def test_the_mistakes_the_issue_names(name, tags, typecode, expected):
    if tags is not None:
        tags = {**tags, "name": name}
    assert load_catalogue().classify(name, tags=tags, typecode=typecode) == expected


def test_exclusions_are_checked_when_a_catalogue_is_read():
    entry = {
        "key": "x", "name_zh": "x", "name_en": "x", "level": "5min", "minutes": 5,
        "metres": 300, "group": "everyone", "capacity_unit": "none", "exclude": "口腔",
    }  # fmt: skip
    with pytest.raises(InputError, match=r"\('x'\): field 'exclude' must be a list"):
        parse_catalogue({"category": [entry]}, source="mine.toml")
    with pytest.raises(InputError, match="'exclude' must be a list of name keywords"):
        parse_catalogue({"category": [{**entry, "exclude": []}], "exclude": "停车场"},
                        source="mine.toml")  # fmt: skip
    with pytest.raises(InputError, match="unknown category 'nope'"):
        classification_scores([{"name": "a", "tags": "", "typecode": "", "expected": "nope"}])
