"""Benchmark: a whole study — 10 categories × 3 thresholds, 100k homes, a 100k-node network.

Run ``python bench/study.py``. Prints the time of each stage (medians of ``--repeat``):
snapping (Study.build), the engine (one search per category), the coverage table, the
isochrone polygons and the gap polygons (every category at every threshold), their total;
then, on a fresh study, what ``analyze`` computes end to end (``analyze_s``: one gap map
per category, at the threshold it is judged at). Issue 18's target: the total under 10 s,
polygons at most half of it.

Beside them, in the same run, the polygons' **output floor**: what handing over the very
polygons drawn costs with no tracing at all — their vertices projected from the network's
CRS to WGS-84 by pyproj (every map is returned in WGS-84) and built into shapely polygons
from flat arrays (``shapely.from_ragged_array``, the cheapest way in). Polygons can be at
most half the study only if they cost no more than everything else (``rest_s``: snapping,
searches and the coverage table); ``floor_over_rest`` at or above 1 says that no tracer,
however fast, reaches that share without drawing fewer vertices.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyproj
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table, synthetic_inputs

from service_circle.catalogue import load_catalogue
from service_circle.cost import Threshold
from service_circle.coverage import coverage_table
from service_circle.gaps import gaps
from service_circle.isochrones import isochrones
from service_circle.pipeline import analyze_study
from service_circle.study import Study

CATEGORIES = [
    "elderly_canteen", "elderly_daycare", "childcare", "kindergarten", "primary_school",
    "health_station", "pharmacy", "convenience_store", "fresh_market", "community_service",
]  # fmt: skip
THRESHOLDS = [Threshold.minutes(m) for m in (5, 10, 15)]


def run(n_side: int, n_homes: int, per_category: int, seed: int) -> dict[str, float]:
    net, homes, facilities = synthetic_inputs(n_side, n_homes, CATEGORIES, per_category, seed)
    times = {}
    start = time.perf_counter()
    study = Study.build(net, facilities, homes, catalogue=load_catalogue())
    times["snap_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for key in CATEGORIES:
        study.search(key, THRESHOLDS[0], None)
    times["engine_s"] = time.perf_counter() - start
    start = time.perf_counter()
    table = coverage_table(study, THRESHOLDS, categories=CATEGORIES)
    times["coverage_table_s"] = time.perf_counter() - start
    start = time.perf_counter()
    drawn = [isochrones(study, key, THRESHOLDS) for key in CATEGORIES]
    times["isochrones_s"] = time.perf_counter() - start
    start = time.perf_counter()
    drawn += [gaps(study, key, t) for key in CATEGORIES for t in THRESHOLDS]
    times["gaps_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    times["polygons_s"] = times["isochrones_s"] + times["gaps_s"]
    times["polygon_share"] = times["polygons_s"] / times["total_s"]
    times["rest_s"] = times["total_s"] - times["polygons_s"]
    times.update(output_floor(drawn, net.crs))
    times["floor_over_rest"] = times["floor_s"] / times["rest_s"]
    times["polygons_over_floor"] = times["polygons_s"] / times["floor_s"]
    times["mean_share_15min"] = float(table[table["threshold"] == 15]["share"].mean())
    # what `analyze` computes on a fresh study: every category's judged coverage, the plan's
    # indicators, each home's times, the isochrones and one gap map per category (at the
    # threshold it is judged at), without writing files
    fresh = Study.build(net, facilities, homes, catalogue=load_catalogue())
    start = time.perf_counter()
    analyze_study(fresh, THRESHOLDS, categories=CATEGORIES)
    times["analyze_s"] = time.perf_counter() - start
    return times


def output_floor(frames: list, crs: object) -> dict[str, float]:
    """The cost of handing over these polygons without tracing them (see the docstring).

    The polygons are put back into the network's CRS first (not timed); then their
    vertices are projected to WGS-84 in one pyproj call and built from flat arrays.
    """
    geoms = np.concatenate([frame.to_crs(crs).geometry.to_numpy() for frame in frames])
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    kind, coords, offsets = shapely.to_ragged_array(parts)
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    start = time.perf_counter()
    lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
    project_s = time.perf_counter() - start
    start = time.perf_counter()
    shapely.from_ragged_array(kind, np.column_stack([lon, lat]), offsets)
    build_s = time.perf_counter() - start
    return {"vertices": float(coords.shape[0]), "floor_project_s": project_s,
            "floor_build_s": build_s, "floor_s": project_s + build_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=317, help="grid side (317 → 100k nodes)")
    parser.add_argument("--homes", type=int, default=100_000)
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.side, args.homes, args.per_category, seed) for seed in range(args.repeat)]
    median = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    print(f"\nWhole study: {len(CATEGORIES)} categories × {len(THRESHOLDS)} thresholds, "
          f"{args.homes:,} homes, {args.side ** 2:,}-node grid, {args.per_category} facilities "
          f"per category (medians of {args.repeat})\n")  # fmt: skip
    floor = ["polygons_s", "polygon_share", "rest_s", "vertices", "floor_project_s",
             "floor_build_s", "floor_s", "floor_over_rest", "polygons_over_floor"]  # fmt: skip
    print_table([median], [k for k in median if k not in floor])
    print("\nThe polygons against their output floor (same runs):\n")
    print_table([median], floor)
    verdict = "met" if median["total_s"] < 10 and median["polygon_share"] <= 0.5 else "not met"
    print(f"\nIssue 18's target (total < 10 s, polygons ≤ half): {verdict}. Polygons at most "
          f"half need polygons_s ≤ rest_s; handing over their {median['vertices']:,.0f} vertices "
          f"alone costs {median['floor_over_rest']:.2f}× rest_s.")  # fmt: skip


if __name__ == "__main__":
    main()
