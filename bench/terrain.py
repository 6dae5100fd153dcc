"""Hills and crossings on a large network: finding them, and what they cost the search.

DEM sampling and crossing finding, and the slope- and crossing-aware search against the
flat one.

Issue 17's targets: sampling a DEM over a 1M-edge network in under a minute; the
terrain-aware search costing at most 1.3x the flat search on the 1M-node grid (the
per-arc factors are computed once per network and profile, not per query). The grid's
every tenth street is made a primary road for the crossings. The searches run side by
side in one process; medians of ``--repeat`` runs; the ratios are printed.

    python bench/terrain.py                 # 1M nodes (~2M edges), DEM sampled every 10 m
    python bench/terrain.py --side 300      # a quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from _common import median_time, print_table
from rasterio.transform import from_origin

from service_circle.cost import CostModel
from service_circle.crossings import find_crossings
from service_circle.profiles import get_profile
from service_circle.search import nearest
from service_circle.synthetic import grid_network, random_points
from service_circle.terrain import add_terrain
from service_circle.walk_network import WalkNetwork


def with_main_roads(net: WalkNetwork, every: int = 10) -> WalkNetwork:
    """The grid with every ``every``-th street (by row and column) a primary road."""
    spacing = 80.0  # grid_network's block
    col = np.round((net.node_x - net.node_x.min()) / spacing).astype(int)
    row = np.round((net.node_y - net.node_y.min()) / spacing).astype(int)
    u, v = net.edge_u, net.edge_v
    along_row = (row[u] == row[v]) & (row[u] % every == 0)
    main = along_row | ((col[u] == col[v]) & (col[u] % every == 0))
    return WalkNetwork.from_edges(
        crs=net.crs, node_x=net.node_x, node_y=net.node_y, edge_u=u, edge_v=v,
        edge_length_m=net.edge_length_m, edge_highway=np.where(main, "primary", "residential"),
    )  # fmt: skip


def hill_dem(net, path: Path, cell: float = 30.0) -> Path:
    """A 30 m DEM (SRTM's resolution) over ``net``: ridges and a valley side."""
    x0, y0, x1, y1 = net.bounds
    w, h = int((x1 - x0) / cell) + 10, int((y1 - y0) / cell) + 10
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    gx, gy = x0 - 5 * cell + cols * cell, y1 + 5 * cell - rows * cell
    z = (2000 + 40 * np.sin(gx / 500.0) * np.cos(gy / 700.0) + 0.08 * (gy - y0)).astype("f4")
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs=net.crs, transform=from_origin(x0 - 5 * cell, y1 + 5 * cell, cell,
                                                          cell)) as ds:  # fmt: skip
        ds.write(z, 1)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="grid side (nodes = side²)")
    parser.add_argument("--spacing", type=float, default=10.0, help="DEM sample spacing, m")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    net = with_main_roads(grid_network(args.side, seed=1))
    print(f"grid {args.side}² = {net.n_nodes:,} nodes, {net.n_edges:,} edges, "
          f"{net.total_length_m / 1000:,.0f} km")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        dem = hill_dem(net, Path(tmp) / "dem.tif")
        start = time.perf_counter()
        hill, report = add_terrain(net, dem, spacing_m=args.spacing)
        sampling_s = time.perf_counter() - start
    print(f"DEM sampling: {sampling_s:.1f} s for {report.samples:,} samples ({report.summary()})")
    start = time.perf_counter()
    crossings = find_crossings(net)
    finding_s = time.perf_counter() - start
    print(f"crossings: {finding_s:.2f} s to find {crossings.summary()}")
    crossed = hill.with_crossings(crossings)
    facilities = random_points(net, 200, seed=2)
    homes = random_points(net, 10_000, seed=3)
    from service_circle.snapping import snap

    fac_flat, homes_flat = snap(net, facilities, what="f"), snap(net, homes, what="h")
    fac_hill, homes_hill = snap(hill, facilities, what="f"), snap(hill, homes, what="h")
    cost = CostModel.walking(get_profile("elderly"))
    limit = 15 * 60.0
    start = time.perf_counter()
    cost.arc_costs(hill)  # the per-arc costs, once per network and profile
    factors_s = time.perf_counter() - start
    rows = []
    for name, network, fac, pts in (
        ("flat", net, fac_flat, homes_flat),
        ("terrain", hill, fac_hill, homes_hill),
        ("terrain+crossings", crossed, fac_hill, homes_hill),
    ):
        row: dict = {"network": name}
        for label, bound in (("15 min", limit), ("unbounded", None)):
            t, result = median_time(lambda n=network, f=fac, p=pts, b=bound: nearest(
                n, f, p, cost=cost, limit=b), args.repeat)  # fmt: skip
            row[f"search_s {label}"] = t
        row["within_15_min"] = float(np.mean(result.point_cost <= limit))
        rows.append(row)
    columns = ["network", "search_s 15 min", "search_s unbounded", "within_15_min"]
    print_table(rows, columns)
    for row in rows[1:]:
        ratios = [row[c] / rows[0][c] for c in columns[1:3]]
        print(f"{row['network']} / flat search: {ratios[0]:.2f}x within 15 min, "
              f"{ratios[1]:.2f}x unbounded (target <= 1.3x)")  # fmt: skip
    print(f"per-arc costs once: {factors_s:.2f} s; DEM sampling {sampling_s:.1f} s (target "
          f"< 60 s); crossings found in {finding_s:.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
