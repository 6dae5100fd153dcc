"""The ``service-circle`` command.

Every command prints one readable line and exits non-zero on bad input (exit code 2),
never a traceback. Results are written atomically.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from service_circle._errors import InputError, ServiceCircleError
from service_circle.compiled import WalkNetwork
from service_circle.engine import DEFAULT_MAX_SNAP_M, DEFAULT_MIN_PIECE_M, snap, travel_times
from service_circle.io import read_points, write_csv, write_geojson
from service_circle.network import (
    barriers_from_osm,
    load_network,
    network_from_bbox,
    network_from_place,
)
from service_circle.profiles import PROFILES, Threshold, get_profile, minutes_to_seconds

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="service-circle",
    help="Plan the 15-minute convenience living circle (一刻钟便民生活圈) on real streets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# wide enough for the tables when the output goes to a file or a pipe
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DEMO_THRESHOLDS_MIN = (5, 10, 15)
Barriers = Annotated[
    str,
    typer.Option(
        help="Water an access leg may not cross: auto (from an OSM network file), none, "
        "or a GeoJSON/GPKG of lines/polygons"
    ),
]
MinPiece = Annotated[
    float, typer.Option(help="Do not snap to network pieces shorter than this in total (m)")
]


def _network(source: str, crs: str | None) -> WalkNetwork:
    """A network from a path, ``place:NAME`` or ``bbox:W,S,E,N`` (online OSM)."""
    if source.startswith("place:"):
        return network_from_place(source.removeprefix("place:"), crs=crs)
    if source.startswith("bbox:"):
        try:
            bbox = tuple(float(v) for v in source.removeprefix("bbox:").split(","))
        except ValueError:
            bbox = ()
        if len(bbox) != 4:
            raise InputError(f"--network {source!r}: write bbox:WEST,SOUTH,EAST,NORTH in degrees")
        return network_from_bbox(bbox, crs=crs)  # type: ignore[arg-type]
    return load_network(source, crs=crs)


def _barriers(option: str, network: str):
    """Water barriers: ``auto`` (from the network's OSM file), ``none``, or a file."""
    if option == "none":
        return None
    if option == "auto":
        name = network.lower()
        if name.endswith((".pbf", ".osm", ".osm.bz2", ".osm.xml")) and Path(network).exists():
            return barriers_from_osm(network)
        return None
    frame = read_points(Path(option), what=f"barriers file {option}")
    return frame.geometry


def _describe(net: WalkNetwork) -> str:
    return (
        f"{net.n_nodes:,} nodes, {net.n_edges:,} edges, {net.total_length_m / 1000:.1f} km, "
        f"{net.n_components} piece(s), {net.crs.to_string()}"
    )


@app.command()
def times(
    network: Annotated[
        str,
        typer.Option(help="Network: .osm.pbf/.osm/.graphml/.npz/lines, place:NAME, bbox:W,S,E,N"),
    ],
    facilities: Annotated[Path, typer.Option(help="Facilities: GeoJSON/GPKG, or CSV with lon,lat")],
    points: Annotated[Path, typer.Option(help="Points: GeoJSON/GPKG, or CSV with lon,lat")],
    out: Annotated[Path, typer.Option(help="Output CSV")],
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    speed: Annotated[
        float | None, typer.Option(help="Walking speed in m/s (overrides --profile)")
    ] = None,
    cutoff_min: Annotated[
        float | None, typer.Option(help="Stop searching beyond N minutes")
    ] = None,
    max_snap_m: Annotated[
        float, typer.Option(help="Largest distance from a point to a street")
    ] = DEFAULT_MAX_SNAP_M,
    min_piece_m: MinPiece = DEFAULT_MIN_PIECE_M,
    barriers: Barriers = "auto",
    input_crs: Annotated[
        str,
        typer.Option(
            help="Coordinates of the facility and point files: wgs84, gcj02 (Amap, Tencent), "
            "bd09 (Baidu) or EPSG:n; converted to WGS-84"
        ),
    ] = "wgs84",
    crs: Annotated[
        str | None, typer.Option(help="Metric CRS to work in (default: local UTM)")
    ] = None,
) -> None:
    """Walking time from every point to its nearest facility, one CSV row per point.

    Columns: point_id, time_s (empty when unreachable within the cutoff), facility_id,
    snap_m (distance from the point to its street), status.
    """
    prof = get_profile(profile, speed_m_s=speed)
    net = _network(network, crs)
    err_console.print(f"network {network}: {_describe(net)}")
    fac = read_points(facilities, crs=input_crs)
    pts = read_points(points, crs=input_crs)
    err_console.print(
        f"assumed coordinates: facilities and points in {input_crs}"
        + (" (converted to WGS-84)" if input_crs.lower() in ("gcj02", "bd09") else "")
    )
    walls = _barriers(barriers, network)
    if walls is not None:
        err_console.print(f"barriers: {len(walls)} water features that access legs may not cross")
    snap_options = {"max_snap_m": max_snap_m, "min_piece_m": min_piece_m, "barriers": walls}
    fac_snapped = snap(net, fac, what=f"facilities in {facilities}", **snap_options)
    pts_snapped = snap(net, pts, what=f"points in {points}", **snap_options)
    cutoff_s = None if cutoff_min is None else minutes_to_seconds(cutoff_min)
    result = travel_times(net, fac_snapped, pts_snapped, profile=prof, cutoff_s=cutoff_s)
    table = result.to_frame()
    write_csv(table, out)
    counts = table["status"].value_counts()
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    console.print(
        f"wrote {out}: {len(table)} points ({summary}); profile {prof.name} {prof.speed_m_s} m/s"
    )
    _report_unplaced(fac_snapped.off_network_ids, f"facilities in {facilities}")
    _report_unplaced(pts_snapped.off_network_ids, f"points in {points}")


def _report_unplaced(ids: np.ndarray, what: str) -> None:
    if ids.size:
        shown = ", ".join(map(str, ids[:10])) + (" …" if ids.size > 10 else "")
        err_console.print(f"[yellow]{ids.size} {what} not on the network[/]: {shown}")


@app.command()
def network(
    source: Annotated[str, typer.Argument(help="Network source (file, place:NAME, bbox:W,S,E,N)")],
    out: Annotated[Path, typer.Option(help="Compiled network file (.npz)")],
    crs: Annotated[str | None, typer.Option(help="Metric CRS (default: local UTM)")] = None,
) -> None:
    """Compile a street network once and save it; reload it in a fraction of a second."""
    net = _network(source, crs)
    path = net.save(out)
    console.print(f"wrote {path}: {_describe(net)}, {net.nbytes / 1e6:.1f} MB of arrays")


Lang = Annotated[str, typer.Option(help="Language of names: zh or en")]
CatalogueFile = Annotated[
    Path | None, typer.Option(help="Your own category catalogue (TOML, same fields)")
]


@app.command()
def categories(lang: Lang = "en", catalogue: CatalogueFile = None) -> None:
    """List the facility categories of the catalogue."""
    from service_circle.catalogue import load_catalogue

    cat = load_catalogue(catalogue)
    table = Table(title=f"facility categories — {cat.source}")
    for col in ("key", "name", "level", "threshold", "serves", "capacity", "basic"):
        table.add_column(col, no_wrap=True)
    table.add_column("OSM / Amap", overflow="fold")
    for c in cat:
        osm = "; ".join(" + ".join(f"{k}={'|'.join(v)}" for k, v in rule.items()) for rule in c.osm)
        amap = ("Amap " + ",".join(c.amap_typecodes)) if c.amap_typecodes else ""
        table.add_row(
            c.key,
            c.name(lang),
            c.level,
            f"{c.minutes:g} min / {c.metres:g} m",
            c.group,
            c.capacity_unit,
            "✓" if c.basic_guarantee else "",
            "\n".join(s for s in (osm or "(name keywords)", amap) if s),
        )
    console.print(table)


@app.command()
def facilities(
    out: Annotated[Path, typer.Option(help="Output GeoJSON (WGS-84)")],
    osm: Annotated[Path | None, typer.Option(help="An .osm.pbf / .osm file")] = None,
    file: Annotated[Path | None, typer.Option(help="A POI file: CSV, XLSX, GeoJSON, GPKG")] = None,
    place: Annotated[str | None, typer.Option(help="Online OSM: a place name")] = None,
    crs: Annotated[
        str, typer.Option(help="Coordinates of --file: wgs84, gcj02, bd09 or EPSG:n")
    ] = "wgs84",
    catalogue: CatalogueFile = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Keep only these categories (repeatable)")
    ] = None,
    all_rows_are: Annotated[
        str | None, typer.Option(help="Every row of --file is this category")
    ] = None,
    lon: Annotated[str | None, typer.Option(help="Longitude column")] = None,
    lat: Annotated[str | None, typer.Option(help="Latitude column")] = None,
    location: Annotated[str | None, typer.Option(help='"lon,lat" column (Amap)')] = None,
    category_column: Annotated[str | None, typer.Option(help="Category column")] = None,
    typecode_column: Annotated[str | None, typer.Option(help="Amap typecode column")] = None,
    name_column: Annotated[str | None, typer.Option(help="Name column")] = None,
    capacity_column: Annotated[str | None, typer.Option(help="Capacity column")] = None,
    id_column: Annotated[str | None, typer.Option(help="Id column")] = None,
) -> None:
    """Read facilities (OSM, a POI file or online OSM) and write what was understood.

    Writes a GeoJSON with id, name, category, capacity and source, and prints the rows
    that could not be used (line number and reason) and likely duplicates.
    """
    from service_circle.catalogue import load_catalogue
    from service_circle.facilities import (
        ColumnMap,
        facilities_from_file,
        facilities_from_osm,
        facilities_from_place,
    )

    given = [x for x in (osm, file, place) if x is not None]
    if len(given) != 1:
        raise InputError("give exactly one of --osm FILE, --file FILE or --place NAME")
    cat = load_catalogue(catalogue)
    if osm is not None:
        frame, report = facilities_from_osm(osm, cat, categories=category)
        err_console.print(f"read {osm}: OSM data is WGS-84")
    elif place is not None:
        frame, report = facilities_from_place(place, cat, categories=category)
    else:
        columns = ColumnMap(
            lon=lon,
            lat=lat,
            location=location,
            category=category_column,
            typecode=typecode_column,
            name=name_column,
            capacity=capacity_column,
            id=id_column,
        )
        frame, report = facilities_from_file(
            file, cat, crs=crs, columns=columns, category=all_rows_are, categories=category
        )
        converted = " (converted to WGS-84)" if crs.lower() in ("gcj02", "bd09") else ""
        err_console.print(f"read {file}: coordinates assumed {crs}{converted}")
    write_geojson(frame, out)
    counts = frame["category"].value_counts()
    summary = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    console.print(f"wrote {out}: {len(frame)} facilities ({summary})")
    if len(report.problems):
        err_console.print(f"[yellow]{len(report.problems)} rows not used[/]:")
        for row, reason in report.problems.head(20).itertuples(index=False):
            err_console.print(f"  line {row}: {reason}")
        if len(report.problems) > 20:
            err_console.print(f"  … and {len(report.problems) - 20} more")
    if len(report.duplicates):
        err_console.print(
            f"[yellow]{len(report.duplicates)} likely duplicates[/] (same category within 5 m):"
        )
        for a, b, key, d in report.duplicates.head(20).itertuples(index=False):
            err_console.print(f"  {a} ~ {b} ({key}, {d} m)")


@app.command()
def demand(
    out: Annotated[Path, typer.Option(help="Output GeoJSON of demand points (WGS-84)")],
    buildings: Annotated[
        Path | None, typer.Option(help="Buildings: an .osm.pbf/.osm, or polygons (GeoJSON/GPKG)")
    ] = None,
    polygons: Annotated[
        Path | None, typer.Option(help="Community / census polygons with counts")
    ] = None,
    population_column: Annotated[
        str, typer.Option(help="Count column of --polygons")
    ] = "population",
    raster: Annotated[Path | None, typer.Option(help="Population raster (GeoTIFF)")] = None,
    hex_resolution: Annotated[
        int | None, typer.Option("--hex", help="Sum into h3 hexagons of this resolution")
    ] = None,
    floor_area_per_person: Annotated[
        float, typer.Option(help="m² of floor area per resident")
    ] = 40.0,
    shares: Annotated[
        str | None,
        typer.Option(
            help="Age shares where the input has none, e.g. pop_60plus=0.21,pop_0_3=0.025"
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="Coordinates of --polygons/--buildings files: wgs84, gcj02, bd09, EPSG:n"
        ),
    ] = None,
) -> None:
    """Build demand points (population by age group) and write what was understood."""
    from service_circle import demand as dm

    share_map = _parse_shares(shares)
    if (polygons is None) == (raster is None) and buildings is None:
        raise InputError("give --buildings, --polygons (optionally with --buildings) or --raster")
    if raster is not None and (polygons is not None or buildings is not None):
        raise InputError("--raster stands alone: do not combine it with --polygons/--buildings")
    homes = landuse = None
    if buildings is not None:
        homes, landuse = _buildings(buildings, crs)
    if raster is not None:
        points = dm.demand_from_raster(raster, shares=share_map)
        err_console.print(f"read {raster}: its own CRS")
    elif polygons is not None:
        polys = read_points(polygons, crs=crs)
        err_console.print(f"read {polygons}: coordinates assumed {crs or polys.crs.to_string()}")
        points = dm.demand_from_polygons(
            polys,
            population_column=population_column,
            buildings=homes,
            landuse=landuse,
            shares=share_map,
            what=str(polygons),
        )
    else:
        points = dm.demand_from_buildings(
            homes,
            landuse=landuse,
            floor_area_per_person_m2=floor_area_per_person,
            shares=share_map,
        )
    if hex_resolution is not None:
        points = dm.hex_demand(points, hex_resolution)
    write_geojson(points, out)
    groups = ", ".join(f"{c} {points[c].sum():,.0f}" for c in dm.AGE_COLUMNS)
    console.print(
        f"wrote {out}: {len(points)} points, population {points['population'].sum():,.0f} "
        f"({groups})"
    )


def _parse_shares(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise InputError(
                f"--shares {text!r}: write group=share, e.g. pop_60plus=0.21"
            ) from None
    return out


def _buildings(path: Path, crs: str | None):
    from service_circle import demand as dm

    if path.name.lower().endswith((".pbf", ".osm", ".osm.bz2")):
        err_console.print(f"read {path}: OSM data is WGS-84")
        return dm.buildings_from_osm(path), dm.landuse_from_osm(path)
    err_console.print(f"read {path}: coordinates assumed {crs or 'as the file declares'}")
    return dm.buildings_from_file(path, crs=crs), None


def _read_facilities(paths: list[Path], catalogue, crs: str):
    """Facilities from OSM files and POI files, one normalised frame."""
    from service_circle.facilities import facilities_from_file, facilities_from_osm

    frames = []
    for path in paths:
        if path.name.lower().endswith((".pbf", ".osm", ".osm.bz2")):
            frame, _ = facilities_from_osm(path, catalogue)
        else:
            frame, report = facilities_from_file(path, catalogue, crs=crs)
            if len(report.problems):
                err_console.print(f"[yellow]{path}: {len(report.problems)} rows not used[/]")
        frames.append(frame)
    return _concat(frames)


def _concat(frames: list) -> gpd.GeoDataFrame:
    """Stack WGS-84 GeoDataFrames."""
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _read_demand(path: Path, crs: str):
    from service_circle.demand import with_groups

    frame = read_points(path, crs=crs)
    if "population" not in frame.columns:
        raise InputError(
            f"{path} has no population column: build demand points with `service-circle demand`"
        )
    if "id" not in frame.columns:
        frame["id"] = np.arange(len(frame)).astype(str)
    return with_groups(frame)


@app.command()
def build(
    network: Annotated[str, typer.Option(help="Network source (file, place:NAME, bbox:…)")],
    facilities: Annotated[
        list[Path], typer.Option(help="Facilities: OSM file or POI file (repeatable)")
    ],
    demand: Annotated[Path, typer.Option(help="Demand points (from `service-circle demand`)")],
    out: Annotated[Path, typer.Option(help="Study folder, e.g. studies/haidian")],
    catalogue: CatalogueFile = None,
    input_crs: Annotated[
        str, typer.Option(help="Coordinates of POI/demand files: wgs84, gcj02, bd09, EPSG:n")
    ] = "wgs84",
    barriers: Barriers = "auto",
    max_snap_m: Annotated[
        float, typer.Option(help="Largest distance from a point to a street")
    ] = DEFAULT_MAX_SNAP_M,
    crs: Annotated[str | None, typer.Option(help="Metric CRS (default: local UTM)")] = None,
) -> None:
    """Build a study once (network, facilities, demand, snapped) and save it to a folder."""
    from service_circle.catalogue import load_catalogue
    from service_circle.study import Study

    cat = load_catalogue(catalogue)
    net = _network(network, crs)
    err_console.print(f"network {network}: {_describe(net)}")
    fac = _read_facilities(facilities, cat, input_crs)
    dem = _read_demand(demand, input_crs)
    err_console.print(f"assumed coordinates of POI and demand files: {input_crs}")
    study = Study.build(
        net, fac, dem, name=out.name, catalogue=cat, barriers=_barriers(barriers, network),
        max_snap_m=max_snap_m,
    )  # fmt: skip
    study.save(out)
    counts = ", ".join(f"{k} {v}" for k, v in fac["category"].value_counts().items())
    console.print(
        f"wrote study {out}: {len(fac)} facilities ({counts}); {len(dem)} demand points, "
        f"population {dem['population'].sum():,.0f}"
    )


def _thresholds(minutes: str | None, metres: str | None):
    from service_circle.profiles import Threshold

    if minutes and metres:
        raise InputError("give --minutes or --metres, not both")
    text, make = (metres, Threshold.metres) if metres else (minutes or "5,10,15", Threshold.minutes)
    try:
        return [make(float(v)) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"thresholds {text!r}: write numbers separated by commas") from None


@app.command()
def analyze(
    out: Annotated[Path, typer.Option(help="Output folder")],
    study: Annotated[
        Path | None, typer.Option(help="A study folder from `service-circle build`")
    ] = None,
    network: Annotated[str | None, typer.Option(help="Or: a network source …")] = None,
    facilities: Annotated[
        list[Path] | None, typer.Option(help="… facility files (repeatable) …")
    ] = None,
    demand: Annotated[Path | None, typer.Option(help="… and demand points")] = None,
    input_crs: Annotated[
        str, typer.Option(help="Coordinates of POI/demand files: wgs84, gcj02, bd09, EPSG:n")
    ] = "wgs84",
    minutes: Annotated[str | None, typer.Option(help="Thresholds in minutes, e.g. 5,10,15")] = None,
    metres: Annotated[
        str | None, typer.Option(help="Thresholds in metres, e.g. 300,500,1000")
    ] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable)")
    ] = None,
    targets_preset: Annotated[
        str, typer.Option(help="Targets: haidong_2025 or national (or a preset of --targets)")
    ] = "haidong_2025",
    targets: Annotated[Path | None, typer.Option(help="Your own targets file (TOML)")] = None,
    lang: Annotated[str, typer.Option(help="Language of the map: zh or en")] = "zh",
) -> None:
    """Coverage, demand times, isochrones, gaps, the plan-target report and the map.

    Writes coverage.csv, demand_times.csv, isochrones.geojson, gaps.geojson, report.json,
    report.csv, report.html and map.html (self-contained: opens without internet).
    """
    from service_circle.catalogue import load_catalogue
    from service_circle.study import Study

    if study is not None:
        if network or facilities or demand:
            raise InputError("give --study, or --network with --facilities and --demand; not both")
        st = Study.load(study)
    elif network and facilities and demand:
        cat = load_catalogue()
        net = _network(network, None)
        st = Study.build(
            net, _read_facilities(facilities, cat, input_crs), _read_demand(demand, input_crs),
            name=Path(network).stem, catalogue=cat, barriers=_barriers("auto", network),
        )  # fmt: skip
    else:
        raise InputError("give --study DIR, or --network, --facilities and --demand")
    _analyze(st, out, _thresholds(minutes, metres), profile, category, targets_preset, targets,
             lang=lang)  # fmt: skip


def _analyze(
    st, out, thresholds, profile, category, targets_preset, targets, lang: str = "zh"
) -> None:
    """Write every analysis output of a study into ``out`` and print the coverage table."""
    from service_circle.coverage import coverage_table, demand_times, gaps, isochrones
    from service_circle.indicators import load_targets, plan_report, write_report

    keys = category or sorted(set(st.facilities["category"]), key=st.catalogue.keys().index)
    for key in keys:
        st.catalogue[key]
    table = coverage_table(st, thresholds, categories=keys, profile=profile)
    iso = pd.concat([isochrones(st, k, thresholds, profile=profile) for k in keys])
    gap = pd.concat([gaps(st, k, t, profile=profile) for k in keys for t in thresholds])
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "coverage.csv")
    write_csv(demand_times(st, categories=keys, profile=profile), out / "demand_times.csv")
    write_geojson(_concat([iso]), out / "isochrones.geojson")
    write_geojson(_concat([gap]), out / "gaps.geojson")
    label = load_targets(targets_preset, targets).get("label", targets_preset)
    report = plan_report(st, preset=targets_preset, targets_file=targets, profile=profile)
    write_report(st, report, table, out, preset_label=label)
    from service_circle.maps import save_map, study_map

    fmap = study_map(st, categories=keys, thresholds=thresholds, profile=profile, lang=lang,
                     self_contained=True, computed_isochrones=iso,
                     computed_gaps=gap)  # fmt: skip
    save_map(fmap, out / "map.html")
    show = Table(title=f"coverage — study {st.name}")
    for col in ("category", "threshold", "facilities", "covered", "share", "group", "group share"):
        show.add_column(col, justify="left" if col in ("category", "group") else "right")
    for r in table.itertuples():
        show.add_row(
            r.category, f"{r.threshold:g} {r.unit}", str(r.facilities), f"{r.covered:,.0f}",
            f"{r.share:.0%}", r.group, f"{r.group_share:.0%}",
        )  # fmt: skip
    console.print(show)
    targets_table = Table(title=f"plan targets — {label}")
    for col in ("indicator", "value", "target", "status"):
        targets_table.add_column(col)
    for ind in report:
        shown = (
            "—"
            if ind.value is None
            else (f"{ind.value:.0%}" if ind.unit.startswith("share") else f"{ind.value:,.2f}")
        )
        target = (
            "—"
            if ind.target is None
            else (f"{ind.target:.0%}" if ind.unit.startswith("share") else f"{ind.target:g}")
        )
        status = ind.status if ind.status != "not computable" else f"not computable — {ind.note}"
        targets_table.add_row(ind.name_en, shown, target, status)
    console.print(targets_table)
    console.print(
        f"wrote {out}/: coverage.csv, demand_times.csv, isochrones.geojson, gaps.geojson, "
        "report.json, report.csv, report.html, map.html"
    )
    console.print("Data: © OpenStreetMap contributors (ODbL 1.0)")


@app.command()
def site(
    study: Annotated[Path, typer.Option(help="A study folder from `service-circle build`")],
    category: Annotated[str, typer.Option(help="The category to site, e.g. elderly_canteen")],
    out: Annotated[Path, typer.Option(help="Output folder")],
    p: Annotated[
        int | None, typer.Option(help="Open this many new sites (maximal coverage)")
    ] = None,
    target_share: Annotated[
        float | None, typer.Option(help="Fewest sites to reach this share, e.g. 0.9 (set cover)")
    ] = None,
    minutes: Annotated[float | None, typer.Option(help="Threshold in minutes")] = None,
    metres: Annotated[float | None, typer.Option(help="Threshold in metres")] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="Candidate sites (points); default: spots in the gaps")
    ] = None,
    candidates_crs: Annotated[
        str, typer.Option(help="Coordinates of --candidates: wgs84, gcj02, bd09, EPSG:n")
    ] = "wgs84",
    exclude: Annotated[Path | None, typer.Option(help="Areas where no site may go")] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="mclp (with --p), lscp (with --target-share) or pmedian (with --p)"),
    ] = None,
    method: Annotated[str, typer.Option(help="exact (HiGHS) or greedy")] = "exact",
    time_limit: Annotated[float, typer.Option(help="Solver time limit, seconds")] = 60.0,
) -> None:
    """Where to open new facilities: writes sites.geojson, summary.json, gaps_after.geojson."""
    import json

    from service_circle.coverage import gaps
    from service_circle.io import atomic_write
    from service_circle.profiles import Threshold
    from service_circle.siting import site_study, site_summary
    from service_circle.study import Study

    st = Study.load(study)
    cat = st.catalogue[category]
    if minutes is not None and metres is not None:
        raise InputError("give --minutes or --metres, not both")
    threshold = (
        Threshold.metres(metres) if metres is not None
        else Threshold.minutes(minutes if minutes is not None else cat.minutes)
    )  # fmt: skip
    cands = read_points(candidates, crs=candidates_crs) if candidates else None
    if cands is not None and "id" not in cands.columns:
        cands["id"] = [f"candidate-{i + 1}" for i in range(len(cands))]
    zones = read_points(exclude) if exclude else None
    result, sites, after = site_study(
        st, category, threshold, p=p, target_share=target_share, objective=objective,
        candidates=cands, profile=profile, method=method, time_limit_s=time_limit, exclude=zones,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    write_geojson(sites, out / "sites.geojson")
    write_geojson(gaps(after, category, threshold, profile=profile), out / "gaps_after.geojson")
    summary = site_summary(result, st, category, threshold, profile)
    with atomic_write(out / "summary.json") as fh:
        json.dump(summary, fh, ensure_ascii=False, indent=2)
    console.print(
        f"{result.model} ({result.method}, {result.status}): {result.chosen.size} new "
        f"{category} sites; {cat.group} covered within {threshold.label}: "
        f"{result.share_before:.1%} → {result.share_after:.1%}"
        + (f"; gap {result.gap:.2%}" if result.gap is not None else "")
    )
    console.print(f"wrote {out}/: sites.geojson, summary.json, gaps_after.geojson")


@app.command()
def profiles() -> None:
    """List the walking profiles."""
    table = Table(title="walking profiles")
    for col in ("name", "speed m/s", "who", "source"):
        table.add_column(col)
    for p in PROFILES.values():
        table.add_row(p.name, f"{p.speed_m_s:.2f}", p.description, p.source)
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the outputs")] = Path("service-circle-out"),
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    max_snap_m: Annotated[
        float, typer.Option(help="Largest distance from a point to a street")
    ] = DEFAULT_MAX_SNAP_M,
    min_piece_m: MinPiece = DEFAULT_MIN_PIECE_M,
) -> None:
    """Run the bundled Helsinki sample end to end (no download) and print walking times."""
    from service_circle.sample import SAMPLE_CATEGORIES, load_sample

    prof = get_profile(profile)
    with console.status("loading the Helsinki sample (network, POIs, buildings)…"):
        sample = load_sample()
    net = sample.network
    console.print(f"network: {_describe(net)}")
    walls = barriers_from_osm(sample.pbf_path)
    snap_options = {"max_snap_m": max_snap_m, "min_piece_m": min_piece_m, "barriers": walls}
    demand = snap(net, sample.demand, what="sample buildings", **snap_options)
    rows, long = [], []
    missing = []
    for key in SAMPLE_CATEGORIES:
        group = sample.facilities[sample.facilities["category"] == key]
        if group.empty:
            missing.append(key)
            continue
        fac = snap(net, group, what=f"{key} facilities", **snap_options)
        result = travel_times(net, fac, demand, profile=prof)
        frame = result.to_frame().assign(category=key)
        long.append(frame)
        t_min = frame["time_s"].to_numpy() / 60
        ok = np.isfinite(t_min)
        rows.append(
            {
                "category": key,
                "facilities": int(fac.on_network.sum()),
                "median_min": float(np.median(t_min[ok])) if ok.any() else np.nan,
                "p90_min": float(np.percentile(t_min[ok], 90)) if ok.any() else np.nan,
                **{
                    f"within_{m}_min": float(np.mean(np.where(ok, t_min, np.inf) <= m))
                    for m in DEMO_THRESHOLDS_MIN
                },
                "unreachable": int((frame["status"] == "unreachable").sum()),
                "off_network": int((frame["status"] == "off_network").sum()),
            }
        )
    summary = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    net.save(out / "network.npz")
    write_geojson(sample.facilities, out / "facilities.geojson")
    write_geojson(sample.demand, out / "buildings.geojson")
    write_csv(pd.concat(long, ignore_index=True), out / "times.csv")
    write_csv(summary, out / "summary.csv")

    table = Table(
        title=f"Walking time to the nearest facility — Helsinki sample, {len(sample.demand)} "
        f"buildings, profile {prof.name} ({prof.speed_m_s} m/s)"
    )
    for col in (
        "category",
        "facilities",
        "median",
        "p90",
        "≤5 min",
        "≤10 min",
        "≤15 min",
        "unreachable",
    ):
        table.add_column(col, justify="left" if col == "category" else "right")
    for r in rows:
        table.add_row(
            r["category"],
            str(r["facilities"]),
            f"{r['median_min']:.1f} min",
            f"{r['p90_min']:.1f} min",
            *(f"{r[f'within_{m}_min']:.0%}" for m in DEMO_THRESHOLDS_MIN),
            str(r["unreachable"]),
        )
    console.print(table)
    if missing:
        console.print(f"no facility in the sample for: {', '.join(missing)}")
    unreachable = max((r["unreachable"] for r in rows), default=0)
    if unreachable:
        console.print(
            f"up to {unreachable} buildings lie on pieces of the network that are not joined to "
            "a facility (courtyards, the extract's edge): reported as unreachable."
        )
    unplaced = pd.Series(demand.status[~demand.on_network]).value_counts()
    if len(unplaced):
        reasons = {
            "off_network": f"farther than {max_snap_m:g} m from a walkable street",
            "blocked": "across water from every street within reach",
            "no_geometry": "without a location",
        }
        said = "; ".join(f"{n} {reasons.get(k, k)}" for k, n in unplaced.items())
        console.print(f"not placed on the network, so not covered: {said}.")
    console.print(
        f"wrote {out}/: network.npz, facilities.geojson, buildings.geojson, times.csv, summary.csv"
    )
    # the study: residents from the residential floor area, then the full analysis
    from service_circle.sample import build_sample_study

    study = build_sample_study(
        sample, barriers=walls, max_snap_m=max_snap_m, min_piece_m=min_piece_m
    )
    people = study.demand
    write_geojson(people, out / "demand.geojson")
    study.save(out / "study")
    present = [k for k in SAMPLE_CATEGORIES if k not in missing]
    thresholds = [Threshold.minutes(m) for m in DEMO_THRESHOLDS_MIN]
    console.print(
        f"study: {len(people)} residential buildings, {people['population'].sum():,.0f} "
        "residents (floor area ÷ 40 m²); saved to " + str(out / "study")
    )
    _analyze(study, out, thresholds, prof, present, "haidong_2025", None)


@app.command(name="map")
def map_(
    study: Annotated[Path, typer.Option(help="A study folder from `service-circle build`")],
    out: Annotated[Path, typer.Option(help="The HTML file to write")],
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable)")
    ] = None,
    minutes: Annotated[str | None, typer.Option(help="Isochrones in minutes, e.g. 5,10,15")] = None,
    metres: Annotated[str | None, typer.Option(help="Isochrones in metres")] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
    tiles: Annotated[str, typer.Option(help="Base map: osm, or none (offline)")] = "osm",
    sites: Annotated[
        Path | None, typer.Option(help="Proposed sites (sites.geojson from `site`)")
    ] = None,
    neighbourhoods: Annotated[
        Path | None, typer.Option(help="Community boundaries (polygons)")
    ] = None,
    cdn: Annotated[
        bool, typer.Option(help="Link Leaflet from its CDN instead of embedding it")
    ] = False,
) -> None:
    """Write the study as a map (HTML, self-contained unless --cdn)."""
    from service_circle.maps import save_map, study_map
    from service_circle.study import Study

    st = Study.load(study)
    fmap = study_map(
        st, categories=category, thresholds=_thresholds(minutes, metres), profile=profile,
        lang=lang, tiles=tiles, self_contained=not cdn,
        sites=read_points(sites) if sites else None,
        neighbourhoods=read_points(neighbourhoods) if neighbourhoods else None,
    )  # fmt: skip
    save_map(fmap, out)
    console.print(f"wrote {out} ({'linked' if cdn else 'self-contained'}, {lang})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    studies: Annotated[
        Path | None,
        typer.Option(help="Folder of study folders (default: SC_STUDIES_DIR, else the sample)"),
    ] = None,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn): coverage, gaps, isochrones, siting, maps."""
    import uvicorn

    from api.main import create_app
    from api.registry import check_studies_dir
    from api.settings import Settings

    settings = Settings(studies_dir=studies) if studies else Settings()
    if settings.studies_dir is not None:
        check_studies_dir(settings.studies_dir)
    where = settings.studies_dir or "the bundled Helsinki sample"
    console.print(f"serving {where} on http://{host}:{port} (docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _configure_logging() -> None:
    """Show the library's warnings (off-network points, blocked points) on stderr."""
    from rich.logging import RichHandler

    root = logging.getLogger("service_circle")
    if not root.handlers:
        handler = RichHandler(console=err_console, show_time=False, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning expected errors into one line and exit code 2."""
    _configure_logging()
    try:
        app(args=argv, prog_name="service-circle")
    except SystemExit as exc:  # click's standalone mode ends every run with one
        return exc.code if isinstance(exc.code, int) else 0
    except ServiceCircleError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except PermissionError as exc:
        err_console.print(f"[bold red]error:[/] cannot write {exc.filename}: permission denied")
        return 2
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
