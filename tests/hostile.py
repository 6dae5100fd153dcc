"""A study whose every text field is an attack: for the injection tests.

POI names, their source, a user catalogue's category names, community names and the
study's own name carry script that would run if any of them reached a page unescaped.
Each payload sets its own ``window.__pwned`` value, so a test can tell which one ran.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import geopandas as gpd
import shapely

PAYLOADS = (
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "${window.__pwned=3}`",
    "\u2028'\"--><svg onload=window.__pwned=4>",
)
#: Template syntax: Jinja2 (folium renders its scripts with it) and JavaScript template
#: literals. Evaluated, the first would read 49, the third would set SC_PWNED.
TEMPLATES = (
    "{{ 7*7 }}便利店",
    "{% if 1 %}evaluated{% endif %}{# hidden #}超市",
    "{{ cycler.__init__.__globals__.os.environ.__setitem__('SC_PWNED', '1') }}",
    "`${7*7}` {{ '\\x3c' }}",
)
STUDY_NAME = "<img src=x onerror=window.__pwned=5>{{ 6*7 }}"
CATEGORY_NAME_ZH = "<script>window.__pwned=6</script>{{ 8*8 }}药店"
CATEGORY_NAME_EN = "pharmacy ${window.__pwned=7}"
AREA_NAME = '<b onmouseover="window.__pwned=8">{{ 5*5 }}社区</b>'


def hostile_catalogue(folder: Path) -> Path:
    """The built-in catalogue with the pharmacy's names replaced by payloads."""
    text = resources.files("service_circle").joinpath("data/categories.toml").read_text("utf-8")
    text = text.replace('name_zh = "药店"', f"name_zh = {json.dumps(CATEGORY_NAME_ZH)}", 1)
    text = text.replace('name_en = "pharmacy"', f"name_en = {json.dumps(CATEGORY_NAME_EN)}", 1)
    path = folder / "hostile-catalogue.toml"
    path.write_text(text, encoding="utf-8")
    return path


def hostile_study(sample_cache: Path, folder: Path):
    """The sample study, renamed and with hostile names; saved under ``folder``."""
    import dataclasses

    from service_circle.catalogue import load_catalogue
    from service_circle.provenance import Source
    from service_circle.sample import sample_study

    study = sample_study(sample_cache)
    facilities = study.facilities.copy()
    pharmacies = facilities.index[facilities["category"] == "pharmacy"]
    for row, payload in zip(pharmacies, PAYLOADS, strict=False):
        facilities.loc[row, "name"] = payload
    stores = facilities.index[facilities["category"] == "convenience_store"]
    for row, payload in zip(stores, TEMPLATES, strict=False):
        facilities.loc[row, "name"] = payload
    facilities["source"] = PAYLOADS[1]
    catalogue = load_catalogue(hostile_catalogue(folder))
    # a bureau's file named by hostile text: its attribution reaches every map's corner
    sources = (
        *study.sources,
        Source("facilities", PAYLOADS[1], PAYLOADS[1]),
        Source("facilities", TEMPLATES[0], TEMPLATES[2]),
    )
    hostile = dataclasses.replace(
        study, name=STUDY_NAME, facilities=facilities, catalogue=catalogue, sources=sources,
        units=hostile_units(study), _searches={},
    )  # fmt: skip
    hostile.save(folder / "studies" / STUDY_NAME)
    return hostile


def hostile_areas(study) -> gpd.GeoDataFrame:
    """One community polygon around the study, with a hostile name."""
    box = shapely.box(*study.demand.total_bounds)
    return gpd.GeoDataFrame({"name": [AREA_NAME]}, geometry=[box], crs=4326)


def hostile_units(study) -> gpd.GeoDataFrame:
    """Two planning units over the study whose names, codes and township are attacks."""
    from service_circle.units import units_from_frame

    x0, y0, x1, y1 = study.demand.total_bounds
    xm = (x0 + x1) / 2
    frame = gpd.GeoDataFrame(
        {"name": [AREA_NAME, PAYLOADS[0]], "code": [PAYLOADS[3], "u2"],
         "类型": ["城市社区", "城市社区"], "街道": [PAYLOADS[2], PAYLOADS[2]]},
        geometry=[shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)], crs=4326,
    )  # fmt: skip
    return units_from_frame(frame, what="hostile units")[0]
