"""Benchmark: a synthetic province on Dask, at 1 and at 2 workers.

Run ``python bench/batch.py [--units 8] [--side 224] [--homes 10000]``. Writes a province
as one ``.osm.pbf`` (a jittered street grid per unit, the units side by side, streets
running on across their borders; pharmacies, convenience stores and kindergartens as
tagged POI nodes), its homes as a GeoParquet file with a bbox column, and the units as a
GeoPackage; then runs ``service-circle batch``'s engine (:func:`run_batch`) on a local
cluster of 1 and of 2 worker processes. Prints wall time, nodes per second per worker,
the scaling efficiency (time at 1 / (2 × time at 2)), each task's time and its worker's
peak memory, and how long reading a unit's box out of the file takes against its size.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table

from service_circle.batch import BatchSpec, run_batch

SPACING_DEG = 0.0008  # ~80 m between streets at 30° N
POI_TAGS = ({"amenity": "pharmacy", "name": "药店"}, {"shop": "convenience", "name": "便利店"},
            {"amenity": "kindergarten", "name": "幼儿园"})  # fmt: skip


def write_province(folder: Path, n_units: int, side: int, homes: int, seed: int) -> dict:
    """The province's PBF, homes and units; returns their paths and the node count."""
    import osmium

    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_units)))
    rows = int(np.ceil(n_units / cols))
    nx_, ny = cols * side, rows * side  # one grid across the units: streets cross borders
    lon0, lat0 = 110.0, 30.0
    jitter = rng.uniform(-0.2, 0.2, size=(ny, nx_, 2)) * SPACING_DEG
    lon = lon0 + np.arange(nx_)[None, :] * SPACING_DEG + jitter[..., 0]
    lat = lat0 + np.arange(ny)[:, None] * SPACING_DEG + jitter[..., 1]
    ids = np.arange(1, nx_ * ny + 1).reshape(ny, nx_)
    pbf = folder / "province.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for j in range(ny):
            for i in range(nx_):
                writer.add_node(osmium.osm.mutable.Node(
                    id=int(ids[j, i]), location=(float(lon[j, i]), float(lat[j, i])),
                    version=1, timestamp="2026-01-01T00:00:00Z"))  # fmt: skip
        next_id = int(ids[-1, -1]) + 1
        pois = rng.uniform([lon0, lat0], [lon0 + nx_ * SPACING_DEG, lat0 + ny * SPACING_DEG],
                           size=(n_units * 12, 2))  # fmt: skip
        for k, (x, y) in enumerate(pois):
            writer.add_node(osmium.osm.mutable.Node(
                id=next_id + k, location=(float(x), float(y)), tags=POI_TAGS[k % 3], version=1,
                timestamp="2026-01-01T00:00:00Z"))  # fmt: skip
        way = 1
        for j in range(ny):  # every street a way, every fifth a secondary road
            tags = {"highway": "secondary" if j % 5 == 0 else "residential"}
            writer.add_way(osmium.osm.mutable.Way(id=way, nodes=[int(v) for v in ids[j]],
                                                  tags=tags, version=1))  # fmt: skip
            way += 1
        for i in range(nx_):
            tags = {"highway": "secondary" if i % 5 == 0 else "residential"}
            writer.add_way(osmium.osm.mutable.Way(id=way, nodes=[int(v) for v in ids[:, i]],
                                                  tags=tags, version=1))  # fmt: skip
            way += 1
    n_homes = homes * n_units
    xy = rng.uniform([lon0, lat0], [lon0 + nx_ * SPACING_DEG, lat0 + ny * SPACING_DEG],
                     size=(n_homes, 2))  # fmt: skip
    demand = gpd.GeoDataFrame(
        {"id": np.arange(n_homes).astype(str), "population": rng.gamma(2.0, 20.0, n_homes)},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326,
    )  # fmt: skip
    demand.to_parquet(folder / "homes.parquet", write_covering_bbox=True)
    cells, keys = [], []
    for k in range(n_units):
        r, c = divmod(k, cols)
        w, s = lon0 + c * side * SPACING_DEG, lat0 + r * side * SPACING_DEG
        cells.append(
            shapely.box(
                w - SPACING_DEG / 2,
                s - SPACING_DEG / 2,
                w + (side - 0.5) * SPACING_DEG,
                s + (side - 0.5) * SPACING_DEG,
            )
        )
        keys.append(f"4{k:05d}")  # fmt: skip
    units = gpd.GeoDataFrame({"key": keys, "name": [f"县{k}" for k in range(n_units)]},
                             geometry=cells, crs=4326)  # fmt: skip
    return {"pbf": pbf, "homes": folder / "homes.parquet", "units": units,
            "nodes": nx_ * ny, "mb": pbf.stat().st_size / 1e6}  # fmt: skip


def run(province: dict, workers: int, folder: Path) -> dict:
    out = folder / f"ds-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    spec = BatchSpec(network=str(province["pbf"]), demand=str(province["homes"]),
                     categories=("pharmacy", "convenience_store", "kindergarten"))  # fmt: skip
    start = time.perf_counter()
    result = run_batch(province["units"], spec, out, workers=workers)
    wall = time.perf_counter() - start
    summary = result.summary
    assert (summary["status"] == "done").all(), summary[["key", "status", "error"]]
    nodes = float(summary["network_nodes"].sum())
    return {"workers": workers, "units": len(summary), "wall_s": wall,
            "task_s_median": statistics.median(summary["seconds"]),
            "nodes_per_s_per_worker": nodes / wall / workers,
            "worker_peak_mb": float(summary["worker_peak_mb"].max()),
            "nodes_per_task": float(summary["network_nodes"].median()),
            "halo_m": spec.halo_m()}  # fmt: skip


def read_cost(province: dict) -> dict:
    """Reading one unit's box out of the file against reading the file whole."""
    from service_circle.batch import BatchSpec, halo_box
    from service_circle.network import load_network

    spec = BatchSpec(network=str(province["pbf"]))
    box = halo_box(province["units"].geometry.iloc[0], spec.halo_m())
    start = time.perf_counter()
    part = load_network(province["pbf"], bbox=box)
    box_s = time.perf_counter() - start
    start = time.perf_counter()
    whole = load_network(province["pbf"])
    whole_s = time.perf_counter() - start
    return {"file_mb": province["mb"], "box_nodes": part.n_nodes, "box_s": box_s,
            "whole_nodes": whole.n_nodes, "whole_s": whole_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--side", type=int, default=224, help="grid side per unit (224: 50k)")
    parser.add_argument("--homes", type=int, default=10_000, help="homes per unit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        province = write_province(folder, args.units, args.side, args.homes, args.seed)
        took = time.perf_counter() - start
        print(f"province: {args.units} units, {province['nodes']:,} street nodes, "
              f"{province['mb']:.1f} MB PBF, written in {took:.1f} s")  # fmt: skip
        rows = [run(province, w, folder) for w in (1, 2)]
        rows[1]["efficiency"] = rows[0]["wall_s"] / (2 * rows[1]["wall_s"])
        print_table(rows, list(rows[1]))
        cost = read_cost(province)
        print("\nreading a unit's box out of the file (pyrosm, streaming) against the whole:")
        print_table([cost], list(cost))


if __name__ == "__main__":
    main()
