"""service-circle: the 15-minute convenience living circle (一刻钟便民生活圈) planner.

Walking times, coverage, gaps and siting on real street networks.

The main entry points:

- :func:`service_circle.network.load_network` reads a street network from OSM files,
  GraphML, road centre-line files, a networkx graph or online OSM, keeps the walkable ways,
  projects it to metres and compiles it to arrays (:class:`~service_circle.compiled.WalkNetwork`).
- :func:`service_circle.snapping.snap` places facilities and homes on the nearest street.
- :func:`service_circle.search.travel_times` answers, with one bounded multi-source
  Dijkstra, how long each place takes to walk to its nearest facility.
"""

from service_circle._errors import (
    CRSError,
    EmptyNetworkError,
    InputError,
    InputNotFoundError,
    NetworkDownloadError,
    ServiceCircleError,
    UnknownProfileError,
)
from service_circle.cost import CostModel, Threshold
from service_circle.network import (
    barriers_from_osm,
    load_network,
    network_around,
    network_from_bbox,
    network_from_graph,
    network_from_lines,
    network_from_place,
    network_from_point,
)
from service_circle.profiles import PROFILES, Profile, get_profile
from service_circle.search import (
    SearchResult,
    TravelTimes,
    nearest,
    network_distances,
    travel_times,
)
from service_circle.snapping import Snapped, snap
from service_circle.walk_network import WalkNetwork

__version__ = "0.1.0"

__all__ = [
    "PROFILES",
    "CRSError",
    "CostModel",
    "EmptyNetworkError",
    "InputError",
    "InputNotFoundError",
    "NetworkDownloadError",
    "Profile",
    "SearchResult",
    "ServiceCircleError",
    "Snapped",
    "Threshold",
    "TravelTimes",
    "UnknownProfileError",
    "WalkNetwork",
    "__version__",
    "barriers_from_osm",
    "get_profile",
    "load_network",
    "nearest",
    "network_around",
    "network_distances",
    "network_from_bbox",
    "network_from_graph",
    "network_from_lines",
    "network_from_place",
    "network_from_point",
    "snap",
    "travel_times",
]
