"""What a query costs beyond the search: ours against scipy's Dijkstra on a prebuilt graph.

Issue 18's target: a bounded search on a 3M-node network with 200 facilities within 1.3x
of the bare kernel. The kernel is ``scipy.sparse.csgraph.dijkstra`` on the very graph
ours builds (the arcs plus one virtual node per facility), built once outside the timing;
ours is ``nearest`` end to end (seeds from the facilities' partial edges, the graph, the
search, each node's facility). The first query of a cost model pays for the arc costs
and this thread's copy of the arcs; the timed ones do not. Medians of ``--repeat``, in
one run; the ratio is printed, with the scaling exponent from the smallest to the largest
network.

    python bench/overhead.py                       # 100k, 1M and 3M nodes
    python bench/overhead.py --sides 317,1000      # quicker
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csgraph

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_time, print_table

from service_circle import search
from service_circle.cost import CostModel
from service_circle.snapping import snap
from service_circle.synthetic import grid_network, random_points

LIMIT_S = 15 * 60.0


def measure(side: int, n_facilities: int, repeat: int) -> dict:
    net = grid_network(side, seed=1)
    facilities = snap(net, random_points(net, n_facilities, seed=2), what="facilities")
    cost = CostModel.walking("elderly")
    search.nearest(net, facilities, cost=cost, limit=LIMIT_S)  # arc costs, once
    forward, backward = search.edge_costs(net, cost)
    seeds = search._seeds(net, facilities, forward, backward, cost.access_costs, True)
    graph, first = search._seeded_graph(net, cost.arc_costs(net), *seeds)
    graph = graph.copy()  # the kernel's own graph, not the buffer ours writes into
    k = np.unique(seeds[2]).size
    t_kernel, _ = median_time(lambda: csgraph.dijkstra(
        graph, directed=True, indices=first + np.arange(k), min_only=True, limit=LIMIT_S,
        return_predecessors=True), repeat)  # fmt: skip
    t_ours, _ = median_time(
        lambda: search.nearest(net, facilities, cost=cost, limit=LIMIT_S), repeat
    )
    return {"nodes": net.n_nodes, "facilities": n_facilities, "kernel_s": t_kernel,
            "ours_s": t_ours, "ours/kernel": t_ours / t_kernel}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="317,1000,1732", help="grid sides (nodes = side²)")
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    rows = [measure(int(s), args.facilities, args.repeat) for s in args.sides.split(",")]
    print(f"\nBounded search ({LIMIT_S / 60:g} min, elderly) against the bare kernel on the same "
          f"graph; medians of {args.repeat}\n")  # fmt: skip
    print_table(rows, ["nodes", "facilities", "kernel_s", "ours_s", "ours/kernel"])
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        size = np.log(b["nodes"] / a["nodes"])
        print(f"scaling exponent {a['nodes']:,} → {b['nodes']:,} nodes: ours "
              f"{np.log(b['ours_s'] / a['ours_s']) / size:.2f}, kernel "
              f"{np.log(b['kernel_s'] / a['kernel_s']) / size:.2f} (target: ours/kernel <= 1.3 "
              "at 3M)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
