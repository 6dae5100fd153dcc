"""A Study: network + facilities + demand, compiled and snapped once, queried many times.

Built with :meth:`Study.build` (or ``service-circle build``), saved to a folder and loaded
back in a fraction of a second. Searches are cached per (category, profile) — unbounded, so
that every threshold of that profile is answered from one search — and per category for
network distance.

A study folder holds ``study.json`` (name, catalogue, snapping options, provenance),
``network.npz``, ``facilities.gpkg``, ``demand.gpkg``, ``snapped.npz`` and, when the
catalogue was the user's, ``catalogue.toml``. It is written to a temporary folder and
renamed into place, so a reader never sees half a study.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np

from service_circle._errors import InputError, InputNotFoundError
from service_circle.catalogue import Catalogue, load_catalogue
from service_circle.compiled import WalkNetwork, load_compiled
from service_circle.demand import AGE_COLUMNS
from service_circle.engine import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_MIN_PIECE_M,
    Snapped,
    TravelTimes,
    network_distances,
    snap,
    travel_times,
)
from service_circle.profiles import Profile, Threshold, get_profile

logger = logging.getLogger(__name__)

FORMAT = "service-circle/study"
FORMAT_VERSION = 1
_STATUS = ("ok", "off_network", "blocked", "no_geometry")


@dataclass(eq=False)
class Study:
    """A planning study: everything compiled and snapped once.

    Attributes
    ----------
    name
        The study's name (its folder name by default).
    network
        The compiled walking network.
    facilities
        Facilities (WGS-84 points) with at least ``id`` and ``category``.
    demand
        Demand points (WGS-84) with ``id``, ``population`` and the age-group columns.
    catalogue
        The category catalogue.
    facility_snap, demand_snap
        The facilities and demand points placed on the network (row-aligned).
    """

    name: str
    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    catalogue: Catalogue
    facility_snap: Snapped
    demand_snap: Snapped
    _searches: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        network: WalkNetwork,
        facilities: gpd.GeoDataFrame,
        demand: gpd.GeoDataFrame,
        *,
        name: str = "study",
        catalogue: Catalogue | None = None,
        barriers: gpd.GeoSeries | None = None,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        min_piece_m: float = DEFAULT_MIN_PIECE_M,
    ) -> Study:
        """Snap facilities and demand to the network once and hold them together."""
        catalogue = catalogue or load_catalogue()
        for column in ("id", "category"):
            if column not in facilities.columns:
                raise InputError(f"facilities need an {column!r} column")
        unknown = sorted(set(facilities["category"]) - set(catalogue.keys()))
        if unknown:
            raise InputError(
                f"facilities of categories the catalogue does not know: {', '.join(unknown)}"
            )
        if "population" not in demand.columns:
            raise InputError("demand points need a 'population' column")
        demand = demand.copy()
        for col in AGE_COLUMNS:
            if col not in demand.columns:
                raise InputError(
                    f"demand points need the age-group column {col!r}: build them with "
                    "service_circle.demand (it fills missing groups from default shares)"
                )
        options = {"max_snap_m": max_snap_m, "min_piece_m": min_piece_m, "barriers": barriers}
        facilities = facilities.to_crs("EPSG:4326").reset_index(drop=True)
        demand = demand.to_crs("EPSG:4326").reset_index(drop=True)
        return cls(
            name=name,
            network=network,
            facilities=facilities,
            demand=demand,
            catalogue=catalogue,
            facility_snap=snap(network, facilities, what="facilities", **options),
            demand_snap=snap(network, demand, what="demand points", **options),
        )

    # ------------------------------------------------------------------ queries
    def facilities_of(self, category: str) -> Snapped:
        """The snapped facilities of one category (the catalogue must know it)."""
        self.catalogue[category]
        return self.facility_snap.take(self.facilities["category"].to_numpy() == category)

    def search(
        self, category: str, threshold: Threshold, profile: str | Profile | None = None
    ) -> TravelTimes:
        """Cost from every node and demand point to the category's nearest facility.

        Time thresholds search in seconds under ``profile``; metre thresholds in metres.
        Cached: one unbounded search per (category, profile) or per category for metres.
        """
        prof = get_profile(profile)
        key = (category, prof.name, prof.speed_m_s) if threshold.is_time else (category, "m")
        if key not in self._searches:
            fac = self.facilities_of(category)
            if threshold.is_time:
                found = travel_times(self.network, fac, self.demand_snap, profile=prof)
            else:
                found = network_distances(self.network, fac, self.demand_snap)
            self._searches[key] = found
        return self._searches[key]

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the study to ``folder`` (replaced as a whole, atomically)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            self.network.save(tmp / "network.npz")
            _write_gpkg(self.facilities, tmp / "facilities.gpkg")
            _write_gpkg(self.demand, tmp / "demand.gpkg")
            np.savez(tmp / "snapped.npz", **_snap_arrays("facility", self.facility_snap),
                     **_snap_arrays("demand", self.demand_snap))  # fmt: skip
            builtin = self.catalogue.source == "built-in catalogue"
            if not builtin:
                shutil.copyfile(self.catalogue.source, tmp / "catalogue.toml")
            meta = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "name": self.name,
                "catalogue": "built-in" if builtin else "catalogue.toml",
                "max_snap_m": self.demand_snap.max_snap_m,
                "network_source": self.network.source,
                "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
            }
            (tmp / "study.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
            old = None
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                folder.rename(old)
            tmp.rename(folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Study:
        """Load a study written by :meth:`save`."""
        folder = Path(folder)
        meta_path = folder / "study.json"
        if not meta_path.exists():
            raise InputNotFoundError(
                f"{folder} is not a study folder (no study.json): build one with "
                "`service-circle build ... --out FOLDER`"
            )
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise InputError(f"{folder} holds a study of another format/version: rebuild it")
        catalogue = (
            load_catalogue()
            if meta["catalogue"] == "built-in"
            else load_catalogue(folder / meta["catalogue"])
        )
        with np.load(folder / "snapped.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        facilities = gpd.read_file(folder / "facilities.gpkg")
        demand = gpd.read_file(folder / "demand.gpkg")
        return cls(
            name=meta["name"],
            network=load_compiled(folder / "network.npz"),
            facilities=facilities,
            demand=demand,
            catalogue=catalogue,
            facility_snap=_snap_from_arrays("facility", arrays, facilities["id"], meta),
            demand_snap=_snap_from_arrays("demand", arrays, demand["id"], meta),
        )


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path) -> None:
    out = frame.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype("string")
    out.to_file(path, driver="GPKG", engine="pyogrio")


def _snap_arrays(prefix: str, s: Snapped) -> dict[str, np.ndarray]:
    status = np.array([_STATUS.index(v) for v in s.status], dtype=np.int8)
    return {
        f"{prefix}_edge": s.edge,
        f"{prefix}_pos_m": s.pos_m,
        f"{prefix}_access_m": s.access_m,
        f"{prefix}_x": s.x,
        f"{prefix}_y": s.y,
        f"{prefix}_status": status,
    }


def _snap_from_arrays(prefix: str, arrays: dict, ids, meta: dict) -> Snapped:
    return Snapped(
        point_id=np.asarray(ids, dtype=object),
        edge=arrays[f"{prefix}_edge"],
        pos_m=arrays[f"{prefix}_pos_m"],
        access_m=arrays[f"{prefix}_access_m"],
        x=arrays[f"{prefix}_x"],
        y=arrays[f"{prefix}_y"],
        status=np.array(_STATUS, dtype=object)[arrays[f"{prefix}_status"]],
        max_snap_m=float(meta["max_snap_m"]),
    )
