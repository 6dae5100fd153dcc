"""The ``service-circle`` command.

Every command prints one readable line and exits with code 2 on bad input, never a
traceback. Files are written atomically; folders (``build``, ``analyze``, ``site``,
``demo``) are staged and published whole, and only over a folder service-circle wrote
(:mod:`service_circle.folders`). Each input file is reported as it was understood: its
coordinate system, its encoding, the columns read and the rows not used.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from service_circle._errors import InputError, InputNotFoundError, ServiceCircleError
from service_circle._validate import MAX_METRES, MAX_MINUTES, check_number, parse_numbers
from service_circle.cost import CostModel, Threshold
from service_circle.network import (
    barriers_from_osm,
    load_network,
    network_from_bbox,
    network_from_place,
)
from service_circle.profiles import PROFILES, get_profile
from service_circle.readers import ReadReport, read_points_with_report
from service_circle.search import nearest
from service_circle.snapping import DEFAULT_MAX_ACCESS_M, DEFAULT_MIN_PIECE_M, snap
from service_circle.units import UnitColumns
from service_circle.walk_network import WalkNetwork
from service_circle.writers import write_csv, write_geojson

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
OSM_SUFFIXES = (".pbf", ".osm", ".osm.bz2", ".osm.xml")
#: How many unusable rows of an input the console lists (all of them go to files).
SHOWN_PROBLEMS = 20

Barriers = Annotated[
    str,
    typer.Option(
        help="Water an access leg may not cross: auto (from an OSM network file), none, "
        "or a GeoJSON/GPKG of lines/polygons"
    ),
]
DemFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--dem",
        help="Heights: a DEM raster (GeoTIFF …, any CRS; repeat for several tiles). Walking "
        "times then follow the slope in each direction (Tobler)",
    ),
]
Incline = Annotated[
    bool,
    typer.Option(
        "--incline",
        help="Slopes from the OSM incline tags (up, down, 10%) where there is no DEM; with "
        "--dem they fill the edges outside it anyway",
    ),
]
CrossingsFlag = Annotated[
    bool,
    typer.Option(
        "--crossings",
        help="Charge each crossing of a major road: the wait (at a signal or for a gap) and "
        "the width walked, found from OSM's highway classes, signals, crossings and lanes",
    ),
]
MinPiece = Annotated[
    float, typer.Option(help="Do not snap to network pieces shorter than this in total (m)")
]
MaxAccess = Annotated[
    float,
    typer.Option(
        "--max-access-m",
        "--max-snap-m",
        help="Longest access leg, from a point to its street, in metres (--max-snap-m is its "
        "former name)",
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(help="Text encoding of CSV inputs (default: detected; utf-8, gb18030 …)"),
]
InputCRS = Annotated[
    str | None,
    typer.Option(
        help="Coordinate system of CSV/XLSX inputs: wgs84, gcj02 (Amap, Tencent), bd09 "
        "(Baidu) or EPSG:n. GeoJSON is always WGS-84 and GPKG/SHP carry their own; a "
        "table that looks like an Amap/Baidu export must have its system stated"
    ),
]
Lang = Annotated[
    str, typer.Option(help="Language of tables, report and map: zh, en, or auto (zh in China)")
]
UnitsFile = Annotated[
    Path | None,
    typer.Option(
        help="Planning units: polygons of 社区 / 行政村 (GeoJSON, GPKG, SHP, GeoParquet) with "
        "name, code, kind, 常住人口, 户数, age counts, 街道/乡镇 and 县区 columns as they have"
    ),
]
UnitColumnsOption = Annotated[
    str | None,
    typer.Option(
        help="Columns of --units where they are not found by their usual names, e.g. "
        "name=社区,code=编码,kind=性质,population=人口数,households=户,township=镇,county=县"
    ),
]
UnitsCRS = Annotated[
    str | None,
    typer.Option(
        help="Coordinate system of --units where the file does not say it: gcj02, EPSG:n …"
    ),
]
ParentFile = Annotated[
    Path | None,
    typer.Option(
        help="Polygons of the townships / streets (or counties), where the units "
        "have no 街道/乡镇 (县区) column"
    ),
]
AgeShares = Annotated[
    str,
    typer.Option(
        help="Age shares where the demand has no age counts: national, qinghai, or "
        "auto (the study's province when known)"
    ),
]
At = Annotated[
    str | None,
    typer.Option(
        help="Count only the facilities open at this moment, local time: 'Tue 23:00', "
        "'周二 23:00' (an ordinary week) or '2026-12-05T12:00' (that day, holidays too)"
    ),
]
UnknownHours = Annotated[
    str,
    typer.Option(
        help="Facilities without known hours: open (the default; the output says how many) "
        "or closed"
    ),
]
TargetsPreset = Annotated[
    str | None,
    typer.Option(
        help="Targets: haidong_2025 or national (or a preset of --targets); default "
        "the plan governing the study's place (Haidong's in Haidong, else national)"
    ),
]


def _file_crs(what: str) -> object:
    return typer.Option(
        help=f"Coordinate system of the {what} file, whatever its format (overrides "
        "--input-crs): wgs84, gcj02, bd09 or EPSG:n"
    )


def _network(source: str, crs: str | None, crossings: bool = False) -> WalkNetwork:
    """A network from a path, ``place:NAME`` or ``bbox:W,S,E,N`` (online OSM)."""
    net = _load(source, crs, crossings)
    if crossings and net.crossings is not None:
        err_console.print(f"crossings: {escape(net.crossings.summary())}", highlight=False)
    return net


def _load(source: str, crs: str | None, crossings: bool) -> WalkNetwork:
    if source.startswith("place:"):
        return network_from_place(source.removeprefix("place:"), crs=crs, crossings=crossings)
    if source.startswith("bbox:"):
        try:
            bbox = tuple(float(v) for v in source.removeprefix("bbox:").split(","))
        except ValueError:
            bbox = ()
        if len(bbox) != 4 or not np.all(np.isfinite(bbox)):
            raise InputError(f"--network {source!r}: write bbox:WEST,SOUTH,EAST,NORTH in degrees")
        return network_from_bbox(bbox, crs=crs, crossings=crossings)
    return load_network(source, crs=crs, crossings=crossings)


def _with_dem(net: WalkNetwork, dem: list[Path] | None, incline: bool = False) -> WalkNetwork:
    """The network with heights from ``dem``, or slopes from its incline tags (printed)."""
    if not dem and not incline:
        return net
    from service_circle.terrain import add_terrain, incline_terrain

    net, report = add_terrain(net, dem) if dem else incline_terrain(net)
    err_console.print(f"terrain: {escape(report.summary())}", highlight=False)
    return net


def _is_osm(path: Path | str) -> bool:
    return str(path).lower().endswith(OSM_SUFFIXES)


def _say(report: ReadReport, *, problems: bool = True) -> None:
    """Print what reading a file understood, and the rows it could not use."""
    err_console.print(escape(report.summary()), highlight=False)
    if problems and report.problems:
        _list_problems(report.problems, report.what)


def _list_problems(problems: list[tuple[int, str]], what: str) -> None:
    err_console.print(f"[yellow]{len(problems)} rows of {escape(what)} need attention[/]:")
    for line, reason in problems[:SHOWN_PROBLEMS]:
        err_console.print(f"  line {line}: {escape(reason)}", highlight=False)
    if len(problems) > SHOWN_PROBLEMS:
        err_console.print(f"  … and {len(problems) - SHOWN_PROBLEMS} more")


def _read(path: Path, *, crs: str | None = None, table_crs: str | None = None,
          encoding: str | None = None, what: str | None = None) -> gpd.GeoDataFrame:  # fmt: skip
    """A points/polygons file, with what was understood printed."""
    frame, report = read_points_with_report(
        path, crs=crs, table_crs=table_crs, encoding=encoding, what=what
    )
    _say(report)
    return frame


def _barriers(option: str, network: str):
    """Water barriers: ``auto`` (from the network's OSM file), ``none``, or a file."""
    if option == "none":
        return None
    if option == "auto":
        if _is_osm(network) and Path(network).exists():
            return barriers_from_osm(network)
        return None
    frame = _read(Path(option), what=f"barriers file {option}")
    return frame.geometry


def _inputs(**options: object) -> dict[str, str | Path | None]:
    """``--option`` → path of each input a command reads (lists give one entry each).

    An output folder that is or holds one of them is refused.
    """
    found: dict[str, str | Path | None] = {}
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        for i, item in enumerate(values):
            if isinstance(item, str | Path):
                found[f"--{name.replace('_', '-')}" + (f"[{i + 1}]" if i else "")] = item
    return found


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
    facilities: Annotated[Path, typer.Option(help="Facilities: GeoJSON/GPKG, or CSV/XLSX")],
    points: Annotated[Path, typer.Option(help="Points: GeoJSON/GPKG, or CSV/XLSX")],
    out: Annotated[Path, typer.Option(help="Output CSV")],
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    speed: Annotated[
        float | None, typer.Option(help="Walking speed in m/s (overrides --profile)")
    ] = None,
    minutes: Annotated[
        float | None,
        typer.Option(
            "--minutes",
            "--cutoff-min",
            help="Threshold: times beyond N minutes are left empty, status beyond_threshold "
            "(--cutoff-min is its former name)",
        ),
    ] = None,
    max_access_m: MaxAccess = DEFAULT_MAX_ACCESS_M,
    min_piece_m: MinPiece = DEFAULT_MIN_PIECE_M,
    barriers: Barriers = "auto",
    input_crs: InputCRS = None,
    facilities_crs: Annotated[str | None, _file_crs("facilities")] = None,
    points_crs: Annotated[str | None, _file_crs("points")] = None,
    encoding: Encoding = None,
    crs: Annotated[
        str | None, typer.Option(help="Metric CRS to work in (default: local UTM)")
    ] = None,
    dem: DemFiles = None,
    incline: Incline = False,
    crossings: CrossingsFlag = False,
    at: At = None,
    unknown_hours: UnknownHours = "open",
) -> None:
    """Walking time from every point to its nearest facility, one CSV row per point.

    Columns: point_id, time_s (empty when not within the threshold), facility_id, access_m
    (the access leg: from the point to its street), status. With --at, only the facilities
    open then count (their hours: an opening_hours / 营业时间 / 开放时间 column).
    """
    prof = get_profile(profile, speed_m_s=speed)
    check_number(max_access_m, "--max-access-m", gt=0)
    check_number(min_piece_m, "--min-piece-m", ge=0)
    cost = CostModel.walking(prof)
    limit = None if minutes is None else cost.limit(Threshold.minutes(
        check_number(minutes, "--minutes", gt=0, le=MAX_MINUTES)))  # fmt: skip
    net = _with_dem(_network(network, crs, crossings), dem, incline)
    err_console.print(f"network {escape(network)}: {_describe(net)}")
    fac = _read(facilities, crs=facilities_crs, table_crs=input_crs, encoding=encoding)
    if at is not None:
        fac = _open_only(fac, at, _unknown_open(unknown_hours), f"facilities in {facilities}")
    pts = _read(points, crs=points_crs, table_crs=input_crs, encoding=encoding)
    walls = _barriers(barriers, network)
    if walls is not None:
        err_console.print(f"barriers: {len(walls)} water features that access legs may not cross")
    snap_options = {"max_access_m": max_access_m, "min_piece_m": min_piece_m, "barriers": walls}
    fac_snapped = snap(net, fac, what=f"facilities in {facilities}", **snap_options)
    pts_snapped = snap(net, pts, what=f"points in {points}", **snap_options)
    result = nearest(net, fac_snapped, pts_snapped, cost=cost, limit=limit)
    table = result.to_frame()
    write_csv(table, out)
    counts = table["status"].value_counts()
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    terrain = f", slope {prof.slope_name}" if net.terrain is not None else ""
    if net.crossings is not None and prof.crossing is not None:
        terrain += f", {net.crossings.n_crossings} road crossings charged"
    console.print(
        f"wrote {escape(str(out))}: {len(table)} points ({summary}); profile {prof.name} "
        f"{prof.speed_m_s} m/s{terrain}"
    )
    _report_unplaced(fac_snapped.off_network_ids, f"facilities in {facilities}")
    _report_unplaced(pts_snapped.off_network_ids, f"points in {points}")


def _unknown_open(option: str) -> bool:
    if option not in ("open", "closed"):
        raise InputError(f"--unknown-hours must be open or closed, got {option!r}")
    return option == "open"


def _open_only(frame: gpd.GeoDataFrame, at: str, unknown_open: bool, what: str):
    """The facilities of ``frame`` open at ``at`` (their hours column), said in one line."""
    from service_circle.facilities import hours_columns
    from service_circle.hours import HOURS_COLUMNS, describe_at, open_mask, parse_at, place_of
    from service_circle.readers import find_column

    column = find_column(list(frame.columns), HOURS_COLUMNS)
    given = (frame[column].to_numpy(dtype=object) if column
             else np.full(len(frame), None, dtype=object))  # fmt: skip
    hours = hours_columns(given)
    located = frame.geometry.notna() & ~frame.geometry.is_empty
    country, zone = None, "UTC"  # where nothing has a place, holidays and zone are moot
    if located.any():
        points = frame.geometry[located]
        country, zone = place_of(float(points.x.mean()), float(points.y.mean()))
    moment = parse_at(at, zone)
    mask = open_mask(hours["opening_hours"], moment, unknown_open=unknown_open, country=country)
    unknown = int((hours["opening_hours"] == None).sum())  # noqa: E711
    invalid = int((hours["hours_status"] == "invalid").sum())
    told = (f"{unknown} without known hours counted {'open' if unknown_open else 'closed'}"
            + (f", {invalid} of them unreadable" if invalid else ""))  # fmt: skip
    err_console.print(
        f"at {describe_at(moment)}: {int(mask.sum())} of {len(frame)} {escape(what)} open "
        f"({told}{'' if column else '; no hours column: ' + ', '.join(HOURS_COLUMNS[:4])})"
    )
    if "id" not in frame.columns:  # the ids of every row, as without --at
        frame = frame.assign(id=np.arange(len(frame)))
    return frame[mask].reset_index(drop=True)


def _report_unplaced(ids: np.ndarray, what: str) -> None:
    if ids.size:
        shown = ", ".join(map(str, ids[:10])) + (" …" if ids.size > 10 else "")
        err_console.print(
            f"[yellow]{ids.size} {escape(what)} not on the network[/]: {escape(shown)}"
        )


@app.command()
def network(
    source: Annotated[str, typer.Argument(help="Network source (file, place:NAME, bbox:W,S,E,N)")],
    out: Annotated[Path, typer.Option(help="Compiled network file (.npz)")],
    crs: Annotated[str | None, typer.Option(help="Metric CRS (default: local UTM)")] = None,
    dem: DemFiles = None,
    incline: Incline = False,
    crossings: CrossingsFlag = False,
) -> None:
    """Compile a street network once and save it; reload it in a fraction of a second."""
    net = _with_dem(_network(source, crs, crossings), dem, incline)
    path = net.save(out)
    console.print(f"wrote {escape(str(path))}: {_describe(net)}, {net.nbytes / 1e6:.1f} MB")


CatalogueFile = Annotated[
    Path | None, typer.Option(help="Your own category catalogue (TOML, same fields)")
]


@app.command()
def categories(
    lang: Annotated[str, typer.Option(help="Language of names: zh or en")] = "en",
    catalogue: CatalogueFile = None,
) -> None:
    """List the facility categories: tier, distance, group, MOFCOM format and clause."""
    from service_circle.catalogue import load_catalogue
    from service_circle.tables import check_lang

    lang = check_lang(lang)
    zh = lang == "zh"
    cat = load_catalogue(catalogue)
    title = "设施类别" if zh else "facility categories"
    table = Table(title=f"{title} — {escape(cat.source)}")
    table.add_column("key", no_wrap=True)
    table.add_column("名称" if zh else "name", max_width=22)
    heads = ("层级", "阈值", "服务人群", "商务部业态") if zh else ("tier", "threshold", "serves",
                                                            "MOFCOM")  # fmt: skip
    for col in heads:
        table.add_column(col, no_wrap=True)
    for c in cat:
        road = f"\nroad {c.road_minutes:g} min" if c.road_minutes else ""
        table.add_row(
            c.key,
            escape(c.name(lang)),
            escape(c.level_name(lang)),
            f"{c.minutes:g} min / {c.metres:g} m{road}",
            c.group,
            c.format_name(lang),
        )
    console.print(table)
    console.print("依据与识别规则" if zh else "clauses and how each is found")
    for c in cat:
        osm = "; ".join(" + ".join(f"{k}={'|'.join(v)}" for k, v in rule.items()) for rule in c.osm)
        found = [f"OSM {osm}" if osm else "", "Amap " + ",".join(c.amap_typecodes)
                 if c.amap_typecodes else "", "keywords " + "、".join(c.keywords[:4]),
                 f"capacity {c.capacity_unit}"]  # fmt: skip
        console.print(f"  {c.key}: {escape(c.clause or '—')}", soft_wrap=True)
        console.print(f"      {escape(' · '.join(f for f in found if f))}", soft_wrap=True)


@app.command()
def indicators(
    lang: Annotated[str, typer.Option(help="Language of names: zh or en")] = "zh",
    targets: Annotated[Path | None, typer.Option(help="Your own targets file (TOML)")] = None,
) -> None:
    """List the plan's indicators: key, name, unit, formula, source and each preset's target."""
    from service_circle.plan import DEFINITIONS
    from service_circle.tables import check_lang, indicator_text
    from service_circle.targets import load_targets, preset_names

    lang = check_lang(lang)
    presets = {name: load_targets(name, targets) for name in preset_names(targets)}
    table = Table(title="指标目录" if lang == "zh" else "the plan's indicators")
    table.add_column("key", no_wrap=True)
    table.add_column("指标" if lang == "zh" else "indicator", max_width=24)
    table.add_column("单位" if lang == "zh" else "unit", max_width=14)
    for name in presets:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("定义 / 来源" if lang == "zh" else "formula / source", overflow="fold",
                     min_width=30)  # fmt: skip
    for d in DEFINITIONS:
        table.add_row(
            d.key, escape(d.name_zh if lang == "zh" else d.name_en),
            escape(d.unit_zh if lang == "zh" else d.unit),
            *[indicator_text(p.get(d.key), d.unit, missing="—") for p in presets.values()],
            escape(f"{d.formula}\n{d.source}"),
        )  # fmt: skip
    console.print(table)


@app.command()
def facilities(
    out: Annotated[Path, typer.Option(help="Output GeoJSON (WGS-84)")],
    osm: Annotated[Path | None, typer.Option(help="An .osm.pbf / .osm file")] = None,
    file: Annotated[Path | None, typer.Option(help="A POI file: CSV, XLSX, GeoJSON, GPKG")] = None,
    place: Annotated[str | None, typer.Option(help="Online OSM: a place name")] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="Coordinate system of --file: wgs84, gcj02 (Amap, Tencent), bd09 (Baidu) or "
            "EPSG:n (default: a GeoJSON is WGS-84, a GPKG its own, a table WGS-84 unless it "
            "looks like an Amap/Baidu export, which must be stated)"
        ),
    ] = None,
    encoding: Encoding = None,
    catalogue: CatalogueFile = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Keep only these categories (repeatable)")
    ] = None,
    all_rows_are: Annotated[
        str | None,
        typer.Option(help="Every row of --file is this category (a key or a name: 老年食堂)"),
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
    keys = [_category_key(cat, c) for c in category] if category else None
    if osm is not None:
        frame, report = facilities_from_osm(osm, cat, categories=keys)
        err_console.print(f"read {escape(str(osm))}: OSM data, WGS-84")
    elif place is not None:
        frame, report = facilities_from_place(place, cat, categories=keys)
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
        assert file is not None
        frame, report = facilities_from_file(
            file, cat, crs=crs, columns=columns, category=all_rows_are, categories=keys,
            encoding=encoding,
        )  # fmt: skip
        if report.read is not None:
            _say(report.read, problems=False)
    write_geojson(frame, out)
    counts = frame["category"].value_counts()
    summary = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    console.print(f"wrote {escape(str(out))}: {len(frame)} facilities ({summary})")
    if len(report.problems):
        _list_problems(list(report.problems.itertuples(index=False, name=None)), str(file))
    _say_duplicates(report.duplicates)


def _category_key(catalogue, value: str) -> str:
    key = catalogue.resolve(value)
    if key is None:
        catalogue[value]  # the error names the categories there are
    return key


def _say_duplicates(duplicates: pd.DataFrame) -> None:
    if len(duplicates):
        err_console.print(
            f"[yellow]{len(duplicates)} likely duplicates[/] (same category within 5 m):"
        )
        for a, b, key, d in duplicates.head(SHOWN_PROBLEMS).itertuples(index=False):
            err_console.print(f"  {escape(str(a))} ~ {escape(str(b))} ({key}, {d} m)")


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
        str | None,
        typer.Option(help="Count column of --polygons (default: population, 常住人口, 人口 …)"),
    ] = None,
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
    age_shares: AgeShares = "auto",
) -> None:
    """Build demand points (population by age group) and write what was understood."""
    from service_circle import demand as dm

    given_shares = _parse_shares(shares) or {}
    check_number(floor_area_per_person, "--floor-area-per-person", gt=0)
    if (polygons is None) == (raster is None) and buildings is None:
        raise InputError("give --buildings, --polygons (optionally with --buildings) or --raster")
    if raster is not None and (polygons is not None or buildings is not None):
        raise InputError("--raster stands alone: do not combine it with --polygons/--buildings")
    homes = landuse = polys = None
    if buildings is not None:
        homes, landuse = _buildings(buildings, crs)
    if polygons is not None:
        polys = _read(polygons, crs=crs)
    where = polys if polys is not None else homes
    preset, label = _age_shares(age_shares, where if where is not None else gpd.GeoDataFrame(
        geometry=[], crs="EPSG:4326"))  # fmt: skip
    share_map = {**preset, **given_shares}
    if raster is not None:
        points = dm.demand_from_raster(raster, shares=share_map)
        err_console.print(f"read {escape(str(raster))}: a raster in its own CRS")
    elif polys is not None:
        points = dm.demand_from_polygons(
            polys,
            population_column=population_column,
            buildings=homes,
            landuse=landuse,
            shares=share_map,
            what=str(polygons),
        )
        _say_columns(points, str(polygons))
    else:
        points = dm.demand_from_buildings(
            homes,
            landuse=landuse,
            floor_area_per_person_m2=floor_area_per_person,
            shares=share_map,
        )
    if points.attrs.get("groups_from_shares"):
        points["age_shares"] = label if not given_shares else f"{label}; --shares {shares}"
    _say_shares(points)
    if hex_resolution is not None:
        points = dm.hex_demand(points, hex_resolution)
    write_geojson(points, out)
    groups = ", ".join(f"{c} {points[c].sum():,.0f}" for c in dm.AGE_COLUMNS)
    console.print(
        f"wrote {escape(str(out))}: {len(points)} points, population "
        f"{points['population'].sum():,.0f} ({groups})"
    )


def _say_columns(frame: pd.DataFrame, what: str) -> None:
    used = frame.attrs.get("columns") or {}
    if used:
        said = ", ".join(f"{new} from {old!r}" for new, old in used.items())
        err_console.print(f"{escape(what)}: {escape(said)}", highlight=False)


def _say_shares(frame: pd.DataFrame) -> None:
    filled = frame.attrs.get("groups_from_shares") or {}
    if filled:
        said = ", ".join(f"{k} = population × {v}" for k, v in filled.items())
        if "age_shares" in frame and len(frame):
            said += f" ({frame['age_shares'].iloc[0]})"
        err_console.print(
            f"age groups not in the input, from shares: {said} (give your district's census "
            "figures as columns, or with --shares)"
        )


def _parse_shares(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = check_number(value, f"--shares {key.strip()}", ge=0, le=1)
        except InputError:
            raise InputError(
                f"--shares {text!r}: write group=share with shares between 0 and 1, e.g. "
                "pop_60plus=0.21"
            ) from None
    return out


def _buildings(path: Path, crs: str | None):
    from service_circle import demand as dm

    if _is_osm(path):
        err_console.print(f"read {escape(str(path))}: OSM data, WGS-84")
        return dm.buildings_from_osm(path), dm.landuse_from_osm(path)
    homes = dm.buildings_from_frame(_read(path, crs=crs), what=str(path))
    return homes, None


def _read_facilities(
    paths: list[Path], catalogue, crs: str | None, table_crs: str | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Facilities from OSM files and POI files, one normalised frame, and the problems.

    Ids that repeat across files are made unique with the file's name (``amap.csv:12``).
    """
    from service_circle.facilities import facilities_from_file, facilities_from_osm

    frames, problems = [], []
    for path in paths:
        if _is_osm(path):
            frame, report = facilities_from_osm(path, catalogue)
            err_console.print(f"read {escape(str(path))}: OSM data, WGS-84")
        else:
            frame, report = facilities_from_file(
                path, catalogue, crs=crs, table_crs=table_crs, encoding=encoding
            )
            if report.read is not None:
                _say(report.read, problems=False)
            rows = list(report.problems.itertuples(index=False, name=None))
            if rows:
                _list_problems(rows, str(path))
                problems += [(path.name, row, reason) for row, reason in rows]
        _say_duplicates(report.duplicates)
        frames.append(frame.assign(id=frame["id"].astype(str)))
    seen: set[str] = set()
    for path, frame in zip(paths, frames, strict=True):
        clash = frame["id"].isin(seen)
        if clash.any():
            frame.loc[clash, "id"] = path.name + ":" + frame.loc[clash, "id"]
            err_console.print(
                f"{int(clash.sum())} ids of {escape(str(path))} repeat ids of an earlier file: "
                f"prefixed with {escape(path.name)}:"
            )
        seen |= set(frame["id"])
    table = pd.DataFrame(problems, columns=["file", "row", "reason"])
    return _concat(frames), table


def _concat(frames: list) -> gpd.GeoDataFrame:
    """Stack WGS-84 GeoDataFrames."""
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _age_shares(option: str, frame: gpd.GeoDataFrame) -> tuple[dict[str, float], str]:
    """The shares of an age-share preset: ``option``, or by the frame's place (``auto``)."""
    from service_circle.targets import age_shares, age_shares_for, shares_only

    name = option
    if option == "auto":
        bounds = frame.to_crs("EPSG:4326").total_bounds if len(frame) else [np.nan] * 4
        ok = bool(np.all(np.isfinite(bounds)))
        name = age_shares_for((bounds[0] + bounds[2]) / 2 if ok else None,
                              (bounds[1] + bounds[3]) / 2 if ok else None)  # fmt: skip
    preset = age_shares(name)
    return shares_only(preset), f"{preset['name']}: {preset['label']}"


def _read_demand(path: Path, crs: str | None, table_crs: str | None, encoding: str | None,
                 age_shares: str = "auto"):  # fmt: skip
    """Demand points with checked counts; aliases, shares and repeated ids said."""
    from service_circle.demand import standard_columns, unique_ids, with_groups
    from service_circle.study import check_demand

    frame, report = read_points_with_report(path, crs=crs, table_crs=table_crs, encoding=encoding)
    _say(report)
    frame, used = standard_columns(frame, str(path))
    if used:
        said = ", ".join(f"{new} from {old!r}" for new, old in used.items())
        err_console.print(f"{escape(str(path))}: {escape(said)}", highlight=False)
    first_row = 2 if path.suffix.lower() in (".csv", ".txt", ".tsv", ".xlsx", ".xls") else 1
    check_demand(frame, str(path), first_row=first_row)
    if "source" not in frame.columns:  # where these people came from, for the attribution
        frame["source"] = path.name
    given = frame["id"].astype(str) if "id" in frame.columns else None
    frame, repeated = unique_ids(frame)
    if repeated.size and given is not None:
        shown = ", ".join(f"{given.iloc[r]!r} (row {r + first_row})" for r in repeated[:10])
        err_console.print(
            f"[yellow]{repeated.size} ids of {escape(str(path))} repeat an earlier row[/] "
            f"(kept as id~2, id~3 …): {escape(shown)}"
        )
    shares, label = _age_shares(age_shares, frame)
    frame = with_groups(frame, shares, label=label)
    _say_shares(frame)
    return frame


@app.command()
def build(
    network: Annotated[str, typer.Option(help="Network source (file, place:NAME, bbox:…)")],
    facilities: Annotated[
        list[Path], typer.Option(help="Facilities: OSM file or POI file (repeatable)")
    ],
    demand: Annotated[Path, typer.Option(help="Demand points (from `service-circle demand`)")],
    out: Annotated[Path, typer.Option(help="Study folder, e.g. studies/haidian")],
    catalogue: CatalogueFile = None,
    input_crs: InputCRS = None,
    facilities_crs: Annotated[str | None, _file_crs("facility")] = None,
    demand_crs: Annotated[str | None, _file_crs("demand")] = None,
    encoding: Encoding = None,
    barriers: Barriers = "auto",
    max_access_m: MaxAccess = DEFAULT_MAX_ACCESS_M,
    crs: Annotated[str | None, typer.Option(help="Metric CRS (default: local UTM)")] = None,
    units: UnitsFile = None,
    units_crs: UnitsCRS = None,
    unit_columns: UnitColumnsOption = None,
    townships: ParentFile = None,
    counties: ParentFile = None,
    age_shares: AgeShares = "auto",
    dem_files: DemFiles = None,
    incline: Incline = False,
    crossings: CrossingsFlag = False,
) -> None:
    """Build a study once (network, facilities, demand, snapped) and save it to a folder.

    With ``--units`` the planning units are stored in the study, and each unit's homes are
    scaled to its official population. The folder must be new, empty or a study; it is
    replaced whole. The facility rows that could not be used are listed in its
    ``input_problems.csv``.
    """
    from service_circle.catalogue import load_catalogue
    from service_circle.folders import check_target, publishing
    from service_circle.study import Study

    check_number(max_access_m, "--max-access-m", gt=0)
    unit_map = _unit_columns(unit_columns)
    inputs = _inputs(network=network, facilities=facilities, demand=demand, units=units,
                     catalogue=catalogue, dem=dem_files, townships=townships,
                     counties=counties)  # fmt: skip
    check_target(out, inputs=inputs)  # before the slow part: refuse a foreign folder at once
    cat = load_catalogue(catalogue)
    net = _with_dem(_network(network, crs, crossings), dem_files, incline)
    err_console.print(f"network {escape(network)}: {_describe(net)}")
    fac, problems = _read_facilities(facilities, cat, facilities_crs, input_crs, encoding)
    dem = _read_demand(demand, demand_crs, input_crs, encoding, age_shares)
    study = Study.build(
        net, fac, dem, name=out.name, catalogue=cat, barriers=_barriers(barriers, network),
        max_access_m=max_access_m,
    )  # fmt: skip
    if units is not None:
        plan_units = _read_units(units, units_crs, townships, counties, encoding, unit_map)
        study = study.with_units(plan_units, source=units.name)
    with publishing(out, kind="study", inputs=inputs) as staging:
        study.write(staging)
        if len(problems):
            write_csv(problems, staging / "input_problems.csv")
    counts = ", ".join(f"{k} {v}" for k, v in fac["category"].value_counts().items())
    console.print(
        f"wrote study {escape(str(out))}: {len(fac)} facilities ({counts}); "
        f"{len(study.demand)} demand points, population {study.demand['population'].sum():,.0f}"
        + (f"; {len(study.units)} planning units" if study.units is not None else "")
    )
    if len(problems):
        console.print(
            f"{len(problems)} input rows not used or changed: listed in "
            f"{escape(str(out / 'input_problems.csv'))}"
        )
    from service_circle.tables import study_language

    _print_unplaced(study, study_language(study))


def _unit_columns(text: str | None) -> UnitColumns | None:
    """``--unit-columns name=社区,code=编码`` as :class:`~service_circle.units.UnitColumns`."""
    from service_circle.units import UnitColumns

    if not text:
        return None
    fields = UnitColumns.__dataclass_fields__
    given = {}
    for part in text.replace("，", ",").split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in fields or not value:
            raise InputError(
                f"--unit-columns {text!r}: write field=column with fields among "
                f"{', '.join(fields)}, e.g. name=社区,population=人口数"
            )
        given[key] = value
    return UnitColumns(**given)


def _read_units(
    path: Path, crs: str | None, townships: Path | None, counties: Path | None,
    encoding: str | None, columns: UnitColumns | None = None,
) -> gpd.GeoDataFrame:  # fmt: skip
    """Planning units, what was understood said; parents from their own files if given."""
    from service_circle.units import parent_units, read_units

    frame, report = read_units(path, crs=crs, encoding=encoding, columns=columns)
    said = ", ".join(f"{new} from {old!r}" for new, old in report.columns.items())
    kinds = {"column": "", "names": "; kinds read from the names (…村 village, …社区 urban)",
             "unknown": ""}[report.kinds_from]  # fmt: skip
    err_console.print(
        f"read {escape(str(path))}: {len(frame)} planning units ({escape(said)}){kinds}",
        highlight=False,
    )
    for problem in report.problems:
        err_console.print(f"[yellow]{escape(str(path))}: {escape(problem)}[/]", highlight=False)
    for level, given in (("township", townships), ("county", counties)):
        if given is None:
            continue
        parents, index = parent_units(frame, level, _read(given, what=f"{level} file {given}"))
        names = parents["name"].to_numpy(dtype=object)
        frame[level] = np.where(index >= 0, names[np.maximum(index, 0)] if len(names) else "",
                                frame[level])  # fmt: skip
        outside = frame["unit_name"][index < 0].tolist()
        if outside:
            err_console.print(
                f"[yellow]{len(outside)} units lie in no {level} of "
                f"{escape(str(given))}: {escape(', '.join(outside[:10]))}[/]"
            )
    return frame


def _thresholds(minutes: str | None, metres: str | None) -> list[Threshold]:
    """``--minutes`` and/or ``--metres`` (5, 10, 15 minutes when neither is given)."""
    out = []
    if minutes:
        out += [Threshold.minutes(v)
                for v in parse_numbers(minutes, "--minutes", gt=0, le=MAX_MINUTES)]  # fmt: skip
    if metres:
        out += [Threshold.metres(v)
                for v in parse_numbers(metres, "--metres", gt=0, le=MAX_METRES)]  # fmt: skip
    return out or [Threshold.minutes(m) for m in DEMO_THRESHOLDS_MIN]


@app.command()
def analyze(
    out: Annotated[Path, typer.Option(help="Output folder")],
    study_dir: Annotated[
        Path | None, typer.Option("--study", help="A study folder from `service-circle build`")
    ] = None,
    network: Annotated[str | None, typer.Option(help="Or: a network source …")] = None,
    facilities: Annotated[
        list[Path] | None, typer.Option(help="… facility files (repeatable) …")
    ] = None,
    demand: Annotated[Path | None, typer.Option(help="… and demand points")] = None,
    input_crs: InputCRS = None,
    facilities_crs: Annotated[str | None, _file_crs("facility")] = None,
    demand_crs: Annotated[str | None, _file_crs("demand")] = None,
    encoding: Encoding = None,
    minutes: Annotated[str | None, typer.Option(help="Thresholds in minutes, e.g. 5,10,15")] = None,
    metres: Annotated[
        str | None, typer.Option(help="Thresholds in metres, e.g. 300,500,1000")
    ] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable)")
    ] = None,
    targets_preset: TargetsPreset = None,
    targets: Annotated[Path | None, typer.Option(help="Your own targets file (TOML)")] = None,
    lang: Lang = "auto",
    units: UnitsFile = None,
    units_crs: UnitsCRS = None,
    unit_columns: UnitColumnsOption = None,
    townships: ParentFile = None,
    counties: ParentFile = None,
    age_shares: AgeShares = "auto",
    road: Annotated[bool, typer.Option(
        "--road", help="Also the township circle by road (TD/T 1062 乡集镇) on the drive "
        "network of the study's OSM file")] = False,
    road_network: Annotated[Path | None, typer.Option(
        help="The OSM file (.osm / .osm.pbf) whose drive network to use (implies --road)")] = None,
    road_speed: Annotated[float, typer.Option(
        help="Road speed, km/h (a rural bus or motorbike)")] = 30.0,
    road_minutes: Annotated[float | None, typer.Option(
        help="One road threshold, minutes (default: each category's road_minutes)")] = None,
    at: At = None,
    unknown_hours: UnknownHours = "open",
) -> None:  # fmt: skip
    """Coverage, demand times, isochrones, gaps, the plan's indicators, the report and the map.

    Each category is judged at one threshold (its default minutes, or the one --minutes /
    --metres value) under its group's profile (elderly services: elderly). Writes
    coverage.csv (for people, in the study's language) and coverage.json (raw),
    demand_times.csv, isochrones.geojson, gaps.geojson, report.json, report.csv,
    report.html, report.xlsx and map.html (self-contained: opens without internet) — and,
    with planning units (--units, or stored in the study), units.csv and units.geojson —
    published together. With --road, the township services are also measured on the drive
    network (road_circle.csv, and a section of the report). Where a category has windows
    when it is needed (elderly canteen: weekday lunch; pharmacy: night, 24 hours), its
    coverage in each is reported next to all hours (open_when_needed.csv, and a section
    of the report); with --at, every output counts only the facilities open then.
    """
    from service_circle.catalogue import load_catalogue
    from service_circle.folders import check_target, publishing
    from service_circle.study import Study

    thresholds = _thresholds(minutes, metres)
    unit_map = _unit_columns(unit_columns)
    inputs = _inputs(study=study_dir, network=network, facilities=facilities, demand=demand,
                     units=units, targets=targets, townships=townships, counties=counties,
                     road_network=road_network)  # fmt: skip
    check_target(out, inputs=inputs)
    if study_dir is not None:
        if network or facilities or demand:
            raise InputError("give --study, or --network with --facilities and --demand; not both")
        study = Study.load(study_dir)
    elif network and facilities and demand:
        cat = load_catalogue()
        net = _network(network, None)
        fac, _ = _read_facilities(facilities, cat, facilities_crs, input_crs, encoding)
        study = Study.build(
            net, fac, _read_demand(demand, demand_crs, input_crs, encoding, age_shares),
            name=Path(network).stem, catalogue=cat, barriers=_barriers("auto", network),
        )  # fmt: skip
    else:
        raise InputError("give --study DIR, or --network, --facilities and --demand")
    if units is not None:
        plan_units = _read_units(units, units_crs, townships, counties, encoding, unit_map)
        study = study.with_units(plan_units, source=units.name)
    elif townships is not None or counties is not None:
        raise InputError("--townships and --counties go with --units")
    check_number(road_speed, "--road-speed", gt=0, le=120)
    if road_minutes is not None:
        check_number(road_minutes, "--road-minutes", gt=0, le=180)
    drive = _road_network(study, road_network) if road or road_network else None
    hours = (at, _unknown_open(unknown_hours))
    if at is not None:
        from service_circle.hours import parse_at

        parse_at(at, study.timezone)  # a bad moment is refused before any work
    with publishing(out, kind="analysis", inputs=inputs) as staging:
        _analyze(study, staging, thresholds, profile, category, targets_preset, targets, lang,
                 shown=out, road=(drive, road_speed, road_minutes), hours=hours)  # fmt: skip


def _road_network(study, path: Path | None) -> WalkNetwork:
    """The drive network of ``path``, or of the OSM file the study's network came from."""
    source = Path(path) if path is not None else Path(str(study.network.source))
    if not (_is_osm(source) and source.exists()):
        raise InputError(
            f"--road needs an OSM file for the drive network; the study's network came from "
            f"{str(study.network.source)!r}: give --road-network FILE.osm.pbf"
        )
    return load_network(source, crs=study.network.crs, mode="drive")


def _analyze(
    study, out: Path, thresholds, profile, category, targets_preset, targets, lang: str = "auto",
    *, shown: Path | None = None, road: tuple = (None, 30.0, None),
    hours: tuple[str | None, bool] = (None, True),
) -> None:  # fmt: skip
    """Write every analysis output of a study into ``out`` and print the tables."""
    from service_circle.coverage import UNCOVERED
    from service_circle.pipeline import analyze_study, write_analysis
    from service_circle.tables import (
        STATUS_NAMES,
        UNIT_NAMES,
        group_name,
        indicator_text,
        percent,
    )

    keys = [_category_key(study.catalogue, c) for c in category] if category else None
    analysis = analyze_study(
        study, thresholds, profile=profile, categories=keys, targets_preset=targets_preset,
        targets_file=targets, lang=lang, road_network=road[0], road_speed_kmh=road[1],
        road_minutes=road[2], at=hours[0], unknown_open=hours[1],
    )  # fmt: skip
    written = write_analysis(analysis, out)
    table, report, label, lang = (
        analysis.coverage,
        analysis.indicators,
        analysis.targets_label,
        analysis.lang,
    )
    zh = lang == "zh"
    title = f"覆盖情况 — {study.name}" if zh else f"coverage — study {study.name}"
    show = Table(title=escape(title))
    heads = (
        ("设施", "阈值", "设施数", "覆盖率", "服务人群", "服务人群覆盖率", "超出阈值", "路网不可达",
         "未能定位")
        if zh
        else ("category", "threshold", "facilities", "share", "group", "group share",
              "beyond", "unreachable", "not placed")
    )  # fmt: skip
    for i, head in enumerate(heads):
        show.add_column(head, justify="left" if i in (0, 4) else "right")
    for r in table.itertuples():
        not_placed = r.off_network + r.blocked + r.no_geometry
        show.add_row(
            escape(r.name_zh if zh else r.category),
            f"{r.threshold:g} {UNIT_NAMES[lang][r.unit]}",
            str(r.facilities),
            percent(r.share),
            group_name(r.group, lang),
            percent(r.group_share),
            f"{r.beyond_threshold:,.0f}",
            f"{r.unreachable:,.0f}",
            f"{not_placed:,.0f}",
        )
    console.print(show)
    unreached = table[[*UNCOVERED]].drop(columns="beyond_threshold").sum(axis=1)
    if (unreached > 0).any():
        worst = float(unreached.max())
        console.print(
            f"未覆盖原因：路网无法到达设施的居民（最多 {worst:,.0f} 人）计入未覆盖。"
            if zh
            else f"up to {worst:,.0f} residents the network cannot bring to a facility "
            "(unreachable, off the network, across water) count as not covered."
        )
    label = analysis.targets.get("label_zh" if zh else "label", label)
    targets_table = Table(title=escape(f"{'规划目标' if zh else 'plan targets'} — {label}"))
    for col in (("指标", "现状值", "目标值", "是否达标") if zh
                else ("indicator", "value", "target", "status")):  # fmt: skip
        targets_table.add_column(col)
    for ind in report:
        value = indicator_text(ind.value, ind.unit, missing="—")
        target = (
            "—"
            if ind.target is None
            else (percent(ind.target) if ind.unit.startswith("share") else f"{ind.target:g}")
        )
        status = STATUS_NAMES[lang][ind.status]
        if ind.status == "not computable":
            status += f" — {ind.note_zh if zh else ind.note}"
        targets_table.add_row(escape(ind.name_zh if zh else ind.name_en), value, target,
                              escape(status))  # fmt: skip
    console.print(targets_table)
    _print_road(analysis, lang)
    _print_hours(analysis, lang)
    _print_unplaced(analysis.study, lang)
    _print_lacking(analysis, lang)
    console.print(("已写入 " if zh else "wrote ") + f"{escape(str(shown or out))}/: "
                  + ("、" if zh else ", ").join(written))  # fmt: skip
    console.print(("数据：" if zh else "Data: ") + escape(study.attribution))


def _print_frame(title: str, frame: pd.DataFrame) -> None:
    """A table for people on the console, every cell escaped."""
    table = Table(title=escape(title))
    for col in frame.columns:
        table.add_column(escape(str(col)), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(_cell(v)) for v in row))
    console.print(table)


def _cell(value: object) -> str:
    """One value of a table for people: whole numbers with separators, no time as a word."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "—"
        return f"{value:,.0f}" if float(value).is_integer() else str(value)
    return str(value)


def _print_road(analysis, lang: str) -> None:
    """The township circle by road and the terrain's cost, apart from the walking tables."""
    from service_circle.tables import road_for_people, terrain_for_people, terrain_title

    zh = lang == "zh"
    if analysis.road is not None:
        summary, _ = road_for_people(analysis.road, analysis.study.catalogue, analysis.lang)
        speed = analysis.road.speed_kmh
        _print_frame(f"乡集镇层级：车行 {speed:g} 公里/小时" if zh
                     else f"township tier by road, {speed:g} km/h", summary)  # fmt: skip
    if analysis.terrain is not None:
        summary, _ = terrain_for_people(analysis.terrain, analysis.study.catalogue,
                                        analysis.lang)  # fmt: skip
        _print_frame(terrain_title(analysis.terrain, analysis.lang), summary)


def _print_unplaced(study, lang: str) -> None:
    """The facilities that reach nobody (off the network), by category, named."""
    from service_circle.tables import check_lang, unplaced_lines

    for line in unplaced_lines(study.unplaced_facilities(), study.catalogue, check_lang(lang)):
        err_console.print(f"[yellow]{escape(line)}[/]", highlight=False)


#: How many units missing services the console lists (all of them go to the files).
SHOWN_UNITS = 10


def _print_hours(analysis, lang: str) -> None:
    """The "open when needed" table, and what --at chose."""
    from service_circle.indicators import at_line
    from service_circle.tables import hours_for_people

    if analysis.opening is not None:
        console.print(escape(at_line(analysis.opening, lang)))
    if analysis.hours is None or not len(analysis.hours.table):
        return
    frame = hours_for_people(analysis.hours, analysis.study.catalogue, analysis.lang)
    _print_frame("需要时是否开着" if lang == "zh" else "open when needed", frame)


def _print_lacking(analysis, lang: str) -> None:
    """The units that miss services, largest first (the first :data:`SHOWN_UNITS`)."""
    from service_circle.indicators import lacking
    from service_circle.pipeline import report_of

    if analysis.plan.units is None:
        return
    zh = lang == "zh"
    gap = lacking(report_of(analysis))
    if gap.empty:
        console.print("所有单元均已配齐所评估的设施。" if zh else
                      "every unit has every service assessed.")  # fmt: skip
        return
    table = Table(title=("缺配社区（按人口从多到少）" if zh
                         else "units missing services, largest first"))  # fmt: skip
    for head in (("社区/村", "乡镇（街道）", "常住人口", "缺配设施") if zh
                 else ("unit", "township", "residents", "missing")):  # fmt: skip
        table.add_column(
            head, justify="right" if head in ("常住人口", "residents") else "left", overflow="fold"
        )
    catalogue = analysis.study.catalogue
    for r in gap.head(SHOWN_UNITS).itertuples():
        names = [catalogue[k].name("zh" if zh else "en") for k in str(r.missing).split(",") if k]
        table.add_row(escape(str(r.unit_name)), escape(str(r.township)), f"{r.residents:,.0f}",
                      escape(("、" if zh else ", ").join(names)))  # fmt: skip
    console.print(table)
    if len(gap) > SHOWN_UNITS:
        more = len(gap) - SHOWN_UNITS
        console.print(f"… 另有 {more} 个单元，见 units.csv 与 report.xlsx" if zh
                      else f"… {more} more in units.csv and report.xlsx")  # fmt: skip


@app.command()
def site(
    study_dir: Annotated[
        Path, typer.Option("--study", help="A study folder from `service-circle build`")
    ],
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
        Path | None,
        typer.Option(help="Candidate sites (points; polygons are sited at a point inside them)"),
    ] = None,
    candidates_crs: Annotated[
        str | None,
        typer.Option(
            help="Coordinates of --candidates: wgs84, gcj02, bd09, EPSG:n (default: "
            "GeoJSON WGS-84, GPKG its own, a table WGS-84 unless it looks exported)"
        ),
    ] = None,
    encoding: Encoding = None,
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

    from service_circle.folders import atomic_write, check_target, publishing
    from service_circle.gaps import gaps
    from service_circle.siting import Method, Objective
    from service_circle.siting_study import site_study, site_summary
    from service_circle.study import Study

    check_number(time_limit, "--time-limit", gt=0)
    if p is not None:
        check_number(p, "--p", ge=1, integer=True)
    if target_share is not None:
        check_number(target_share, "--target-share", gt=0, le=1)
    check_target(out, inputs=_inputs(study=study_dir, candidates=candidates, exclude=exclude))
    study = Study.load(study_dir)
    category = _category_key(study.catalogue, category)
    cat = study.catalogue[category]
    if minutes is not None and metres is not None:
        raise InputError("give --minutes or --metres, not both")
    if minutes is not None:
        threshold = Threshold.minutes(check_number(minutes, "--minutes", gt=0, le=MAX_MINUTES))
    elif metres is not None:
        threshold = Threshold.metres(check_number(metres, "--metres", gt=0, le=MAX_METRES))
    else:
        threshold = Threshold.minutes(cat.minutes)
    cands = None
    if candidates:
        cands = _read(candidates, crs=candidates_crs, encoding=encoding)
        cands = _points_of(cands, str(candidates))
        if "id" not in cands.columns:
            cands["id"] = [f"candidate-{i + 1}" for i in range(len(cands))]
    zones = _read(exclude) if exclude else None
    result, sites, after = site_study(
        study, category, threshold, p=p, target_share=target_share,
        objective=cast(Objective | None, objective), candidates=cands, profile=profile,
        method=cast(Method, method), time_limit_s=time_limit, exclude=zones,
    )  # fmt: skip
    summary = site_summary(result, study, category, threshold, profile)
    with publishing(out, kind="siting", inputs=_inputs(study=study_dir, candidates=candidates,
                                                       exclude=exclude)) as staging:  # fmt: skip
        write_geojson(sites, staging / "sites.geojson")
        write_geojson(gaps(after, category, threshold, profile=profile),
                      staging / "gaps_after.geojson")  # fmt: skip
        with atomic_write(staging / "summary.json") as fh:
            json.dump(summary, fh, ensure_ascii=False, indent=2)
    console.print(escape(_site_line(result, study, category, threshold, summary["profile"])))
    from service_circle.tables import study_language

    said = "已写入" if study_language(study) == "zh" else "wrote"
    console.print(f"{said} {escape(str(out))}/: sites.geojson, summary.json, gaps_after.geojson")


#: The siting models for a Chinese reader.
SITING_MODELS_ZH = {"mclp": "最大覆盖模型", "lscp": "集合覆盖模型", "pmedian": "p-中位模型",
                    "capacitated_mclp": "容量约束最大覆盖模型"}  # fmt: skip


def _site_line(result, study, category: str, threshold: Threshold, profile: str) -> str:
    """What siting chose, in the study's language."""
    from service_circle.profiles import profile_label
    from service_circle.tables import UNIT_NAMES, group_name, study_language

    lang = study_language(study)
    cat = study.catalogue[category]
    within = f"{threshold.value:g} {UNIT_NAMES[lang][threshold.unit]}"
    gap = "" if result.gap is None else f"{result.gap:.2%}"
    if lang == "zh":
        model = SITING_MODELS_ZH.get(result.model, result.model)
        status = {"optimal": "最优解", "time limit": "达到时限"}.get(result.status, result.status)
        return (f"{model}（{status}）：新增{cat.name('zh')} {result.chosen.size} 处；"
                f"{group_name(cat.group, 'zh')}{within}内覆盖率 {result.share_before:.1%} → "
                f"{result.share_after:.1%}（按{profile_label(profile)}步行）"
                + (f"；最优性差距 {gap}" if gap else ""))  # fmt: skip
    return (f"{result.model} ({result.method}, {result.status}): {result.chosen.size} new "
            f"{cat.name('en')} sites; {group_name(cat.group, 'en')} covered within {within} "
            f"(walking as {profile}): {result.share_before:.1%} → {result.share_after:.1%}"
            + (f"; gap {gap}" if gap else ""))  # fmt: skip


def _points_of(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Candidate sites as points: a polygon (a vacant lot) becomes a point inside it."""
    from service_circle.readers import as_points

    frame, moved = as_points(frame)
    if moved:
        err_console.print(
            f"{moved} candidates of {escape(what)} are not points (lots, buildings): "
            "each is sited at a point inside it"
        )
    return frame


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
    max_access_m: MaxAccess = DEFAULT_MAX_ACCESS_M,
    min_piece_m: MinPiece = DEFAULT_MIN_PIECE_M,
    lang: Lang = "auto",
) -> None:
    """Run the bundled Helsinki sample end to end (no download) and print walking times."""
    from service_circle.folders import check_target, publishing
    from service_circle.pipeline import nearest_summary
    from service_circle.sample import SAMPLE_CATEGORIES, load_sample

    prof = get_profile(profile)
    check_number(max_access_m, "--max-access-m", gt=0)
    check_target(out)
    with console.status("loading the Helsinki sample (network, POIs, buildings)…"):
        sample = load_sample()
    net = sample.network
    console.print(f"network: {_describe(net)}")
    walls = barriers_from_osm(sample.pbf_path)
    snap_options = {"max_access_m": max_access_m, "min_piece_m": min_piece_m, "barriers": walls}
    homes = snap(net, sample.demand, what="sample buildings", **snap_options)
    present = {}
    missing = []
    for key in SAMPLE_CATEGORIES:
        group = sample.facilities[sample.facilities["category"] == key]
        if group.empty:
            missing.append(key)
            continue
        present[key] = snap(net, group, what=f"{key} facilities", **snap_options)
    summary, times_frame = nearest_summary(net, present, homes, profile=prof,
                                           minutes=DEMO_THRESHOLDS_MIN)  # fmt: skip
    rows = summary.to_dict("records")
    from service_circle.sample import build_sample_study

    study = build_sample_study(
        sample, barriers=walls, max_access_m=max_access_m, min_piece_m=min_piece_m
    )
    people = study.demand
    thresholds = [Threshold.minutes(m) for m in DEMO_THRESHOLDS_MIN]
    with publishing(out, kind="demo") as staging:
        net.save(staging / "network.npz")
        write_geojson(sample.facilities, staging / "facilities.geojson")
        write_geojson(sample.demand, staging / "buildings.geojson")
        write_csv(times_frame, staging / "times.csv")
        write_csv(summary, staging / "summary.csv")
        _print_demo_table(sample, prof, rows, missing, homes, max_access_m)
        console.print(
            f"wrote {escape(str(out))}/: network.npz, facilities.geojson, buildings.geojson, "
            "times.csv, summary.csv"
        )
        write_geojson(people, staging / "demand.geojson")
        (staging / "study").mkdir()
        study.write(staging / "study")
        console.print(
            f"study: {len(people)} residential buildings, {people['population'].sum():,.0f} "
            f"residents (floor area ÷ 40 m²); saved to {escape(str(out / 'study'))}"
        )
        _analyze(study, staging, thresholds, prof, list(present), "haidong_2025", None, lang,
                 shown=out)  # fmt: skip


def _print_demo_table(sample, prof, rows, missing, homes, max_access_m) -> None:
    table = Table(
        title=f"Walking time to the nearest facility — Helsinki sample, {len(sample.demand)} "
        f"buildings, profile {prof.name} ({prof.speed_m_s} m/s)"
    )
    columns = ("category", "facilities", "median", "p90", "≤5 min", "≤10 min", "≤15 min",
               "unreachable")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "category" else "right")
    for r in rows:
        table.add_row(
            r["category"],
            str(r["facilities"]),
            *(
                f"{r[c]:.1f} min" if np.isfinite(r[c]) else "unreachable"
                for c in ("median_min", "p90_min")
            ),
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
    unplaced = pd.Series(homes.status[~homes.on_network]).value_counts()
    if len(unplaced):
        reasons = {
            "off_network": f"farther than {max_access_m:g} m from a walkable street",
            "blocked": "across water from every street within reach",
            "no_geometry": "without a location",
        }
        said = "; ".join(f"{n} {reasons.get(k, k)}" for k, n in unplaced.items())
        console.print(f"not placed on the network, so not covered: {said}.")


@app.command(name="map")
def map_(
    study_dir: Annotated[
        Path, typer.Option("--study", help="A study folder from `service-circle build`")
    ],
    out: Annotated[Path, typer.Option(help="The HTML file to write")],
    category: Annotated[
        list[str] | None, typer.Option(help="Only these categories (repeatable)")
    ] = None,
    minutes: Annotated[str | None, typer.Option(help="Isochrones in minutes, e.g. 5,10,15")] = None,
    metres: Annotated[str | None, typer.Option(help="Isochrones in metres")] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    lang: Lang = "auto",
    tiles: Annotated[
        str,
        typer.Option(
            help="Base map: none (offline, the default), or osm (OpenStreetMap tiles, online)"
        ),
    ] = "none",
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
    from service_circle.maps import save_map
    from service_circle.pipeline import map_of
    from service_circle.study import Study
    from service_circle.tables import resolve_lang

    if tiles not in ("osm", "none"):
        raise InputError(f"--tiles must be none or osm, got {tiles!r}")
    study = Study.load(study_dir)
    lang = resolve_lang(lang, study)
    keys = [_category_key(study.catalogue, c) for c in category] if category else None
    fmap = map_of(  # as analyze and the API draw it: each group judged at its own pace
        study, categories=keys, thresholds=_thresholds(minutes, metres), profile=profile,
        lang=lang, tiles=cast(Literal["osm", "none"], tiles), self_contained=not cdn,
        sites=_read(sites) if sites else None,
        neighbourhoods=_read(neighbourhoods) if neighbourhoods else None,
    )  # fmt: skip
    save_map(fmap, out)
    console.print(f"wrote {escape(str(out))} ({'linked' if cdn else 'self-contained'}, {lang})")


@app.command()
def batch(
    units: Annotated[Path, typer.Option(
        help="The areas to analyse, one task each: counties, districts or cities (polygons)")],
    network: Annotated[Path, typer.Option(
        help="The .osm.pbf of them all (a province, the country); each task reads its box")],
    out: Annotated[Path, typer.Option(help="Dataset folder (new, empty, or a batch to resume)")],
    key: Annotated[str | None, typer.Option(
        help="Key column of --units (default: code, adcode, 区划代码 … or the name)")] = None,
    name: Annotated[str | None, typer.Option(
        "--name-column", help="Name column of --units (default: name, 名称 …)")] = None,
    units_crs: UnitsCRS = None,
    facilities: Annotated[list[Path] | None, typer.Option(
        help="Facility files (repeatable; default: the OSM file's own)")] = None,
    demand: Annotated[Path | None, typer.Option(
        help="Demand points (default: residents of the OSM file's residential buildings)")] = None,
    planning_units: Annotated[Path | None, typer.Option(
        help="Communities and villages: their rows go into the dataset")] = None,
    minutes: Annotated[str | None, typer.Option(help="Thresholds in minutes, e.g. 5,10,15")] = None,
    metres: Annotated[str | None, typer.Option(help="Thresholds in metres")] = None,
    profile: Annotated[str | None, typer.Option(help=f"One of {', '.join(PROFILES)}")] = None,
    category: Annotated[list[str] | None, typer.Option(
        help="Only these categories (repeatable)")] = None,
    targets_preset: TargetsPreset = None,
    lang: Lang = "auto",
    crs: Annotated[str | None, typer.Option(
        help="One metric CRS for every unit (default: each unit's UTM zone)")] = None,
    input_crs: InputCRS = None,
    facilities_crs: Annotated[str | None, _file_crs("facility")] = None,
    demand_crs: Annotated[str | None, _file_crs("demand")] = None,
    encoding: Encoding = None,
    max_access_m: MaxAccess = DEFAULT_MAX_ACCESS_M,
    scheduler: Annotated[str | None, typer.Option(
        help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes of the local cluster (default: the cores)")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        help="Memory per local worker, e.g. 4GB (default: shared out by Dask)")] = None,
    retries: Annotated[int, typer.Option(
        help="Runs again of a task that fails on something else than its data")] = 2,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the tasks, their boxes and status; run nothing")] = False,
) -> None:  # fmt: skip
    """Every area of --units in one run on Dask: a province's counties, a country's cities.

    Each unit is one task: its box plus a halo (the longest threshold walked at the
    fastest speed, plus the access legs) read out of --network, built and analysed; the
    homes, gaps, indicators, coverage, facilities and planning units inside it are written
    to OUT/TABLE/area=KEY/ as GeoParquet, and OUT/_done/KEY.json last. A rerun skips the
    units done with the same settings. OUT/summary.parquet and report.html/.xlsx rank the
    units, the worst served first; a unit that fails on its data is listed with its reason.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from service_circle.batch import (
        BatchSpec,
        check_inputs,
        describe_tasks,
        plan_tasks,
        read_areas,
        run_batch,
    )
    from service_circle.catalogue import load_catalogue

    check_number(max_access_m, "--max-access-m", gt=0)
    check_number(retries, "--retries", ge=0, le=20, integer=True)
    if workers is not None:
        check_number(workers, "--workers", ge=1, le=512, integer=True)
    if not str(network).lower().endswith(".pbf"):
        raise InputError(f"--network {network}: give an .osm.pbf file (a task reads a box of it)")
    for path in [network, units, *(facilities or []), demand, planning_units]:
        if path is not None and not Path(path).exists():
            raise InputNotFoundError(f"{path} does not exist")
    cat = load_catalogue()
    keys = tuple(_category_key(cat, c) for c in category) if category else ()
    thresholds = _thresholds(minutes, metres)
    spec = BatchSpec(
        network=str(network.resolve()),
        facilities=tuple(str(f.resolve()) for f in facilities or ()),
        demand=str(demand.resolve()) if demand else None,
        units=str(planning_units.resolve()) if planning_units else None, categories=keys,
        profile=profile, minutes=tuple(t.value for t in thresholds if t.is_time),
        metres=tuple(t.value for t in thresholds if not t.is_time),
        targets_preset=targets_preset, lang=lang, crs=crs, max_access_m=max_access_m,
        table_crs=input_crs, facilities_crs=facilities_crs, demand_crs=demand_crs,
        encoding=encoding,
    )  # fmt: skip
    for line in check_inputs(spec):  # a table in GCJ-02 without a word: refused before any task
        err_console.print(escape(line), highlight=False)
    areas = read_areas(units, key=key, name=name, crs=units_crs)
    err_console.print(
        f"read {escape(str(units))}: {len(areas)} units; halo {spec.halo_m():,.0f} m (times "
        f"exact up to {spec.bound().value:g} min)", highlight=False,
    )  # fmt: skip
    if dry_run:
        tasks = plan_tasks(areas, spec, out)
        console.print("key\tname\thalo box\tstatus")
        for line in describe_tasks(tasks):
            console.print(escape(line), highlight=False)
        todo = int((tasks["status"] != "done").sum())
        console.print(f"{todo} of {len(tasks)} tasks to run; nothing was run (--dry-run)")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=err_console) as bar:  # fmt: skip
        job = bar.add_task("starting", total=len(areas))

        def show(done: int, failed: int, running: int, total: int) -> None:
            bar.update(job, completed=done + failed, description=(
                f"done {done} · failed {failed} · running {running}"))  # fmt: skip

        result = run_batch(
            areas, spec, out, scheduler=scheduler, workers=workers, memory_limit=memory_limit,
            retries=retries, on_progress=show,
        )  # fmt: skip
    summary = result.summary
    table = Table(title=escape(f"batch — {out} (worst served first)"))
    for col in ("rank", "key", "name", "status", "population", "mean share", "reason"):
        table.add_column(col)
    for row in summary.head(20).itertuples():
        share = getattr(row, "mean_share", float("nan"))
        table.add_row(str(row.rank), escape(str(row.key)), escape(str(row.name)), row.status,
                      f"{getattr(row, 'population', float('nan')):,.0f}",
                      "" if not np.isfinite(share) else f"{100 * share:.1f}%",
                      escape(str(getattr(row, "error", "") or "")))  # fmt: skip
    console.print(table)
    console.print(
        f"{result.done} units run, {result.skipped} done before, {result.failed} failed; "
        f"wrote {escape(str(out))}/: {', '.join(result.files)}"
    )
    if result.failed:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    studies: Annotated[
        Path | None,
        typer.Option(help="Folder of study folders (default: SC_STUDIES_DIR, else the sample)"),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes (uvicorn workers): each loads the studies and keeps its "
            "own cache; more answer more clients at once where there are cores for them"
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn): coverage, gaps, isochrones, siting, maps.

    Studies that do not load are listed as unavailable (GET /studies) with their reason,
    and the log names their folder; the others are served.
    """
    import uvicorn
    from service_circle_api.main import create_app
    from service_circle_api.registry import check_studies_dir
    from service_circle_api.settings import Settings

    check_number(port, "--port", ge=0, le=65535, integer=True)
    check_number(workers, "--workers", ge=1, le=64, integer=True)
    if studies:  # the worker processes read their settings from the environment
        os.environ["SC_STUDIES_DIR"] = str(studies)
    settings = Settings()
    if settings.studies_dir is not None:
        found = check_studies_dir(settings.studies_dir)
        console.print(f"{len(found)} study folder(s) in {escape(str(settings.studies_dir))}")
    _configure_logging("api")
    where = settings.studies_dir or "the bundled Helsinki sample"
    console.print(f"serving {escape(str(where))} on http://{host}:{port} (docs at /docs)"
                  + (f", {workers} worker processes" if workers > 1 else ""))  # fmt: skip
    if workers > 1:  # each worker builds its own app from the environment
        uvicorn.run("service_circle_api.main:create_app", factory=True, host=host, port=port,
                    workers=workers, log_level="info")  # fmt: skip
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _configure_logging(name: str = "service_circle") -> None:
    """Show the library's warnings (off-network points, blocked points) on stderr."""
    from rich.logging import RichHandler

    root = logging.getLogger(name)
    if not root.handlers:
        handler = RichHandler(console=err_console, show_time=False, show_path=False,
                              markup=False)  # fmt: skip
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def _os_error(exc: OSError) -> str:
    """One line for a failed read or write: the path and the reason, no errno noise."""
    path = exc.filename or ""
    reason = exc.strerror or str(exc)
    hints = {
        errno.ENOENT: "the folder does not exist",
        errno.EACCES: "permission denied",
        errno.EROFS: "the disk is read-only",
        errno.ENOSPC: "the disk is full",
        errno.EISDIR: "it is a folder",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EEXIST: "a file stands where a folder is needed (not a folder)",
    }
    reason = hints.get(exc.errno or 0, reason)
    return f"cannot use {path}: {reason}" if path else f"{reason}"


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning expected errors into one line and exit code 2."""
    _configure_logging()
    try:
        app(args=argv, prog_name="service-circle")
    except SystemExit as exc:  # click's standalone mode ends every run with one
        return exc.code if isinstance(exc.code, int) else 0
    except ServiceCircleError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                          soft_wrap=True)  # fmt: skip
        return 2
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] {escape(_os_error(exc))}", highlight=False,
                          soft_wrap=True)  # fmt: skip
        return 2
    except MemoryError:
        err_console.print(
            "[bold red]error:[/] out of memory: nothing was published; give smaller inputs "
            "(a county's file rather than a province's; `service-circle batch` cuts a large "
            "area into units), or run where more memory is free", highlight=False,
        )  # fmt: skip
        return 2
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted[/]: nothing was published")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
