"""A Study: network + facilities + demand, compiled and snapped once, queried many times.

Built with :meth:`Study.build` (or ``service-circle build``), saved to a folder and loaded
back in a fraction of a second. Searches are cached per (category, profile) — unbounded, so
that every threshold of that profile is answered from one search — and per category for
network distance.

A study folder holds ``study.json`` (name, catalogue, snapping options, provenance),
``network.npz``, ``facilities.gpkg``, ``demand.gpkg``, ``snapped.npz`` and, when the
catalogue was the user's, ``catalogue.toml``. It is staged and published whole
(:mod:`service_circle.folders`), so a reader never sees half a study, and a folder that is
not a study is never written over. Loading checks every file and says which one is
damaged and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from service_circle._errors import InputError, InputNotFoundError, ServiceCircleError
from service_circle._validate import check_counts
from service_circle.catalogue import Catalogue, load_catalogue
from service_circle.cost import CostModel, Threshold
from service_circle.demand import AGE_COLUMNS, age_columns, with_bands
from service_circle.folders import publishing, recover
from service_circle.hours import Window
from service_circle.profiles import Profile
from service_circle.provenance import (
    Source,
    attribution,
    attribution_of_file,
    network_source,
    sources_of,
)
from service_circle.search import SearchResult, nearest
from service_circle.snapping import DEFAULT_MAX_ACCESS_M, DEFAULT_MIN_PIECE_M, Snapped, snap
from service_circle.walk_network import WalkNetwork, load_compiled

logger = logging.getLogger(__name__)

FORMAT = "service-circle/study"
FORMAT_VERSION = 1
_STATUS = ("ok", "off_network", "blocked", "no_geometry")


@dataclass(frozen=True)
class OpenAt:
    """What chose the facilities of a study view (:meth:`Study.open_at`).

    ``when``: the moment (ISO, local) or the window's key; ``open``: the facilities
    counted, of ``total``; ``assumed``: those counted open without known hours.
    """

    when: str
    unknown_open: bool
    open: int
    total: int
    assumed: int

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"at": self.when, "unknown_hours": "open" if self.unknown_open else "closed",
                "facilities_open": self.open, "facilities": self.total,
                "assumed_open": self.assumed}  # fmt: skip


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
    sources
        Where the network, facilities and demand came from (see :mod:`.provenance`).
    units
        The planning units (社区 / 行政村, :mod:`.units`), or ``None``.
    """

    name: str
    network: WalkNetwork
    facilities: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    catalogue: Catalogue
    facility_snap: Snapped
    demand_snap: Snapped
    sources: tuple[Source, ...] = ()
    units: gpd.GeoDataFrame | None = None
    #: when only some facilities are counted: what chose them (:meth:`open_at`)
    opening: OpenAt | None = None
    _searches: dict = field(default_factory=dict, repr=False)
    _open_views: dict = field(default_factory=dict, repr=False)
    _signatures: dict = field(default_factory=dict, repr=False)

    @property
    def attribution(self) -> str:
        """What every map, report and answer built from this study must show."""
        return attribution(self.sources or (network_source(self.network.source),))

    def extent(self, *, units: bool = False) -> tuple[float, float, float, float]:
        """West, south, east, north (WGS-84) of the homes and facilities (and the units).

        NaN when there is nothing with a location.
        """
        frames = [f for f in (self.demand, self.facilities) if len(f)]
        if units and self.units is not None:
            frames.append(self.units)
        b = np.array([f.total_bounds for f in frames]).reshape(-1, 4)
        b = b[np.all(np.isfinite(b), axis=1)]
        if not b.size:
            return (float("nan"),) * 4
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

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
        max_access_m: float = DEFAULT_MAX_ACCESS_M,
        min_piece_m: float = DEFAULT_MIN_PIECE_M,
        sources: list[Source] | None = None,
        max_snap_m: float | None = None,
    ) -> Study:
        """Snap facilities and demand to the network once and hold them together.

        ``sources`` default to what the inputs say of themselves (the network's source,
        the ``source`` column of facilities and demand); ``max_snap_m`` is the former name
        of ``max_access_m`` (kept for one release).
        """
        if max_snap_m is not None:
            max_access_m = max_snap_m
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
        demand = with_bands(demand, _groups(catalogue), what="the demand")
        check_demand(demand, "demand points", first_row=1)
        if "id" not in demand.columns:
            demand["id"] = np.arange(len(demand)).astype(str)
        facilities = facilities.to_crs("EPSG:4326").reset_index(drop=True)
        demand = demand.to_crs("EPSG:4326").reset_index(drop=True)
        return cls(
            name=name,
            network=network,
            facilities=facilities,
            demand=demand,
            catalogue=catalogue,
            facility_snap=snap(
                network,
                facilities,
                what="facilities",
                max_access_m=max_access_m,
                min_piece_m=min_piece_m,
                barriers=barriers,
            ),
            demand_snap=snap(
                network,
                demand,
                what="demand points",
                max_access_m=max_access_m,
                min_piece_m=min_piece_m,
                barriers=barriers,
            ),
            sources=tuple(
                sources
                or sources_of(network.source, [("facilities", facilities), ("demand", demand)])
            ),
        )

    def with_units(self, units: gpd.GeoDataFrame, *, source: str = "units") -> Study:
        """The study with planning units: each unit's homes scaled to its official population.

        Homes keep their places on the network; a unit with population and no home gets grid
        points (:func:`service_circle.units.fit_demand`), snapped here without the water
        barriers of the build (a study does not keep them).
        """
        from service_circle.units import fit_demand

        demand, notes = fit_demand(self.demand, units, source=source)
        for note in notes:
            logger.warning("%s", note)
        snapped = self.demand_snap
        if len(demand) > len(self.demand):
            extra = snap(self.network, demand.iloc[len(self.demand):], what="unit grid points",
                         max_access_m=snapped.max_access_m)  # fmt: skip
            snapped = Snapped.concat([snapped, extra])
        sources = [s for s in self.sources if s.role != "units"]
        sources.append(Source("units", source, attribution_of_file(source)))
        return Study(
            name=self.name, network=self.network, facilities=self.facilities, demand=demand,
            catalogue=self.catalogue, facility_snap=self.facility_snap, demand_snap=snapped,
            sources=tuple(sources), units=units.reset_index(drop=True),
        )  # fmt: skip

    # ------------------------------------------------------------------ hours
    @property
    def opening_hours(self) -> np.ndarray:
        """Each facility's hours in OSM syntax, or ``None`` where unknown.

        Studies built before hours were read have none.
        """
        if "opening_hours" not in self.facilities:
            return np.full(len(self.facilities), None, dtype=object)
        values = self.facilities["opening_hours"].to_numpy(dtype=object)
        return np.array([v if isinstance(v, str) and v else None for v in values], dtype=object)

    @property
    def country(self) -> str | None:
        """The country whose public holidays the hours follow (``"CN"`` inside China)."""
        return self._place[0]

    @property
    def timezone(self) -> str:
        """The study's time zone (from where it is), for moments given with an offset."""
        return self._place[1]

    @property
    def _place(self) -> tuple[str | None, str]:
        from service_circle.hours import place_of

        west, south, east, north = self.extent()
        if not np.isfinite(west):
            return None, "UTC"
        return place_of((west + east) / 2, (south + north) / 2)

    def open_at(self, when: str | dt.datetime | Window, *, unknown_open: bool = True) -> Study:
        """The study with only the facilities open at a moment, or throughout a window.

        ``when`` is a moment (:func:`~service_circle.hours.parse_at`: ``"Tue 23:00"``,
        ``"2026-12-05T12:00"``, local time) or a :class:`~service_circle.hours.Window`.
        A facility without hours counts as open when ``unknown_open`` (the default; the
        view's :attr:`opening` says how many were assumed so). Views share this study's
        searches: a category is searched once per distinct set of its facilities, however
        many moments select that set.
        """
        from service_circle.hours import open_mask, parse_at

        hours, (country, zone) = self.opening_hours, self._place
        if isinstance(when, Window):
            mask = when.open_mask(hours, unknown_open=unknown_open, country=country)
            label = when.key
        else:
            moment = parse_at(when, zone)
            mask = open_mask(hours, moment, unknown_open=unknown_open, country=country)
            label = moment.isoformat(timespec="minutes")
        rows = np.flatnonzero(mask)
        assumed = int((mask & (hours == None)).sum())  # noqa: E711
        opening = OpenAt(label, unknown_open, int(rows.size), len(self.facilities), assumed)
        view = self._open_views.get(mask.tobytes())
        if view is None:
            view = Study(
                name=self.name, network=self.network,
                facilities=self.facilities.iloc[rows].reset_index(drop=True),
                demand=self.demand, catalogue=self.catalogue,
                facility_snap=self.facility_snap.take(mask), demand_snap=self.demand_snap,
                sources=self.sources, units=self.units, _searches=self._searches,
                _open_views=self._open_views,
            )  # fmt: skip
            self._open_views[mask.tobytes()] = view
        view = replace(view, opening=opening)
        return view

    # ------------------------------------------------------------------ queries
    def unplaced_facilities(self) -> pd.DataFrame:
        """The facilities not placed on the network, and why: they reach nobody.

        Returns
        -------
        pandas.DataFrame
            One row per facility: ``id``, ``name``, ``category``, ``status``
            (``off_network``: farther than ``max_access_m`` from every street; ``blocked``:
            water between it and every street within reach; ``no_geometry``), ``lon``,
            ``lat`` (WGS-84; empty without a geometry) and ``max_access_m``.
        """
        status = np.asarray(self.facility_snap.status)
        rows = np.flatnonzero(status != "ok")
        fac = self.facilities.iloc[rows]
        points = shapely.point_on_surface(fac.to_crs("EPSG:4326").geometry.to_numpy())
        names = fac["name"] if "name" in fac else pd.Series([""] * len(fac), index=fac.index)
        return pd.DataFrame({
            "id": fac["id"].astype(str).to_numpy(),
            "name": names.fillna("").astype(str).to_numpy(),
            "category": fac["category"].astype(str).to_numpy(),
            "status": status[rows],
            "lon": shapely.get_x(points),
            "lat": shapely.get_y(points),
            "max_access_m": self.facility_snap.max_access_m,
        })  # fmt: skip

    def facilities_of(self, category: str) -> Snapped:
        """The snapped facilities of one category (the catalogue must know it)."""
        self.catalogue[category]
        return self.facility_snap.take(self.facilities["category"].to_numpy() == category)

    def search(
        self,
        category: str,
        threshold: Threshold | CostModel,
        profile: str | Profile | None = None,
    ) -> SearchResult:
        """Cost from every node and demand point to the category's nearest facility.

        ``threshold`` names what to add up: a time threshold searches seconds under
        ``profile``, a metre threshold metres — or give the
        :class:`~service_circle.cost.CostModel` itself. Cached: one unbounded search per
        category and cost model, so every threshold of that model is answered from it.
        """
        cost = (
            threshold
            if isinstance(threshold, CostModel)
            else CostModel.for_threshold(threshold, profile)
        )
        key = (category, cost.key, self._signature(category))
        if key not in self._searches:
            self._searches[key] = nearest(
                self.network, self.facilities_of(category), self.demand_snap, cost=cost
            )
        return self._searches[key]

    def _signature(self, category: str) -> bytes:
        """Which facilities of a category this study counts (views share searches by it)."""
        if category not in self._signatures:
            ids = self.facilities["id"].to_numpy()[
                self.facilities["category"].to_numpy() == category
            ]
            digest = hashlib.sha1("\0".join(map(str, ids)).encode("utf-8")).digest()
            self._signatures[category] = digest
        return self._signatures[category]

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the study to ``folder``, published whole (see :mod:`.folders`).

        Raises
        ------
        InputError
            If ``folder`` exists and is neither empty nor a folder service-circle wrote.
        """
        folder = Path(folder)
        with publishing(folder, kind="study") as staging:
            self.write(staging)
        return folder

    def write(self, folder: str | os.PathLike) -> None:
        """Write the study's files into an existing empty folder (no staging)."""
        folder = Path(folder)
        self.network.save(folder / "network.npz")
        _write_gpkg(self.facilities, folder / "facilities.gpkg")
        _write_gpkg(self.demand, folder / "demand.gpkg")
        if self.units is not None:
            _write_gpkg(self.units, folder / "units.gpkg")
        arrays: dict[str, Any] = {**_snap_arrays("facility", self.facility_snap),
                                  **_snap_arrays("demand", self.demand_snap)}  # fmt: skip
        np.savez(folder / "snapped.npz", **arrays)
        builtin = self.catalogue.source == "built-in catalogue"
        if not builtin:
            shutil.copyfile(self.catalogue.source, folder / "catalogue.toml")
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "catalogue": "built-in" if builtin else "catalogue.toml",
            "units": "units.gpkg" if self.units is not None else None,
            "max_access_m": self.demand_snap.max_access_m,
            "network_source": self.network.source,
            "sources": [s.to_dict() for s in self.sources],
            "attribution": self.attribution,
        }
        (folder / "study.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Study:
        """Load a study written by :meth:`save`.

        A study whose last save crashed between its two renames is put back first.

        Raises
        ------
        InputNotFoundError
            If ``folder`` is not a study folder.
        InputError
            If one of its files is damaged or its numbers are not valid; the message names
            the file and says to rebuild the study.
        """
        folder = Path(folder)
        if not folder.exists():
            recover(folder)
        meta_path = folder / "study.json"
        if not meta_path.is_file():
            raise InputNotFoundError(
                f"{folder} is not a study folder (no study.json): build one with "
                "`service-circle build ... --out FOLDER`"
            )
        for entry in folder.iterdir():  # a FIFO or device would block its reader for good
            if not (entry.is_file() or entry.is_dir()) and entry.exists():
                raise InputError(
                    f"study {folder}: {entry.name} is not a regular file (a pipe, socket or "
                    "device): remove it, or build the study again"
                )
        try:
            return cls._load(folder, meta_path)
        except ServiceCircleError as exc:
            if str(folder) in str(exc):
                raise
            raise type(exc)(f"study {folder}: {exc}") from None

    @classmethod
    def _load(cls, folder: Path, meta_path: Path) -> Study:
        rebuild = "rebuild the study with `service-circle build`"

        def damaged(name: str, exc: BaseException) -> InputError:
            return InputError(
                f"{folder / name} is damaged ({type(exc).__name__}: {exc}); {rebuild}"
            )

        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
            name = str(meta["name"])
            max_access_m = float(meta["max_access_m"] if "max_access_m" in meta
                                 else meta["max_snap_m"])  # fmt: skip
            catalogue_name = meta["catalogue"]
            sources = tuple(Source.from_dict(d) for d in meta.get("sources", []))
        except Exception as exc:
            raise damaged("study.json", exc) from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise InputError(f"{folder} holds a study of another format/version: {rebuild}")
        catalogue = (
            load_catalogue()
            if catalogue_name == "built-in"
            else load_catalogue(folder / str(catalogue_name))
        )
        try:
            with (folder / "snapped.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception as exc:
            raise damaged("snapped.npz", exc) from None
        frames = {}
        for part in ("facilities", "demand"):
            try:
                frames[part] = gpd.read_file(folder / f"{part}.gpkg")
            except Exception as exc:
                raise damaged(f"{part}.gpkg", exc) from None
        facilities, demand = frames["facilities"], frames["demand"]
        units = None
        if meta.get("units"):
            try:
                units = gpd.read_file(folder / "units.gpkg")
                for column in ("unit_code", "unit_name", "unit_kind", "township", "county"):
                    units[column] = units[column].fillna("").astype(str)
            except Exception as exc:
                raise damaged("units.gpkg", exc) from None
        for column in ("id", "category"):
            if column not in facilities.columns:
                raise InputError(f"{folder / 'facilities.gpkg'} has no {column!r} column; "
                                 f"{rebuild}")  # fmt: skip
        for column in ("id", "population", *AGE_COLUMNS):
            if column not in demand.columns:
                raise InputError(f"{folder / 'demand.gpkg'} has no {column!r} column; {rebuild}")
        demand = with_bands(demand, _groups(catalogue), what=str(folder / "demand.gpkg"))
        check_demand(demand, str(folder / "demand.gpkg"), first_row=1)
        unknown = sorted(set(facilities["category"].astype(str)) - set(catalogue.keys()))
        if unknown:
            raise InputError(
                f"{folder / 'facilities.gpkg'} has categories its catalogue does not know "
                f"({', '.join(unknown)}); {rebuild}"
            )
        try:
            facility_snap = _snap_from_arrays("facility", arrays, facilities["id"], max_access_m)
            demand_snap = _snap_from_arrays("demand", arrays, demand["id"], max_access_m)
        except (KeyError, ValueError, IndexError) as exc:
            raise damaged("snapped.npz", exc) from None
        network = load_compiled(folder / "network.npz")
        for snapped in (facility_snap, demand_snap):
            if snapped.edge.size and snapped.edge.max() >= network.n_edges:
                raise InputError(
                    f"{folder / 'snapped.npz'} does not belong to {folder / 'network.npz'}; "
                    f"{rebuild}"
                )
        return cls(
            name=name,
            network=network,
            facilities=facilities,
            demand=demand,
            catalogue=catalogue,
            facility_snap=facility_snap,
            demand_snap=demand_snap,
            sources=sources,
            units=units,
        )


def _groups(catalogue: Catalogue) -> list[str]:
    """The groups the catalogue's categories serve (not ``everyone``)."""
    return [c.group for c in catalogue if c.group != "everyone"]


def check_demand(demand: pd.DataFrame, what: str, *, first_row: int = 2) -> None:
    """Population and age-group counts finite and ≥ 0, no group above its population.

    Raises
    ------
    InputError
        Naming ``what``, the column and the first offending rows.
    """
    columns = ["population", *age_columns(demand)]
    counts = check_counts(demand, columns, what, first_row=first_row)
    population = counts["population"]
    for col in columns[1:]:
        over = np.flatnonzero(counts[col] > population * (1 + 1e-9) + 1e-9)
        if over.size:
            rows = ", ".join(str(int(r) + first_row) for r in over[:10])
            raise InputError(
                f"{what}: column {col!r} is larger than the population on rows {rows}: "
                "an age group is part of the residents"
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


def _snap_from_arrays(prefix: str, arrays: dict, ids, max_access_m: float) -> Snapped:
    n = len(ids)
    for name in ("edge", "pos_m", "access_m", "x", "y", "status"):
        if arrays[f"{prefix}_{name}"].shape != (n,):
            raise ValueError(f"{prefix}_{name} has {arrays[f'{prefix}_{name}'].size} values "
                             f"for {n} points")  # fmt: skip
    status = arrays[f"{prefix}_status"]
    if status.size and (status.min() < 0 or status.max() >= len(_STATUS)):
        raise ValueError(f"{prefix}_status holds unknown codes")
    return Snapped(
        point_id=np.asarray(ids, dtype=object),
        edge=arrays[f"{prefix}_edge"],
        pos_m=arrays[f"{prefix}_pos_m"],
        access_m=arrays[f"{prefix}_access_m"],
        x=arrays[f"{prefix}_x"],
        y=arrays[f"{prefix}_y"],
        status=np.array(_STATUS, dtype=object)[status],
        max_access_m=max_access_m,
    )
