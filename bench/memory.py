"""Memory of a compiled 1M-node network, and of the segment index that snapping builds.

Run ``python bench/memory.py [--side 1732]`` (1000: 1M nodes; 1732: 3M). Resident memory
is read from ``/proc/self/status`` (Linux); the peak is the process's high-water mark.
Issue 18's targets: load + snap + one search under 2.5x the compiled arrays at 1M nodes,
and under 1.5 GB at 3M.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

from service_circle import snap, travel_times
from service_circle.synthetic import grid_network, random_points
from service_circle.walk_network import load_compiled


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="grid side (nodes = side²)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = grid_network(args.side).save(Path(tmp) / "grid.npz")
        gc.collect()
        base = rss_mb()
        net = load_compiled(path)
        loaded = rss_mb()
        fac_points = random_points(net, 500, seed=1)
        result = travel_times(net, snap(net, fac_points, min_piece_m=0))
        after = rss_mb()
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges")
    print(f"compiled arrays (WalkNetwork.nbytes): {net.nbytes / 1e6:.0f} MB")
    print(f"process growth after loading the .npz: {loaded - base:.0f} MB")
    print(
        f"process growth after snapping + one search: {after - base:.0f} MB "
        f"(the segment index is built on the first snap and cached)"
    )
    print(f"nodes reached: {int((result.node_facility >= 0).sum()):,}")
    print(
        f"peak resident memory of the process: {rss_mb('VmHWM'):.0f} MB (all of it, compiling "
        f"the grid included); growth / arrays: {(after - base) / (net.nbytes / 1e6):.2f}x"
    )


if __name__ == "__main__":
    main()
