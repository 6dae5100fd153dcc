"""Street networks in: OSM files, GraphML, road centre-lines, networkx graphs, online OSM.

Every source ends in the same place: the walkable ways (see :mod:`._walkable`), projected
to a metric CRS suited to the area (local UTM unless the caller names an EPSG), compiled to
a :class:`~service_circle.compiled.WalkNetwork`. Disconnected pieces are kept; points that
land on them and cannot reach a facility are reported by the engine as unreachable.

=====================  ==========================================  =====================
source                 how                                         reader
=====================  ==========================================  =====================
``.osm.pbf``           OSM nodes and ways, split at every node     pyrosm
``.osm``/``.osm.bz2``  OSM XML, split at every node                osmnx ``graph_from_xml``
``.graphml``           a saved (osmnx) graph                       osmnx ``load_graphml``
``.geojson`` ``.gpkg`` road centre-lines without topology, noded   geopandas + shapely
``.shp`` ``.parquet``  where lines cross or meet
``.npz``               a network compiled and saved before         :func:`load_compiled`
networkx graph         nodes with ``x``/``y``, ``graph["crs"]``    in memory
place / bbox / point   online OSM                                  osmnx (Overpass)
=====================  ==========================================  =====================
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely

from service_circle._contract import Folded, fold_chains
from service_circle._errors import (
    CRSError,
    EmptyNetworkError,
    InputError,
    InputNotFoundError,
    NetworkDownloadError,
)
from service_circle._walkable import (
    TAG_COLUMNS,
    drivable_mask,
    incline_grade,
    step_count,
    walkable_mask,
)
from service_circle.crossings import (
    find_crossings,
    is_oneway,
    lane_count,
    node_control,
    way_control,
)
from service_circle.readers import BBox, check_box_source, edge_of_extract_quiet, open_pbf
from service_circle.walk_network import WalkNetwork, load_compiled

logger = logging.getLogger(__name__)

WGS84 = pyproj.CRS.from_epsg(4326)
LINE_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet")
#: Centre-line vertices are rounded to this grid before noding, so that ends that differ
#: by floating-point noise meet.
DEFAULT_GRID_M = 0.01

NetworkSource: TypeAlias = str | os.PathLike | nx.Graph | WalkNetwork
#: The ways an OSM file gives: ``walk`` (people on foot) or ``drive`` (cars, buses and
#: motorbikes: the township circle by road of TD/T 1062's 乡集镇 tier).
MODES = ("walk", "drive")
#: ``oneway`` values of a way drawn against its direction of travel (osmnx turns it round).
_REVERSED_ONEWAY = frozenset({"-1", "reverse", "T"})
#: OSM node tags read for crossings: signals and crossings.
NODE_TAGS = ("highway", "crossing", "crossing:signals", "crossing_ref")


def load_network(
    source: NetworkSource,
    *,
    crs: str | int | pyproj.CRS | None = None,
    source_crs: str | int | pyproj.CRS | None = None,
    mode: str = "walk",
    crossings: bool = False,
    simplify: bool = True,
    bbox: BBox | None = None,
) -> WalkNetwork:
    """Load a walking (or driving) network from a file or a networkx graph and compile it.

    Parameters
    ----------
    source
        A path (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.graphml``, a road centre-line
        file ``.geojson``/``.gpkg``/``.shp``/``.parquet``, or a compiled ``.npz``), a
        networkx graph with node ``x``/``y`` attributes, or a compiled network (returned
        as is).
    crs
        The metric CRS to work in, e.g. ``"EPSG:4543"``. Default: the local UTM zone.
    source_crs
        The CRS of a centre-line file or graph that does not say (e.g. a shapefile
        without ``.prj``). Ignored for OSM files, which are WGS-84.
    mode
        ``"walk"`` or ``"drive"`` (:data:`MODES`): which ways of an OSM file are kept.
        Other sources are taken as they are.
    crossings
        Find where walkers cross major roads (:mod:`service_circle.crossings`) from the
        highway classes and OSM's crossing, signal, lanes and oneway tags, so that the
        walking profiles charge their wait and width. A compiled ``.npz`` keeps the
        crossings it was compiled with.
    simplify
        Fold the nodes that only bend a way (two edges of one OSM way) into its edges'
        geometry (:mod:`._contract`): the same streets and times with a third of the
        nodes. ``False`` keeps every OSM node.
    bbox
        Only the ways within this box (WGS-84 ``west, south, east, north``) of an
        ``.osm.pbf`` file, read without loading the rest of the file.

    Returns
    -------
    WalkNetwork
        The compiled network, in metres.

    Raises
    ------
    InputNotFoundError
        If the path does not exist.
    EmptyNetworkError
        If the source has no walkable way.
    CRSError
        If ``crs`` is not a metric CRS for the area, or a source's CRS is unknown.
    InputError
        If the file cannot be read.
    """
    if mode not in MODES:
        raise InputError(f"network mode {mode!r}: use walk or drive")
    if isinstance(source, WalkNetwork):
        return _check_crossings(source, crossings, "the network")
    if isinstance(source, nx.Graph):
        return network_from_graph(source, crs=crs, source_crs=source_crs, crossings=crossings,
                                  simplify=simplify)  # fmt: skip
    path = Path(source)
    if not path.exists():
        raise InputNotFoundError(f"network file {path} does not exist")
    if path.is_dir():
        raise InputError(f"network source {path} is a folder: give a file")
    name = path.name.lower()
    if path.stat().st_size == 0:
        raise EmptyNetworkError(f"network file {path} is empty")
    check_box_source(path, bbox)  # only an .osm.pbf is read by box
    if name.endswith(".npz"):
        net = load_compiled(path)
        if crs is not None and _parse_crs(crs, what="crs") != net.crs:
            raise CRSError(
                f"{path} was compiled in {net.crs.to_string()}, not {crs}: compile it again "
                f"with `service-circle network SOURCE --crs {crs} --out {path.name}`"
            )
        return _check_crossings(net, crossings, str(path))
    if name.endswith(".pbf"):
        return _from_pbf(path, crs=crs, mode=mode, crossings=crossings, simplify=simplify,
                         bbox=bbox)  # fmt: skip
    if name.endswith((".osm", ".osm.bz2", ".xml", ".osm.xml")):
        return _from_osm_xml(path, crs=crs, mode=mode, crossings=crossings, simplify=simplify)
    if name.endswith(".graphml"):
        return _from_graphml(path, crs=crs, source_crs=source_crs, crossings=crossings,
                             simplify=simplify)  # fmt: skip
    if name.endswith(LINE_SUFFIXES):
        return network_from_lines(path, crs=crs, source_crs=source_crs, crossings=crossings)
    raise InputError(
        f"cannot tell the format of network file {path}: use .osm.pbf, .osm, .osm.bz2, "
        f".graphml, .npz or a line file ({', '.join(LINE_SUFFIXES)})"
    )


def _check_crossings(net: WalkNetwork, crossings: bool, what: str) -> WalkNetwork:
    """A network compiled before: its crossings are what it was compiled with."""
    if crossings and net.crossings is None:
        raise InputError(
            f"{what} was compiled without its road crossings: compile it again from its OSM "
            "file with `service-circle network SOURCE --crossings --out FILE.npz`"
        )
    return net


# ---------------------------------------------------------------------- online (osmnx)
def network_from_place(
    query: str | dict, *, crs: str | int | pyproj.CRS | None = None, crossings: bool = False
) -> WalkNetwork:
    """Download the walking network of a place from OSM (geocoded by Nominatim)."""
    import osmnx as ox

    graph = _download(ox.graph_from_place, query, what=f"place {query!r}")
    return network_from_graph(graph, crs=crs, source=f"OSM place {query!r}", crossings=crossings)


def network_from_bbox(
    bbox: tuple[float, float, float, float],
    *,
    crs: str | int | pyproj.CRS | None = None,
    crossings: bool = False,
) -> WalkNetwork:
    """Download the walking network inside ``(west, south, east, north)`` (WGS-84)."""
    import osmnx as ox

    west, south, east, north = _check_bbox(bbox)
    graph = _download(ox.graph_from_bbox, (west, south, east, north), what=f"bbox {bbox}")
    return network_from_graph(graph, crs=crs, source=f"OSM bbox {bbox}", crossings=crossings)


def network_around(
    lon: float,
    lat: float,
    dist_m: float = 1500,
    *,
    crs: str | int | pyproj.CRS | None = None,
    crossings: bool = False,
) -> WalkNetwork:
    """Download the walking network within ``dist_m`` of a point (WGS-84 lon, lat)."""
    import osmnx as ox

    _check_bbox((lon, lat, lon, lat))
    graph = _download(
        ox.graph_from_point, (lat, lon), what=f"point ({lon}, {lat})", dist=float(dist_m)
    )  # osmnx takes (lat, lon)
    return network_from_graph(graph, crs=crs, source=f"OSM point ({lon}, {lat}) ±{dist_m:g} m",
                              crossings=crossings)  # fmt: skip


def network_from_point(
    lat_lon: tuple[float, float], dist_m: float = 1500, *, crs: str | int | pyproj.CRS | None = None
) -> WalkNetwork:
    """Deprecated: a ``(lat, lon)`` point; use :func:`network_around` (``lon, lat``).

    Every other function of service-circle takes longitude first; this one is kept, with its
    old order, for one release.
    """
    warnings.warn(
        "network_from_point((lat, lon), …) is replaced by network_around(lon, lat, …): "
        "longitude first, as everywhere else",
        DeprecationWarning,
        stacklevel=2,
    )
    lat, lon = lat_lon
    return network_around(lon, lat, dist_m, crs=crs)


@contextmanager
def _osmnx_reads_our_tags(**settings: Any) -> Iterator[None]:
    """Have osmnx keep the way and node tags we read (and ``settings``); restore after."""
    import osmnx as ox

    wanted = {"useful_tags_way": sorted(set(ox.settings.useful_tags_way) | set(TAG_COLUMNS)),
              "useful_tags_node": sorted(set(ox.settings.useful_tags_node) | set(NODE_TAGS)),
              **settings}  # fmt: skip
    before = {name: getattr(ox.settings, name) for name in wanted}
    try:
        for name, value in wanted.items():
            setattr(ox.settings, name, value)
        yield
    finally:
        for name, value in before.items():
            setattr(ox.settings, name, value)


def _download(func: Callable[..., nx.MultiDiGraph], arg: Any, *, what: str, **kw: Any) -> Any:
    try:
        with _osmnx_reads_our_tags():
            return func(arg, network_type="walk", simplify=False, retain_all=True, **kw)
    except (ValueError, TypeError) as exc:
        # osmnx's InsufficientResponseError is a ValueError: nothing walkable came back
        raise EmptyNetworkError(f"OSM has no walkable ways for {what}: {exc}") from None
    except Exception as exc:  # requests / Overpass / Nominatim failures
        raise NetworkDownloadError(
            f"downloading the OSM network for {what} failed ({type(exc).__name__}: {exc}). "
            "Without internet, download an .osm.pbf extract elsewhere and pass the file"
        ) from None


def _check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in bbox)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputError(
            f"bbox {bbox} is not (west, south, east, north) in degrees: is it (lat, lon)?"
        )
    return west, south, east, north


# ---------------------------------------------------------------------- barriers
#: OSM features that no one walks across to reach a street: open water, rivers, the sea.
WATER_TAGS: dict[str, bool | str | list[str]] = {
    "natural": ["water", "coastline"],
    "waterway": ["river", "canal", "riverbank"],
}


def barriers_from_osm(path: str | os.PathLike, bbox: BBox | None = None) -> gpd.GeoSeries:
    """Water that an access leg may not cross, from an OSM file (WGS-84).

    Polygons of ``natural=water`` and ``waterway=riverbank``, and the lines of rivers,
    canals and the coastline. Pass them to :func:`service_circle.snapping.snap` as
    ``barriers`` so that a home on one bank is not snapped to the street on the other.
    Streams and ditches are left out: culverts and footbridges cross them everywhere.
    With ``bbox``, only the water in that box of an ``.osm.pbf`` file.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"OSM file {path} does not exist")
    check_box_source(path, bbox)
    try:
        if path.name.lower().endswith(".pbf"):
            with edge_of_extract_quiet():
                found = open_pbf(path, bbox).get_data_by_custom_criteria(
                    custom_filter=WATER_TAGS, filter_type="keep", keep_nodes=False
                )
        else:
            import osmnx as ox

            found = ox.features_from_xml(path, tags=WATER_TAGS)
    except ValueError as exc:
        if "No matching features" in str(exc) or "No data elements" in str(exc):
            found = None
        else:
            raise InputError(f"cannot read water features from {path} ({exc})") from None
    except Exception as exc:
        raise InputError(
            f"cannot read water features from {path} ({type(exc).__name__}: {exc})"
        ) from None
    if found is None or len(found) == 0:
        return gpd.GeoSeries([], crs=WGS84)
    geoms = found.geometry
    keep = geoms.geom_type.isin(["Polygon", "MultiPolygon", "LineString", "MultiLineString"])
    return gpd.GeoSeries(geoms[keep].to_numpy(), crs=found.crs or WGS84).reset_index(drop=True)


# ---------------------------------------------------------------------- OSM files
def _from_pbf(
    path: Path,
    *,
    crs: str | int | pyproj.CRS | None,
    mode: str = "walk",
    crossings: bool = False,
    simplify: bool = True,
    bbox: BBox | None = None,
) -> WalkNetwork:
    try:
        with edge_of_extract_quiet(), warnings.catch_warnings():
            # an empty box is said below, with the box, as the error it is
            warnings.filterwarnings("ignore", "Could not find any edges", UserWarning)
            osm = open_pbf(path, bbox)
            result = osm.get_network(
                network_type="all",
                nodes=True,
                extra_attributes=["foot", "access", "area", "motor_vehicle", "motorcar", "incline",
                                  "crossing", "step_count"],
            )  # fmt: skip
    except (MemoryError, OSError) as exc:
        if isinstance(exc, OSError) and exc.filename not in (None, str(path)):
            raise  # the machine's fault (a scratch folder, the disk), not the file's
        if isinstance(exc, MemoryError):
            raise
        raise InputError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # pyrosm raises bare Exceptions on corrupt files
        raise InputError(
            f"cannot read {path} as an OSM PBF file ({type(exc).__name__}: {exc})"
        ) from None
    if result is None or result[1] is None or len(result[1]) == 0:
        where = "" if bbox is None else f" within the box {', '.join(f'{v:g}' for v in bbox)}"
        raise EmptyNetworkError(f"{path} contains no ways with a highway tag{where}")
    nodes, edges = result
    segments = pd.DataFrame(
        {
            "u": edges["u"].to_numpy(np.int64),
            "v": edges["v"].to_numpy(np.int64),
            "osmid": edges["id"].to_numpy(np.int64),
            **{k: edges.get(k, None) for k in TAG_COLUMNS},
        }
    )
    node_table = pd.DataFrame(
        {"id": nodes["id"].to_numpy(np.int64), "lon": nodes["lon"], "lat": nodes["lat"]}
    )
    if crossings and "tags" in nodes:  # signals and crossings are node tags
        node_table["control"] = [node_control(t) if isinstance(t, dict) else 0
                                 for t in nodes["tags"]]  # fmt: skip
    return _from_osm_segments(segments, node_table, crs=crs, source=str(path), mode=mode,
                              crossings=crossings, simplify=simplify)  # fmt: skip


def _from_osm_xml(
    path: Path,
    *,
    crs: str | int | pyproj.CRS | None,
    mode: str = "walk",
    crossings: bool = False,
    simplify: bool = True,
) -> WalkNetwork:
    import osmnx as ox

    try:
        # all_oneway: each segment once, in its way's order, the way's own oneway tag kept
        with _osmnx_reads_our_tags(all_oneway=True):
            graph = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    except Exception as exc:  # ParseError, osmnx graph errors, bz2 errors
        raise InputError(f"cannot read {path} as OSM XML ({type(exc).__name__}: {exc})") from None
    if graph.number_of_edges() == 0:
        raise EmptyNetworkError(f"{path} contains no ways")
    rows = [  # osmnx turns the nodes of a oneway=-1 way round
        (u, v, _first(d.get("osmid", -1)), str(d.get("oneway")) in _REVERSED_ONEWAY,
         *(d.get(k) for k in TAG_COLUMNS))
        for u, v, d in graph.edges(data=True)
    ]  # fmt: skip
    segments = pd.DataFrame(rows, columns=["u", "v", "osmid", "reversed", *TAG_COLUMNS])
    node_table = pd.DataFrame(
        [(n, d["x"], d["y"], node_control(d)) for n, d in graph.nodes(data=True)],
        columns=["id", "lon", "lat", "control"],
    )
    return _from_osm_segments(segments, node_table, crs=crs, source=str(path), mode=mode,
                              crossings=crossings, simplify=simplify)  # fmt: skip


def _from_osm_segments(
    segments: pd.DataFrame,
    nodes: pd.DataFrame,
    *,
    crs: str | int | pyproj.CRS | None,
    source: str,
    mode: str = "walk",
    crossings: bool = False,
    simplify: bool = True,
) -> WalkNetwork:
    """Compile OSM node-to-node segments (ids ``u``/``v``) with lon/lat node positions.

    ``nodes`` may have a ``control`` column (:func:`.crossings.node_control`), used with
    ``crossings``.
    """
    n_ways = len(segments)
    keep = drivable_mask(segments) if mode == "drive" else walkable_mask(segments)
    segments = segments[keep]
    if segments.empty:
        able = "drivable" if mode == "drive" else "walkable"
        raise EmptyNetworkError(
            f"{source} has no {able} ways ({n_ways} highway segments, none {able}): "
            "is it an extract of a built-up area?"
        )
    u_id = segments["u"].to_numpy(np.int64)
    v_id = segments["v"].to_numpy(np.int64)
    # one edge per node pair (duplicate OSM ways and both directions collapse)
    lo, hi = np.minimum(u_id, v_id), np.maximum(u_id, v_id)
    pairs = np.unique(np.column_stack([lo, hi]), axis=0, return_index=True)[1]
    pairs = np.sort(pairs[lo[pairs] != hi[pairs]])
    segments, lo, hi = segments.iloc[pairs], lo[pairs], hi[pairs]
    # an incline is along its way: u → v unless the segment is the way reversed (osmnx's
    # bidirectional copies); the edge runs lo → hi
    along_way = ~segments["reversed"].fillna(False).to_numpy(bool) if "reversed" in segments \
        else np.ones(len(segments), dtype=bool)  # fmt: skip
    same = (segments["u"].to_numpy(np.int64) == lo) == along_way
    grade = np.full(len(segments), np.nan)
    if "incline" in segments:  # few ways carry one: parse each distinct value once
        tags = segments["incline"]
        tagged = tags.notna().to_numpy()
        if tagged.any():
            values = tags[tagged].astype(str)
            grade[tagged] = values.map({v: incline_grade(v) for v in values.unique()})
    edge_incline = np.where(same, grade, -grade)
    node_ids, inverse = np.unique(np.concatenate([lo, hi]), return_inverse=True)
    nodes = nodes.drop_duplicates("id").set_index("id")
    missing = np.setdiff1d(node_ids, nodes.index.to_numpy())
    if missing.size:
        raise InputError(
            f"{source} references {missing.size} nodes that it does not contain "
            f"(e.g. {missing[:3].tolist()}): was the extract clipped without complete ways?"
        )
    lon = nodes.loc[node_ids, "lon"].to_numpy(np.float64)
    lat = nodes.loc[node_ids, "lat"].to_numpy(np.float64)
    target = choose_crs(lon, lat, crs)
    x, y = pyproj.Transformer.from_crs(WGS84, target, always_xy=True).transform(lon, lat)
    x, y = np.asarray(x), np.asarray(y)
    n = lo.size
    u, v = inverse[:n], inverse[n:]
    steps = _step_shares(segments, np.hypot(x[u] - x[v], y[u] - y[v]))
    control = np.zeros(node_ids.size, np.int8)
    if crossings and "control" in nodes:
        control = nodes.loc[node_ids, "control"].to_numpy(np.int8)
    # nodes that only bend a way are folded into its edges' geometry
    osmid = segments["osmid"].to_numpy(np.int64)
    way = osmid if simplify else np.full(n, -1)  # -1: a way of its own, never folded
    folded = fold_chains(node_ids.size, u, v, way=way, foldable_edge=~np.isfinite(edge_incline),
                         protected=control > 0)  # fmt: skip
    new_index = np.cumsum(folded.kept) - 1
    first = folded.first_edge
    if steps is not None:  # a chain's steps are its pieces'
        counted = np.bincount(folded.edge_of_old, weights=np.nan_to_num(steps),
                              minlength=first.size)  # fmt: skip
        tagged = np.bincount(folded.edge_of_old, weights=np.isfinite(steps), minlength=first.size)
        steps = np.where(tagged > 0, counted, np.nan)
    incline = edge_incline[first]  # only an edge left whole has one
    net = WalkNetwork.from_edges(
        crs=target,
        node_x=x[folded.kept],
        node_y=y[folded.kept],
        node_id=node_ids[folded.kept],
        edge_u=new_index[folded.u],
        edge_v=new_index[folded.v],
        edge_osmid=osmid[first],
        edge_highway=segments["highway"].iloc[first].map(_first).astype(str).to_numpy(),
        geom_offsets=folded.inner_offsets,
        geom_xy=np.column_stack([x[folded.inner_nodes], y[folded.inner_nodes]]),
        edge_incline=incline if np.isfinite(incline).any() else None,
        edge_step_count=steps,
        source=source,
    )
    if crossings:
        net = _add_crossings(net, segments.iloc[first], control[folded.kept],
                             f"OSM tags of {source}")  # fmt: skip
    _log_loaded(net)
    return net


def _step_shares(segments: pd.DataFrame, length_m: np.ndarray) -> np.ndarray | None:
    """Each segment's share of its way's ``step_count``, by length (``None``: none tagged)."""
    if "step_count" not in segments or segments["step_count"].isna().all():
        return None
    count = segments["step_count"].map(step_count).to_numpy(np.float64)
    way = segments["osmid"].to_numpy(np.int64)
    total = pd.Series(length_m).groupby(way).transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, count * length_m / total, count)


def _add_crossings(
    net: WalkNetwork, table: pd.DataFrame, control: np.ndarray, source: str
) -> WalkNetwork:
    """``net`` with its crossings, from per-edge rows of OSM tags and per-node control."""
    control = np.asarray(control, dtype=np.int8).copy()
    if "crossing" in table:  # a crossing way's signal holds at its nodes
        way = np.array([way_control(c) for c in table["crossing"].map(_first)], dtype=np.int8)
        np.maximum.at(control, net.edge_u, way)
        np.maximum.at(control, net.edge_v, way)
    lanes = (table["lanes"].map(lambda v: lane_count(_first(v))).to_numpy(np.float64)
             if "lanes" in table else None)  # fmt: skip
    oneway = (table["oneway"].map(lambda v: is_oneway(_first(v))).to_numpy(bool)
              if "oneway" in table else None)  # fmt: skip
    found = find_crossings(net, node_control=control, edge_lanes=lanes, edge_oneway=oneway,
                           source=source)  # fmt: skip
    return net.with_crossings(found)


# ---------------------------------------------------------------------- graphs
def _from_graphml(
    path: Path,
    *,
    crs: str | int | pyproj.CRS | None,
    source_crs: str | int | pyproj.CRS | None,
    crossings: bool = False,
    simplify: bool = True,
) -> WalkNetwork:
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as exc:
        raise InputError(f"cannot read {path} as GraphML ({type(exc).__name__}: {exc})") from None
    return network_from_graph(graph, crs=crs, source_crs=source_crs, source=str(path),
                              crossings=crossings, simplify=simplify)  # fmt: skip


def network_from_graph(
    graph: nx.Graph,
    *,
    crs: str | int | pyproj.CRS | None = None,
    source_crs: str | int | pyproj.CRS | None = None,
    source: str = "networkx graph",
    crossings: bool = False,
    simplify: bool = True,
) -> WalkNetwork:
    """Compile a networkx graph (osmnx-style or plain) into a walking network.

    Nodes need ``x`` and ``y``; the graph's CRS is ``graph.graph["crs"]`` (osmnx sets it),
    else ``source_crs``. Edges may carry ``geometry`` (a LineString), ``length`` is ignored
    in favour of the projected geometry, and when edges carry ``highway`` tags the walkable
    rule is applied. Direction and parallel duplicates collapse to one undirected edge per
    distinct geometry. With ``crossings``, node ``highway``/``crossing`` and edge ``lanes``,
    ``oneway`` and ``crossing`` attributes say where walkers cross major roads. With
    ``simplify``, nodes that only bend one way are folded into its edges.
    """
    if graph.number_of_nodes() == 0 or graph.number_of_edges() == 0:
        raise EmptyNetworkError(f"{source} has no edges")
    graph_crs = graph.graph.get("crs") or source_crs
    if graph_crs is None:
        raise CRSError(f"{source} does not say its CRS: set graph.graph['crs'] or pass source_crs")
    graph_crs = _parse_crs(graph_crs, what=f"the CRS of {source}")
    try:
        node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    except (TypeError, ValueError):
        node_ids = np.arange(graph.number_of_nodes(), dtype=np.int64)
    index = {n: i for i, n in enumerate(graph.nodes)}
    try:
        xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=np.float64)
    except KeyError:
        raise InputError(f"every node of {source} needs 'x' and 'y' attributes") from None
    edges = list(graph.edges(data=True))
    table = pd.DataFrame(
        {
            "u": [index[u] for u, _, _ in edges],
            "v": [index[v] for _, v, _ in edges],
            "osmid": [_first(d.get("osmid", -1)) for _, _, d in edges],
            **{k: [d.get(k) for _, _, d in edges] for k in TAG_COLUMNS},
        }
    )
    geoms = [d.get("geometry") for _, _, d in edges]
    if table["highway"].notna().any():
        keep = walkable_mask(table)
        table, geoms = table[keep], [g for g, k in zip(geoms, keep, strict=True) if k]
        if table.empty:
            raise EmptyNetworkError(f"{source} has no walkable edges")
    lines = np.array(
        [
            g if g is not None else shapely.linestrings([xy[u], xy[v]])
            for g, u, v in zip(geoms, table["u"], table["v"], strict=True)
        ],
        dtype=object,
    )
    lon, lat = _to_lonlat(xy[:, 0], xy[:, 1], graph_crs)
    target = choose_crs(lon, lat, crs)
    to_target = pyproj.Transformer.from_crs(graph_crs, target, always_xy=True)
    node_x, node_y = to_target.transform(xy[:, 0], xy[:, 1])
    lines = shapely.transform(
        lines, lambda c: np.column_stack(to_target.transform(c[:, 0], c[:, 1]))
    )
    net = _compile_lines(
        lines,
        table["u"].to_numpy(np.int64),
        table["v"].to_numpy(np.int64),
        node_x=np.asarray(node_x),
        node_y=np.asarray(node_y),
        node_id=node_ids,
        osmid=table["osmid"].to_numpy(np.int64),
        highway=table["highway"].map(_first).astype(str).to_numpy(),
        crs=target,
        source=source,
        crossings_from=table if crossings else None,
        node_control=[node_control(d) for _, d in graph.nodes(data=True)] if crossings else None,
        fold=simplify,
    )
    _log_loaded(net)
    return net


# ---------------------------------------------------------------------- centre-lines
def network_from_lines(
    lines: str | os.PathLike | gpd.GeoDataFrame,
    *,
    crs: str | int | pyproj.CRS | None = None,
    source_crs: str | int | pyproj.CRS | None = None,
    grid_m: float = DEFAULT_GRID_M,
    crossings: bool = False,
) -> WalkNetwork:
    """Build a network from road centre-lines that have no topology.

    Lines are split ("noded") wherever they cross or touch, so that two streets drawn
    across each other meet at a junction; vertices are first rounded to ``grid_m`` so that
    ends that miss each other by floating-point noise meet. Files have no way to say that
    one line passes *over* another, so bridges are joined to what they cross: split such
    lines yourself, or use OSM data. When the file has a ``highway`` column the walkable
    rule of OSM applies to it; otherwise every line is walkable.

    Parameters
    ----------
    lines
        A path to a GeoJSON / GeoPackage / Shapefile / GeoParquet, or a GeoDataFrame.
    crs
        The metric CRS to work in (default: local UTM).
    source_crs
        The CRS of the file when it does not declare one.
    grid_m
        Rounding grid in metres applied before noding.
    crossings
        Find the crossings of major roads from the ``highway`` column (and ``lanes``,
        ``oneway`` columns where present); the file says nothing of signals.
    """
    source = str(lines) if not isinstance(lines, gpd.GeoDataFrame) else "road lines"
    frame = lines if isinstance(lines, gpd.GeoDataFrame) else _read_frame(Path(lines))
    if frame.empty:
        raise EmptyNetworkError(f"{source} has no features")
    if frame.crs is None:
        if source_crs is None:
            raise CRSError(
                f"{source} does not declare a CRS: pass source_crs (e.g. EPSG:4326, or "
                "--network-crs on the command line)"
            )
        frame = frame.set_crs(_parse_crs(source_crs, what="source_crs"))
    frame = frame[frame.geometry.notna()].explode(index_parts=False, ignore_index=True)
    is_line = frame.geom_type.isin(["LineString", "LinearRing"]).to_numpy()
    if not is_line.any():
        kinds = ", ".join(sorted(set(frame.geom_type.dropna())))
        raise InputError(f"{source} has no line geometries (found {kinds or 'none'})")
    if not is_line.all():
        logger.warning("%s: ignored %d non-line features", source, int((~is_line).sum()))
    frame = frame[is_line]
    if "highway" in frame.columns:
        frame = frame[walkable_mask(frame)]
        if frame.empty:
            raise EmptyNetworkError(f"{source} has no walkable lines (by its highway column)")
    lon, lat = _to_lonlat(*_sample_xy(frame.geometry.values), frame.crs)
    target = choose_crs(lon, lat, crs)
    projected = shapely.set_precision(frame.to_crs(target).geometry.values, grid_m)
    present = ~shapely.is_empty(projected)
    frame, projected = frame[present], projected[present]
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(projected)))
    noded = noded[shapely.length(noded) > 0]
    if noded.size == 0:
        raise EmptyNetworkError(f"{source} has only zero-length lines")
    # carry the source attributes onto each piece: the line nearest its midpoint
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    attrs = frame.iloc[shapely.STRtree(projected).query_nearest(mid, all_matches=False)[1]]
    ends = shapely.get_coordinates(
        np.concatenate([shapely.get_point(noded, 0), shapely.get_point(noded, -1)])
    )
    key = np.round(ends / grid_m).astype(np.int64)
    uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    n = noded.size
    highway = (
        attrs["highway"].map(_first).astype(str).to_numpy()
        if "highway" in attrs.columns
        else np.full(n, "line", dtype=object)
    )
    osmid = (
        pd.to_numeric(attrs["osmid"], errors="coerce").fillna(-1).to_numpy(np.int64)
        if "osmid" in attrs.columns
        else np.full(n, -1, dtype=np.int64)
    )
    net = _compile_lines(
        noded,
        inverse[:n].astype(np.int64),
        inverse[n:].astype(np.int64),
        node_x=ends[first, 0],
        node_y=ends[first, 1],
        node_id=np.arange(uniq.shape[0], dtype=np.int64),
        osmid=osmid,
        highway=highway,
        crs=target,
        source=source,
        crossings_from=attrs.reset_index(drop=True) if crossings else None,
    )
    _log_loaded(net)
    return net


def _read_frame(path: Path) -> gpd.GeoDataFrame:
    from service_circle.readers import check_file

    check_file(path, f"file {path}")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio DataSourceError, JSON errors, missing geometry …
        raise InputError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None


def _sample_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coords = shapely.get_coordinates(geoms)
    return coords[:, 0], coords[:, 1]


# ---------------------------------------------------------------------- compiling
def _compile_lines(
    lines: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    *,
    node_x: np.ndarray,
    node_y: np.ndarray,
    node_id: np.ndarray,
    osmid: np.ndarray,
    highway: np.ndarray,
    crs: pyproj.CRS,
    source: str,
    crossings_from: pd.DataFrame | None = None,
    node_control: list[int] | None = None,
    fold: bool = True,
) -> WalkNetwork:
    """Compile edges given as projected LineStrings between node indices ``u`` and ``v``.

    Geometries are oriented from ``u`` to ``v``; self-loops of zero length and exact
    duplicates (same ends, same length to the millimetre) are dropped; nodes that only
    bend one way (two edges of the same OSM id) are folded into them unless ``fold`` is
    false. With
    ``crossings_from`` (a row of tags per line) the network gets its crossings.
    """
    coords, index = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(index, minlength=lines.size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first = coords[starts]
    d_u = np.hypot(first[:, 0] - node_x[u], first[:, 1] - node_y[u])
    d_v = np.hypot(first[:, 0] - node_x[v], first[:, 1] - node_y[v])
    flip = d_v < d_u
    lines = lines.copy()
    lines[flip] = shapely.reverse(lines[flip])
    length = shapely.length(lines)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = np.column_stack([lo, hi, np.round(length * 1000).astype(np.int64)])
    keep = np.unique(key, axis=0, return_index=True)[1]
    keep.sort()
    keep = keep[(u[keep] != v[keep]) | (length[keep] > 0)]
    lines, u, v = lines[keep], u[keep], v[keep]
    # nodes that only bend one OSM way are folded into its edges' geometry
    control = np.zeros(node_x.size, np.int8) if node_control is None else np.asarray(node_control)
    way = osmid[keep] if fold else np.full(u.size, -1)
    folded = fold_chains(node_x.size, u, v, way=way, foldable_edge=np.ones(u.size, bool),
                         protected=control > 0)  # fmt: skip
    lines = _chain_lines(lines, folded)
    keep = keep[folded.first_edge]
    new_index = np.cumsum(folded.kept) - 1
    u, v = new_index[folded.u], new_index[folded.v]
    node_x, node_y, node_id = node_x[folded.kept], node_y[folded.kept], node_id[folded.kept]
    control = control[folded.kept]
    length = shapely.length(lines)
    coords, index = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(index, minlength=lines.size)
    inner = np.ones(coords.shape[0], dtype=bool)
    ends = np.cumsum(counts)
    inner[ends - 1] = False
    inner[ends - counts] = False
    offsets = np.concatenate([[0], np.cumsum(counts - 2)])
    net = WalkNetwork.from_edges(
        crs=crs,
        node_x=node_x,
        node_y=node_y,
        node_id=node_id,
        edge_u=u,
        edge_v=v,
        edge_length_m=length,
        edge_osmid=osmid[keep],
        edge_highway=highway[keep],
        geom_offsets=offsets,
        geom_xy=coords[inner],
        source=source,
    )
    if crossings_from is None:
        return net
    return _add_crossings(net, crossings_from.iloc[keep], control, f"highway classes of {source}")


def _chain_lines(lines: np.ndarray, folded: Folded) -> np.ndarray:
    """One LineString per folded edge: its pieces' coordinates joined, in order."""
    if folded.chain_edges.size == folded.u.size:  # nothing folded
        return lines[folded.chain_edges]
    coords, index = shapely.get_coordinates(lines, return_index=True)
    starts = np.searchsorted(index, np.arange(lines.size))
    stops = np.searchsorted(index, np.arange(lines.size), side="right")
    parts = []
    for i in range(folded.u.size):
        chain = slice(folded.chain_offsets[i], folded.chain_offsets[i + 1])
        pieces = [coords[starts[e] : stops[e]] if fwd else coords[starts[e] : stops[e]][::-1]
                  for e, fwd in zip(folded.chain_edges[chain], folded.chain_forward[chain],
                                    strict=True)]  # fmt: skip
        # each piece starts where the one before ends: keep that point once
        parts.append(np.concatenate([pieces[0], *(p[1:] for p in pieces[1:])]))
    sizes = np.fromiter((p.shape[0] for p in parts), dtype=np.int64, count=len(parts))
    return shapely.linestrings(np.concatenate(parts), indices=np.repeat(np.arange(sizes.size),
                                                                         sizes))  # fmt: skip


# ---------------------------------------------------------------------- CRS
def _parse_crs(value: str | int | pyproj.CRS, *, what: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise CRSError(f"{what} {value!r} is not a CRS pyproj knows (e.g. 'EPSG:32650')") from None


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    if crs.is_geographic:
        lon, lat = np.asarray(x), np.asarray(y)
    else:
        lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any() or np.abs(lat[ok]).max() > 90 or np.abs(lon[ok]).max() > 180:
        raise CRSError(
            f"coordinates do not fit their declared CRS {crs.to_string()}: are x and y "
            "swapped, or is the file in another CRS?"
        )
    return lon[ok], lat[ok]


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS-84 UTM zone CRS containing ``(lon, lat)``."""
    zone = min(math.floor((lon + 180) / 6) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def choose_crs(
    lon: np.ndarray, lat: np.ndarray, crs: str | int | pyproj.CRS | None = None
) -> pyproj.CRS:
    """The metric CRS to work in: the caller's, checked against the data, or local UTM.

    Raises
    ------
    CRSError
        If ``crs`` is unknown, geographic (degrees), not in metres, or made for another
        part of the world than the data.
    """
    lon_c = float(np.median(lon))
    lat_c = float(np.median(lat))
    if crs is None:
        return utm_crs(lon_c, lat_c)
    parsed = _parse_crs(crs, what="crs")
    suggestion = utm_crs(lon_c, lat_c).to_string()
    if not parsed.is_projected:
        raise CRSError(
            f"crs {parsed.to_string()} is in degrees, but metric work needs a projected CRS "
            f"in metres: use {suggestion} (local UTM) or leave crs unset"
        )
    unit = parsed.axis_info[0].unit_name if parsed.axis_info else ""
    if unit not in ("metre", "meter"):
        raise CRSError(
            f"crs {parsed.to_string()} measures in {unit!r}, not metres: use {suggestion}"
        )
    area = parsed.area_of_use
    if area is not None:
        west, south, east, north = area.bounds
        margin = 1.0  # degrees of tolerance around the published area of use
        inside = (
            (west - margin <= lon_c <= east + margin)
            if west <= east
            else (lon_c >= west - margin or lon_c <= east + margin)
        ) and south - margin <= lat_c <= north + margin
        if not inside:
            raise CRSError(
                f"crs {parsed.to_string()} ({parsed.name}) is made for {west:g}..{east:g}°E, "
                f"{south:g}..{north:g}°N, but the network lies at "
                f"{lon_c:.3f}°E, {lat_c:.3f}°N: use {suggestion} or leave crs unset"
            )
    return parsed


# ---------------------------------------------------------------------- helpers
def _first(value: Any) -> Any:
    """First element of an osmnx list-valued attribute, or the value itself."""
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _log_loaded(net: WalkNetwork) -> None:
    logger.info(
        "%s: %d nodes, %d edges, %.1f km, %d pieces, %s",
        net.source,
        net.n_nodes,
        net.n_edges,
        net.total_length_m / 1000,
        net.n_components,
        net.crs.to_string(),
    )
