"""Facilities from OSM tags.

A category is matched by tag rules: a rule is a mapping ``{key: values}`` that matches a
feature when every key carries one of its values (``True`` matches any value); a category
matches when any of its rules does. This module holds the matching and the OSM reader;
the full category catalogue (Chinese and English names, thresholds, Amap typecodes,
capacity units) arrives with the catalogue issue and plugs into the same rules.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from service_circle._errors import InputError, InputNotFoundError

logger = logging.getLogger(__name__)

TagRule = Mapping[str, Sequence[str] | bool]


@dataclass(frozen=True)
class Category:
    """A facility category and the OSM tag rules that find it.

    Parameters
    ----------
    key
        Short identifier, e.g. ``"pharmacy"``.
    name_en, name_zh
        Display names.
    rules
        Tag rules; a feature belongs to the category when any rule matches.
    """

    key: str
    name_en: str
    name_zh: str
    rules: tuple[TagRule, ...]

    def osm_keys(self) -> set[str]:
        """The OSM keys the rules look at."""
        return {k for rule in self.rules for k in rule}

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether a feature with these tags belongs to the category."""
        return any(_rule_matches(rule, tags) for rule in self.rules)


def _rule_matches(rule: TagRule, tags: Mapping[str, str]) -> bool:
    for key, wanted in rule.items():
        value = tags.get(key)
        if value is None:
            return False
        if wanted is True:
            continue
        if not {v.strip() for v in str(value).split(";")} & set(wanted):
            return False
    return True


def feature_tags(features: pd.DataFrame, keys: set[str]) -> list[dict[str, str]]:
    """Tags of each pyrosm feature: its tag columns merged with its JSON ``tags`` column."""
    out = []
    columns = [k for k in keys if k in features.columns]
    n = len(features)
    extra = features["tags"].to_numpy(dtype=object) if "tags" in features else [None] * n
    records = features[columns].to_dict("records") if columns else [{}] * n
    for record, raw in zip(records, extra, strict=True):
        tags = {k: str(v) for k, v in record.items() if isinstance(v, str) and v}
        if isinstance(raw, str) and raw:
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = {}
            tags.update({k: str(v) for k, v in parsed.items() if k in keys and k not in tags})
        out.append(tags)
    return out


def osm_ids(osm_type: Sequence[str], osm_id: Sequence[int]) -> list[str]:
    """OSM feature ids as ``"node/123"``, ``"way/456"``, unique across element types."""
    return [f"{t}/{int(i)}" for t, i in zip(osm_type, osm_id, strict=True)]


def facilities_from_osm(
    path: str | os.PathLike, categories: Sequence[Category]
) -> gpd.GeoDataFrame:
    """Facilities of the given categories from an ``.osm.pbf`` file (WGS-84).

    Polygons (a school's grounds) become a point inside them. A feature that matches
    several categories yields one row per category.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id`` (``"node/123"``, ``"way/456"``), ``osm_id``, ``osm_type``, ``name``,
        ``category``, and point geometry in EPSG:4326.
    """
    import pyrosm

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"OSM file {path} does not exist")
    keys = set().union(*(c.osm_keys() for c in categories))
    top_keys = {k: True for k in keys if ":" not in k}
    try:
        pois = pyrosm.OSM(str(path)).get_pois(custom_filter=top_keys)
    except Exception as exc:
        raise InputError(f"cannot read POIs from {path} ({type(exc).__name__}: {exc})") from None
    columns = ["id", "osm_id", "osm_type", "name", "category", "geometry"]
    if pois is None or pois.empty:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs="EPSG:4326")
    tags = feature_tags(pois, keys | {"name"})
    rows, cats = [], []
    for i, t in enumerate(tags):
        for cat in categories:
            if cat.matches(t):
                rows.append(i)
                cats.append(cat.key)
    picked = pois.iloc[rows]
    geoms = picked.geometry.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    geoms = geoms.copy()
    geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    osm_type = picked["osm_type"].astype(str).to_numpy()
    osm_id = picked["id"].to_numpy(np.int64)
    names = picked["name"] if "name" in picked else pd.Series([None] * len(picked))
    frame = gpd.GeoDataFrame(
        {
            "id": osm_ids(osm_type, osm_id),
            "osm_id": osm_id,
            "osm_type": osm_type,
            "name": names.to_numpy(dtype=object),
            "category": cats,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    logger.info("%s: %d facilities in %d categories", path, len(frame), frame.category.nunique())
    return frame
