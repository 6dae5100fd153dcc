"""Raster dissolves for large isochrones and gap maps.

Dissolving tens of thousands of buffered lines or circles with GEOS takes minutes; burning
them into a grid, growing the burnt cells by the buffer distance (an exact Euclidean
distance transform) and tracing the outlines takes about a second, at the price of
outlines that follow the cells (a few metres). The vector path stays the default for small
inputs.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage

#: Largest grid built, in cells; the cell grows on large areas to stay below it.
MAX_CELLS = 16_000_000


class Grid:
    """A north-up grid over ``bounds`` grown by ``margin`` (all in metres)."""

    def __init__(self, bounds: tuple[float, float, float, float], cell: float, margin: float):
        minx, miny, maxx, maxy = bounds
        minx, miny, maxx, maxy = minx - margin, miny - margin, maxx + margin, maxy + margin
        area_cells = (maxx - minx) * (maxy - miny) / cell**2
        if area_cells > MAX_CELLS:
            cell *= float(np.sqrt(area_cells / MAX_CELLS))
        self.cell = cell
        self.minx, self.maxy = minx, maxy
        self.shape = (
            int(np.ceil((maxy - miny) / cell)) + 1,
            int(np.ceil((maxx - minx) / cell)) + 1,
        )

    def index(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of each ``(x, y)``."""
        col = np.clip(((xy[:, 0] - self.minx) / self.cell).astype(np.int64), 0, self.shape[1] - 1)
        row = np.clip(((self.maxy - xy[:, 1]) / self.cell).astype(np.int64), 0, self.shape[0] - 1)
        return row, col

    def burn_lines(self, lines: np.ndarray) -> np.ndarray:
        """Cells that the lines pass through (sampled at a third of a cell)."""
        dense = shapely.segmentize(lines, self.cell / 3)
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.index(shapely.get_coordinates(dense))] = True
        return mask

    def grow(self, mask: np.ndarray, distance: float) -> np.ndarray:
        """Cells within ``distance`` of a set cell (exact Euclidean distance transform)."""
        return ndimage.distance_transform_edt(~mask) * self.cell <= distance

    def outlines(self, labels: np.ndarray) -> dict[int, shapely.MultiPolygon]:
        """One MultiPolygon per positive label."""
        from rasterio.features import shapes
        from rasterio.transform import from_origin

        transform = from_origin(self.minx, self.maxy, self.cell, self.cell)
        found: dict[int, list] = {}
        for geom, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
            found.setdefault(int(value), []).append(shapely.geometry.shape(geom))
        return {k: shapely.MultiPolygon(v) for k, v in found.items()}


def dissolve_lines(lines: np.ndarray, width: float) -> shapely.MultiPolygon:
    """The lines buffered by ``width`` and dissolved, on a grid of ``width / 4`` cells."""
    bounds = tuple(shapely.total_bounds(lines))
    grid = Grid(bounds, width / 4, width + width / 2)
    # burnt cells overshoot the lines by up to half a cell: a quarter cell off matches areas
    area = grid.grow(grid.burn_lines(lines), width - grid.cell / 4)
    return grid.outlines(area.astype(np.int32)).get(1, shapely.MultiPolygon())


def group_points(
    points_xy: np.ndarray, radius: float, cut_xy: np.ndarray
) -> tuple[np.ndarray, dict[int, shapely.MultiPolygon]]:
    """Group points whose circles of ``radius`` touch; outline each group.

    Returns each point's group label (1-based) and the group outlines, from which the
    cells of the ``cut_xy`` points (covered homes) are removed.
    """
    bounds = (*points_xy.min(axis=0), *points_xy.max(axis=0))
    grid = Grid(bounds, radius / 4, radius * 1.5)
    seeds = np.zeros(grid.shape, dtype=bool)
    seeds[grid.index(points_xy)] = True
    grown = grid.grow(seeds, radius)
    labels, _ = ndimage.label(grown, structure=np.ones((3, 3)))
    member = labels[grid.index(points_xy)]
    if cut_xy.size:
        labels[grid.index(cut_xy)] = 0
    return member, grid.outlines(labels)
