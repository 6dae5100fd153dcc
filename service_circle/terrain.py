"""Heights on the network from a DEM: every edge's profile, every node's height.

Haidong's towns climb valley sides: a flat map says a hillside home is 10 minutes from the
canteen when an older resident needs twenty. :func:`add_terrain` samples one or more DEM
rasters (any GeoTIFF or raster rasterio reads, any CRS — a survey's DEM, SRTM, ASTER or
Copernicus tiles; several tiles are read as one mosaic) along every edge at ``spacing_m``,
bilinearly, and stores each edge's height profile in the network
(:class:`~service_circle.walk_network.Terrain`), so that walking costs follow the slope in
each direction (:func:`service_circle.profiles.tobler`, through
:class:`~service_circle.cost.CostModel`).

No-data cells (voids in SRTM, a survey's gaps) are filled from the cells around them (GDAL's
inverse-distance fill); a sample still without a height is bridged along its edge from the
heights on either side; an edge with no height at all takes the line between its nodes'
heights from other edges, and otherwise stays flat. A DEM that does not cover the network
at all is refused; one that covers part of it is used where it covers and the rest is
stated (:class:`TerrainReport`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from service_circle._errors import InputError, InputNotFoundError
from service_circle._walkable import INCLINE_UP
from service_circle.walk_network import Terrain, WalkNetwork

logger = logging.getLogger(__name__)

#: Spacing of the height samples along every edge, metres (a 30 m DEM is read at least
#: three times per cell it crosses).
SAMPLE_SPACING_M = 10.0
#: How far (in DEM cells) a no-data hole is filled from the heights around it.
HOLE_SEARCH_CELLS = 100


@dataclass(frozen=True)
class TerrainReport:
    """What sampling a DEM found.

    Attributes
    ----------
    samples
        Height samples taken along the edges.
    covered
        Share of the samples the DEM gave a height (before holes were bridged).
    bridged
        Samples in no-data holes whose height was interpolated along their edge.
    flat_edges, flat_km
        Edges without any height (outside the DEM, no incline tag), walked as flat, and
        their length.
    incline_edges
        Edges whose slope came from their OSM ``incline`` tag (outside the DEM).
    rise_m
        Total metres climbed over every edge walked ``u → v`` (a scale check).
    """

    samples: int
    covered: float
    bridged: int
    flat_edges: int
    flat_km: float
    rise_m: float
    incline_edges: int = 0

    def summary(self) -> str:
        """One line for people."""
        if not self.samples:  # no DEM: the incline tags alone
            return (f"no DEM: {self.incline_edges:,} edges sloped by their OSM incline tag, "
                    f"{self.flat_edges:,} ({self.flat_km:,.1f} km) flat")  # fmt: skip
        text = f"heights at {self.covered:.1%} of {self.samples:,} samples"
        if self.bridged:
            text += f"; {self.bridged:,} in no-data holes filled from the heights around"
        if self.incline_edges:
            text += f"; {self.incline_edges:,} edges sloped by their OSM incline tag"
        if self.flat_edges:
            text += (f"; {self.flat_edges:,} edges ({self.flat_km:,.1f} km) outside the DEM "
                     "are walked as flat")  # fmt: skip
        return text


def add_terrain(
    net: WalkNetwork,
    dem: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    spacing_m: float = SAMPLE_SPACING_M,
) -> tuple[WalkNetwork, TerrainReport]:
    """The network with heights sampled from ``dem`` (one raster, or several tiles).

    Parameters
    ----------
    net
        The compiled network.
    dem
        A raster path or several (tiles of one mosaic; where they overlap, the first
        with a height wins). Any CRS: the samples are projected into each raster's.
    spacing_m
        Sample spacing along the edges.

    Returns
    -------
    network, report
        The network carrying its :class:`~service_circle.walk_network.Terrain`, and what
        the sampling found.

    Raises
    ------
    InputNotFoundError
        If a DEM file does not exist.
    InputError
        If a file is not a raster, or the DEM covers no part of the network.
    """
    paths = [Path(dem)] if isinstance(dem, str | os.PathLike) else [Path(p) for p in dem]
    if not paths:
        raise InputError("no DEM given")
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise InputError(f"DEM sample spacing must be a positive number of metres, got {spacing_m}")
    xy, edge, along = net.edge_samples(spacing_m)
    z = np.full(len(xy), np.nan)
    bridged = np.zeros(len(xy), dtype=bool)  # samples in a no-data hole, heights filled
    described = [_sample_rasters(group, net.crs, xy, z, bridged) for group in _by_crs(paths)]
    covered = float((np.isfinite(z) & ~bridged).mean()) if z.size else 0.0
    if covered == 0:
        lon, lat = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True).transform(
            *np.array(net.bounds).reshape(2, 2).T
        )  # fmt: skip
        raise InputError(
            f"DEM {', '.join(map(str, paths))} does not cover the network (lon "
            f"{lon[0]:.4f}–{lon[1]:.4f}, lat {lat[0]:.4f}–{lat[1]:.4f}; {'; '.join(described)}): "
            "give the DEM tiles of the study area"
        )
    holes = ~np.isfinite(z)
    z = _bridge_along_edges(z, edge, along)
    bridged |= holes & np.isfinite(z)
    node_z = _node_heights(net, z, edge)
    z = _from_node_heights(net, z, edge, along, node_z)
    starts = np.searchsorted(edge, np.arange(net.n_edges + 1))  # samples of each edge
    segment = np.ones(len(z), dtype=bool)
    segment[starts[1:] - 1] = False  # an edge's last sample starts no segment
    seg = np.flatnonzero(segment)
    length = along[seg + 1] - along[seg]
    rise = np.nan_to_num(z[seg + 1] - z[seg], nan=0.0)
    offsets = np.concatenate([[0], np.cumsum(np.diff(starts) - 1)]).astype(np.int64)
    flat = np.bincount(edge, weights=np.isfinite(z), minlength=net.n_edges) == 0
    tagged = flat & _has_incline(net)  # outside the DEM, an OSM incline tag says the slope
    on_tagged = tagged[edge[seg]]
    rise[on_tagged] = _inclines(net)[edge[seg]][on_tagged] * length[on_tagged]
    flat &= ~tagged
    terrain = Terrain(
        node_z=node_z, offsets=offsets, length_m=np.maximum(length, 0.0), rise_m=rise,
        source=f"{'; '.join(described)}; sampled every {spacing_m:g} m (bilinear)",
    )  # fmt: skip
    report = TerrainReport(
        samples=len(z), covered=covered, bridged=int(bridged.sum()), flat_edges=int(flat.sum()),
        flat_km=float(net.edge_length_m[flat].sum() / 1000), rise_m=float(rise[rise > 0].sum()),
        incline_edges=int(tagged.sum()),
    )  # fmt: skip
    if report.flat_edges:
        logger.warning("DEM: %s", report.summary())
    else:
        logger.info("DEM: %s", report.summary())
    return net.with_terrain(terrain), report


def incline_terrain(net: WalkNetwork) -> tuple[WalkNetwork, TerrainReport]:
    """The network sloped by its OSM ``incline`` tags alone, where there is no DEM.

    ``incline=10%`` is a 10 % grade along the way, ``up``/``down`` ±5 % (check); an untagged
    edge is flat.

    Raises
    ------
    InputError
        If no edge of the network carries an incline tag with a figure or direction.
    """
    tagged = _has_incline(net)
    if not tagged.any():
        raise InputError(
            f"no way of {net.source or 'the network'} has an OSM incline tag (up, down, 10%): "
            "give a DEM with --dem"
        )
    grade = np.where(tagged, _inclines(net), 0.0)
    terrain = Terrain(
        node_z=np.full(net.n_nodes, np.nan), offsets=np.arange(net.n_edges + 1, dtype=np.int64),
        length_m=net.edge_length_m.copy(), rise_m=grade * net.edge_length_m,
        source=f"OSM incline tags on {int(tagged.sum()):,} edges (up/down: ±{INCLINE_UP:.0%}, "
        "check); the rest flat",
    )  # fmt: skip
    rise = terrain.rise_m
    report = TerrainReport(
        samples=0, covered=0.0, bridged=0, flat_edges=int((~tagged).sum()),
        flat_km=float(net.edge_length_m[~tagged].sum() / 1000),
        rise_m=float(rise[rise > 0].sum()), incline_edges=int(tagged.sum()),
    )  # fmt: skip
    return net.with_terrain(terrain), report


def _inclines(net: WalkNetwork) -> np.ndarray:
    """Per edge: the grade of its OSM incline tag ``u → v`` (NaN: none)."""
    if net.edge_incline is None:
        return np.full(net.n_edges, np.nan)
    return net.edge_incline


def _has_incline(net: WalkNetwork) -> np.ndarray:
    """Per edge: whether its OSM incline tag gives a grade."""
    return np.isfinite(_inclines(net))


def _by_crs(paths: list[Path]) -> list[list[Path]]:
    """The rasters grouped by CRS, in the order given (each group is read as one mosaic)."""
    import rasterio

    groups: dict[str, list[Path]] = {}
    for path in paths:
        if not path.exists():
            raise InputNotFoundError(f"DEM {path} does not exist")
        try:
            with rasterio.open(path) as ds:
                crs = ds.crs
        except Exception as exc:  # RasterioIOError and the like: name the file
            raise InputError(
                f"cannot read DEM {path} as a raster ({type(exc).__name__}: {exc})"
            ) from None
        if crs is None:
            raise InputError(f"DEM {path} has no CRS: give it one (e.g. gdal_edit.py -a_srs)")
        groups.setdefault(crs.to_wkt(), []).append(path)
    return list(groups.values())


def _sample_rasters(
    paths: list[Path], crs: pyproj.CRS, xy: np.ndarray, z: np.ndarray, bridged: np.ndarray
) -> str:
    """Fill the NaN entries of ``z`` that the mosaic of ``paths`` covers, bilinearly.

    The tiles (one CRS) are merged over the samples' extent first, so that samples on a
    seam between tiles read both. Returns a description of the rasters.
    """
    import rasterio
    from rasterio.merge import merge

    todo = np.flatnonzero(~np.isfinite(z))
    datasets = [rasterio.open(p) for p in paths]
    try:
        first = datasets[0]
        x, y = pyproj.Transformer.from_crs(crs, first.crs, always_xy=True).transform(
            xy[todo, 0], xy[todo, 1]
        )  # fmt: skip
        x, y = np.asarray(x), np.asarray(y)
        res_x, res_y = abs(first.res[0]), abs(first.res[1])
        described = (f"{', '.join(p.name for p in paths)} ({first.crs.to_string()}, "
                     f"{res_x:g} × {res_y:g})")  # fmt: skip
        if not todo.size:
            return described
        # the samples' extent on the first tile's pixel grid, so the mosaic is not resampled
        ox, oy = first.transform.c, first.transform.f
        bounds = (
            ox + (np.floor((x.min() - ox) / res_x) - 2) * res_x,
            oy - (np.ceil((oy - y.min()) / res_y) + 2) * res_y,
            ox + (np.ceil((x.max() - ox) / res_x) + 2) * res_x,
            oy - (np.floor((oy - y.max()) / res_y) - 2) * res_y,
        )
        nodata = first.nodata if first.nodata is not None else np.nan
        try:
            mosaic, transform = merge(datasets, bounds=bounds, nodata=nodata, dtype="float64")
        except Exception as exc:  # tiles that cannot be merged (no overlap, odd layouts)
            raise InputError(
                f"cannot read DEM {described} as one mosaic ({type(exc).__name__}: {exc})"
            ) from None
        grid = mosaic[0].astype(np.float64)
        if first.nodata is not None:
            grid[grid == first.nodata] = np.nan
        col, row = ~transform * (x, y)
        col, row = np.asarray(col) - 0.5, np.asarray(row) - 0.5  # from pixel centres
        h, w = grid.shape
        inside = (col >= 0) & (row >= 0) & (col <= w - 1) & (row <= h - 1)
        values = _bilinear(grid, col[inside], row[inside])
        # a hole is no-data inside a tile; outside every tile is not covered, and not filled
        in_tile = np.zeros(len(x), dtype=bool)
        for ds in datasets:
            b = ds.bounds
            in_tile |= (x >= b.left) & (x <= b.right) & (y >= b.bottom) & (y <= b.top)
        holes = ~np.isfinite(values) & in_tile[inside]
        if holes.any() and np.isfinite(grid).any():
            # no-data holes inside the DEM: filled from the cells around them (GDAL's
            # inverse-distance fill), up to HOLE_SEARCH_CELLS away
            from rasterio.fill import fillnodata

            known = np.isfinite(grid)
            filled = fillnodata(np.where(known, grid, 0.0), mask=known.astype(np.uint8),
                                max_search_distance=HOLE_SEARCH_CELLS)  # fmt: skip
            filled[~np.isfinite(filled)] = np.nan
            values[holes] = _bilinear(filled, col[inside][holes], row[inside][holes])
            bridged[todo[inside][holes]] = np.isfinite(values[holes])
        z[todo[inside]] = values
        return described
    finally:
        for ds in datasets:
            ds.close()


def _bilinear(grid: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear values of ``grid`` at fractional (col, row); NaN if a corner is no-data."""
    h, w = grid.shape
    c = np.clip(np.floor(col).astype(np.int64), 0, max(w - 2, 0))
    r = np.clip(np.floor(row).astype(np.int64), 0, max(h - 2, 0))
    dc, dr = col - c, row - r
    c1, r1 = np.minimum(c + 1, w - 1), np.minimum(r + 1, h - 1)
    top = grid[r, c] * (1 - dc) + grid[r, c1] * dc
    bottom = grid[r1, c] * (1 - dc) + grid[r1, c1] * dc
    return top * (1 - dr) + bottom * dr


def _bridge_along_edges(z: np.ndarray, edge: np.ndarray, along: np.ndarray) -> np.ndarray:
    """NaN samples interpolated from the nearest heights before and after on their edge."""
    z = z.copy()
    ok = np.isfinite(z)
    if ok.all() or not ok.any():
        return z
    index = np.arange(len(z))
    before = np.maximum.accumulate(np.where(ok, index, -1))
    after = np.minimum.accumulate(np.where(ok, index, len(z))[::-1])[::-1]
    hole = np.flatnonzero(~ok)
    b, a = before[hole], after[hole]
    has_b = (b >= 0) & (edge[np.maximum(b, 0)] == edge[hole])
    has_a = (a < len(z)) & (edge[np.minimum(a, len(z) - 1)] == edge[hole])
    zb = np.where(has_b, z[np.maximum(b, 0)], np.nan)
    za = np.where(has_a, z[np.minimum(a, len(z) - 1)], np.nan)
    sb = along[np.maximum(b, 0)]
    sa = along[np.minimum(a, len(z) - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(sa > sb, (along[hole] - sb) / (sa - sb), 0.5)
    both = has_b & has_a
    z[hole] = np.where(both, zb + (za - zb) * t, np.where(has_b, zb, za))
    return z


def _node_heights(net: WalkNetwork, z: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Each node's height: the mean of its edges' end samples that have one."""
    starts = np.searchsorted(edge, np.arange(net.n_edges + 1))
    first, last = starts[:-1], starts[1:] - 1
    nodes = np.concatenate([net.edge_u, net.edge_v])
    ends = np.concatenate([z[first], z[last]])
    ok = np.isfinite(ends)
    total = np.bincount(nodes[ok], weights=ends[ok], minlength=net.n_nodes)
    count = np.bincount(nodes[ok], minlength=net.n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _from_node_heights(
    net: WalkNetwork, z: np.ndarray, edge: np.ndarray, along: np.ndarray, node_z: np.ndarray
) -> np.ndarray:
    """An edge with no height of its own: the line between its nodes' heights, if known."""
    has = np.bincount(edge, weights=np.isfinite(z), minlength=net.n_edges) > 0
    zu, zv = node_z[net.edge_u], node_z[net.edge_v]
    fill = ~has & np.isfinite(zu) & np.isfinite(zv)
    pick = fill[edge]
    if not pick.any():
        return z
    z = z.copy()
    length = net.edge_length_m[edge[pick]]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(length > 0, along[pick] / length, 0.0)
    z[pick] = zu[edge[pick]] + (zv[edge[pick]] - zu[edge[pick]]) * t
    return z
