"""Folium maps of a study: facilities, isochrones, gaps, proposed sites, neighbourhoods.

The page is bilingual (``lang="zh"`` or ``"en"``), carries the data's attribution, a
layer control grouped by category, a legend in the colours drawn (with the gap scale's
numbers), a metric scale bar and a title. Folium builds the page and the Leaflet map;
the layers are drawn by one small script of this module (``_RUNTIME``):

- untrusted text (POI and community names, file names …) reaches the page only as JSON
  made safe for a ``<script>`` element (:func:`~service_circle._escape.json_for_script`)
  and reaches the DOM only as ``textContent`` — never as HTML, never inside a JavaScript
  template — so a name such as ``</script><script>…`` is shown, not run;
- tooltips and popups are tables built from ``[label, text]`` rows prepared here, with
  numbers and units already formatted in the page's language.

``self_contained=True`` embeds Leaflet 1.9.3 (and Leaflet.markercluster 1.4.1 where a
category has more than :data:`CLUSTER_ABOVE` facilities), taken at run time from the
XStatic packages installed from PyPI, so the page works on an intranet without internet.
With ``tiles="none"`` nothing at all is loaded from the network.

Each layer is registered in ``window.serviceCircle.layers`` (key → Leaflet layer) and has a
checkbox ``input[data-layer=KEY]`` in the layer control, so that a browser test or a script
can count what was drawn and toggle it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Literal, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from branca.element import Element, Figure, MacroElement

from service_circle._errors import InputError
from service_circle._escape import html_text, json_for_script
from service_circle.cost import CostModel, Threshold
from service_circle.judging import Judgement
from service_circle.profiles import Profile, get_profile
from service_circle.readers import as_points
from service_circle.study import Study

#: Colours of the categories, in catalogue order (distinct on a light base map).
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354", "#756bb1", "#636363",
)  # fmt: skip
#: Above this many facilities in a category, its markers are clustered.
CLUSTER_ABOVE = 50
#: Above this many neighbourhoods, their names are not written on the map (hover instead).
LABEL_AT_MOST = 300
#: Isochrone fill opacity from the shortest threshold to the longest (graded).
ISO_OPACITY = (0.45, 0.3, 0.18, 0.12, 0.08, 0.05)
#: Gap choropleth classes (population), light to dark.
GAP_COLOURS = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILE_HOSTS = ("https://tile.openstreetmap.org",)

_TEXT = {
    "zh": {
        "title": "一刻钟便民生活圈 — {name}",
        "facilities": "设施",
        "isochrones": "步行可达范围",
        "gaps": "覆盖缺口",
        "gap_scale": "覆盖缺口（人口）",
        "sites": "拟新增设施",
        "neighbourhoods": "社区边界",
        "population": "人口",
        "group_population": "服务人群",
        "homes": "住宅点",
        "nearest": "最近设施用时",
        "nearest_m": "最近设施距离",
        "rank": "排序",
        "gain": "新增覆盖人口",
        "capacity": "容量",
        "source": "来源",
        "category": "类别",
        "min": "分钟",
        "m": "米",
        "unreachable": "不可达",
        "legend": "图例",
        "layers": "图层",
        "other": "其他",
        "proposed": "拟新增",
        "units": "规划单元（缺配项占评估项比例）",
        "residents": "常住人口",
        "missing": "缺配",
        "complete": "配齐",
        "township": "乡镇（街道）",
    },
    "en": {
        "title": "15-minute living circle — {name}",
        "facilities": "facilities",
        "isochrones": "walkable area",
        "gaps": "coverage gaps",
        "gap_scale": "coverage gaps (population)",
        "sites": "proposed sites",
        "neighbourhoods": "neighbourhoods",
        "population": "population",
        "group_population": "group served",
        "homes": "homes",
        "nearest": "nearest facility",
        "nearest_m": "nearest facility",
        "rank": "rank",
        "gain": "newly covered",
        "capacity": "capacity",
        "source": "source",
        "category": "category",
        "min": "min",
        "m": "m",
        "unreachable": "unreachable",
        "legend": "legend",
        "layers": "layers",
        "other": "other",
        "proposed": "proposed",
        "units": "planning units (share of the services assessed that are missing)",
        "residents": "residents",
        "missing": "missing",
        "complete": "complete",
        "township": "township",
    },
}
#: Capacity units of the catalogue, as a reader of each language writes them.
_UNITS = {
    "zh": {"places": "个位", "seats": "个座位", "beds": "张床位", "m2": "平方米", "none": ""},
    "en": {"places": "places", "seats": "seats", "beds": "beds", "m2": "m²", "none": ""},
}

# the assets a map uses: name in folium → (XStatic package, file)
_ASSETS = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "markerclusterjs": ("leaflet_markercluster", "leaflet.markercluster.js"),
    "markerclustercss": ("leaflet_markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet_markercluster", "MarkerCluster.Default.css"),
}
_CDN = {
    "leaflet": "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
    "leaflet_css": "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css",
    "markerclusterjs": "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.4.1/"
    "leaflet.markercluster.js",
    "markerclustercss": "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.4.1/"
    "MarkerCluster.css",
    "markerclusterdefaultcss": "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/"
    "1.4.1/MarkerCluster.Default.css",
}


def study_map(
    study: Study,
    *,
    categories: Sequence[str] | None = None,
    thresholds: Sequence[Threshold] | None = None,
    profile: str | Profile | None = None,
    lang: Literal["zh", "en"] = "zh",
    tiles: Literal["osm", "none"] = "none",
    self_contained: bool = False,
    sites: gpd.GeoDataFrame | None = None,
    neighbourhoods: gpd.GeoDataFrame | None = None,
    gaps_threshold: Threshold | None = None,
    computed_isochrones: gpd.GeoDataFrame | None = None,
    computed_gaps: gpd.GeoDataFrame | None = None,
    attribution: str | None = None,
    units: gpd.GeoDataFrame | None = None,
    judged: Mapping[str, Judgement] | None = None,
    unknown_open: bool = True,
) -> folium.Map:
    """A folium map of a study.

    Parameters
    ----------
    study
        The study.
    categories
        Category keys to show (default: every category with a facility).
    thresholds
        Isochrone thresholds (default 5, 10 and 15 minutes), drawn as graded fills.
    profile
        The walking profile.
    lang
        ``"zh"`` or ``"en"`` for titles, legends, popups and tooltips.
    tiles
        ``"none"`` (the default: no base map, nothing asked of the network: offline
        first) or ``"osm"`` (OpenStreetMap tiles, where the internet is at hand).
    self_contained
        Embed Leaflet and its plugins in the page (see the module docstring).
    sites
        Proposed sites (from :func:`~service_circle.siting.site_study`): ``rank``,
        ``marginal_population``, ``category``.
    neighbourhoods
        Community boundaries (polygons, with a ``name`` column if there is one); their
        names are written on the map.
    gaps_threshold
        The threshold of the gap layers (default: each category's own circle minutes when
        they are among ``thresholds``, else the longest of ``thresholds``). The gap layer
        of the category that leaves the largest share of its group uncovered is shown at
        first.
    computed_isochrones, computed_gaps
        Outputs of :func:`~service_circle.coverage.isochrones` and
        :func:`~service_circle.coverage.gaps` already at hand (``analyze`` has them): the
        rows of each category and threshold are taken from them instead of computed again.
    attribution
        The data's attribution, shown in the map's corner (default: the study's own,
        from the sources it was built from).
    judged
        How each category is judged (:func:`service_circle.judging.judging_rule`): its gap
        layer is at that threshold, and its layers under that profile (default: ``profile``
        and ``gaps_threshold``).
    units
        The per-unit table (:attr:`service_circle.plan.PlanResult.units`): a choropleth of
        the services each unit misses (缺配), its name written on it and its row in a popup.
    unknown_open
        In the layers of a category's windows (the pharmacy at night …: the area within its
        judged threshold of the facilities open throughout the window), whether facilities
        without known hours count as open.
    """
    from service_circle.gaps import gaps
    from service_circle.isochrones import isochrones

    if lang not in _TEXT:
        raise InputError(f"lang must be 'zh' or 'en', got {lang!r}")
    if tiles not in ("osm", "none"):
        raise InputError(f"tiles must be 'osm' or 'none', got {tiles!r}")
    text = _TEXT[lang]
    attribution = attribution or study.attribution
    prof = CostModel.walking(profile).profile
    present = set(study.facilities["category"])
    keys = list(categories) if categories else [c.key for c in study.catalogue if c.key in present]
    for key in keys:
        study.catalogue[key]
    thresholds = list(thresholds or [Threshold.minutes(m) for m in (5, 10, 15)])
    thresholds.sort(key=lambda t: (not t.is_time, CostModel.for_threshold(t, prof).limit(t)))
    colour = {c.key: PALETTE[i % len(PALETTE)] for i, c in enumerate(study.catalogue)}

    def name(cat_key: str) -> str:
        return study.catalogue[cat_key].name(lang)

    def _profile_of(cat_key: str) -> Profile:
        return judged[cat_key].profile if judged and cat_key in judged else get_profile(profile)

    west, south, east, north = _bounds(study)
    fmap = _Map(tiles=None, control_scale=False, prefer_canvas=False)
    fmap.fit_bounds([[south, west], [north, east]])
    runtime = _runtime(
        {
            "layers_title": text["layers"],
            "attribution": html_text(attribution),
            "tiles": OSM_TILES if tiles == "osm" else None,
        }
    )
    fmap.add_child(runtime)
    layers: list[dict] = []

    # isochrones, widest first so the narrower ones sit on top
    iso_shown: dict[str, list[int]] = {}
    for key in keys:
        iso = _pick(computed_isochrones, key, thresholds, one_each=True)
        if iso is None:
            iso = isochrones(study, key, thresholds, profile=_profile_of(key))
        iso_shown[key] = []
        for i in reversed(range(len(iso))):
            row = iso.iloc[[i]]
            t = thresholds[i]
            opacity = ISO_OPACITY[min(i, len(ISO_OPACITY) - 1)]
            tip = [["", name(key)], ["", f"{text['isochrones']} {_label(t, text)}"]]
            layers.append(
                {
                    "key": f"isochrones/{key}/{t.label}",
                    "group": name(key),
                    "colour": colour[key],
                    "label": f"{text['isochrones']} {_label(t, text)}",
                    "order": 1 + i,
                    "show": i == len(iso) - 1 and key == keys[0],
                    "style": _fill_style(colour[key], opacity),
                    "data": _collection(row, [{"t": tip}]),
                }
            )
            iso_shown[key].append(i)

    # the windows a category is needed in: the area its facilities open then reach
    for key in keys:
        cat = study.catalogue[key]
        threshold = judged[key].threshold if judged and key in judged else Threshold.minutes(
            cat.minutes)  # fmt: skip
        for window in cat.windows:
            view = study.open_at(window, unknown_open=unknown_open)
            open_now = int((view.facilities["category"] == key).sum())
            iso = isochrones(view, key, [threshold], profile=_profile_of(key))
            label = (f"{text['isochrones']} {_label(threshold, text)} · {window.name(lang)} "
                     f"({open_now})")  # fmt: skip
            tip = [["", name(key)], ["", label]]
            layers.append(
                {
                    "key": f"windows/{key}/{window.key}",
                    "group": name(key),
                    "colour": colour[key],
                    "label": label,
                    "order": 1,
                    "show": False,
                    "style": {**_fill_style(colour[key], 0.15), "dashArray": "6 4", "weight": 2},
                    "data": _collection(iso, [{"t": tip}] * len(iso)),
                }
            )

    # gaps: a population choropleth on one scale for every category
    gap_frames: dict[str, tuple[gpd.GeoDataFrame, Threshold]] = {}
    uncovered_share: dict[str, float] = {}
    for key in keys:
        cat = study.catalogue[key]
        threshold = (
            judged[key].threshold
            if judged and key in judged
            else gaps_threshold or _gap_threshold(cat.minutes, thresholds)
        )
        gap = _pick(computed_gaps, key, [threshold])
        if gap is None:
            gap = gaps(study, key, threshold, profile=_profile_of(key))
        group_total = float(study.demand[cat.group_column].sum())
        uncovered_share[key] = (
            float(gap["group_population"].sum()) / group_total if group_total > 0 else 0.0
        )
        located = gap[~gap.geometry.is_empty & gap.geometry.notna()]
        if not located.empty:
            gap_frames[key] = (located, threshold)
    pooled = np.concatenate([f["population"].to_numpy(float) for f, _ in gap_frames.values()]
                            or [np.zeros(0)])  # fmt: skip
    breaks = _breaks(pooled)
    worst = max(gap_frames, key=lambda k: uncovered_share[k], default=None)
    for key, (gap, threshold) in gap_frames.items():
        cost = "nearest_time_s" if threshold.is_time else "nearest_distance_m"
        gap_props: list[dict] = []
        for row in gap.itertuples():
            fill = GAP_COLOURS[int(np.searchsorted(breaks, row.population, side="right"))]
            tip = [
                ["", f"{name(key)} · {text['gaps']} ({_label(threshold, text)})"],
                [text["rank"], str(int(row.rank))],
                [text["population"], f"{row.population:,.0f}"],
                [text["group_population"], f"{row.group_population:,.1f}"],
                [text["homes"], str(int(row.homes))],
                [text["nearest"] if threshold.is_time else text["nearest_m"],
                 _cost_label(getattr(row, cost), CostModel.for_threshold(
                     threshold, _profile_of(key)), text)],
            ]  # fmt: skip
            gap_props.append({"t": tip, "s": {"fillColor": fill}})
        layers.append(
            {
                "key": f"gaps/{key}",
                "group": name(key),
                "colour": colour[key],
                "label": f"{text['gaps']} ({_label(threshold, text)})",
                "order": 100,
                "show": key == worst,
                "style": {"color": "#a50f15", "weight": 0.6, "fillOpacity": 0.65},
                "data": _collection(gap, gap_props),
            }
        )

    # facilities: circle markers, clustered where dense
    cluster_any = False
    unit_text = _UNITS[lang]
    for key in keys:
        cat = study.catalogue[key]
        rows = study.facilities[study.facilities["category"] == key]
        props = [_facility_rows(row, name(key), unit_text[cat.capacity_unit], text)
                 for row in rows.itertuples()]  # fmt: skip
        cluster = len(rows) > CLUSTER_ABOVE
        cluster_any |= cluster
        layers.append(
            {
                "key": f"facilities/{key}",
                "group": name(key),
                "colour": colour[key],
                "label": text["facilities"],
                "order": 0,
                "show": True,
                "cluster": cluster,
                "marker": _marker_style(colour[key]),
                "data": _collection(rows, props),
            }
        )

    if sites is not None and len(sites):
        sites = _as_sites(sites)
        site_props: list[dict] = []
        for row in sites.itertuples():
            gain = float(getattr(row, "marginal_population", np.nan))
            category = getattr(row, "category", None)
            label = name(str(category)) if category in study.catalogue else str(category or "")
            rows_ = [["", f"{text['proposed']} {label}".strip()],
                     [text["rank"], str(int(row.rank))],
                     [text["gain"], "—" if not np.isfinite(gain) else f"{gain:,.0f}"]]  # fmt: skip
            site_props.append({"t": rows_, "p": rows_, "rank": int(row.rank)})
        layers.append(
            {
                "key": "sites",
                "group": text["sites"],
                "label": text["sites"],
                "show": True,
                "sites": True,
                "data": _collection(sites, site_props),
            }
        )

    if neighbourhoods is not None and len(neighbourhoods):
        areas = neighbourhoods.to_crs("EPSG:4326")
        names = (
            areas["name"].astype("string").fillna("").to_numpy()
            if "name" in areas
            else np.full(len(areas), "", dtype=object)
        )
        write = len(areas) <= LABEL_AT_MOST
        props = [{"label": str(n)} if write else {"t": [["", str(n)]]} for n in names]
        layers.append(
            {
                "key": "neighbourhoods",
                "group": text["neighbourhoods"],
                "label": text["neighbourhoods"],
                "show": True,
                "labels": write,
                "style": {"color": "#222222", "weight": 2, "fill": False, "dashArray": "4 4"},
                "data": _collection(areas, props),
            }
        )

    with_units = units is not None and "missing_count" in units
    if with_units and units is not None:  # first: drawn beneath, listed on top
        layers.insert(0, _units_layer(units.iloc[:-1], study, lang, text))

    for spec in layers:
        fmap.add_child(_layer(spec))
    fmap.add_child(_finish())
    title = text["title"].format(name=study.name)
    root = cast(Figure, fmap.get_root())
    root.header.add_child(_Text(f"<title>{html_text(title)}</title>"))
    legend = _legend(
        keys,
        colour,
        name,
        thresholds,
        text,
        breaks,
        bool(gap_frames),
        sites is not None and len(sites) > 0,
        with_units,
    )
    root.html.add_child(_Text(_overlay(title, legend)))
    fmap.default_js = [("leaflet", _CDN["leaflet"])]
    fmap.default_css = [("leaflet_css", _CDN["leaflet_css"])]
    if cluster_any:
        fmap.default_js.append(("markerclusterjs", _CDN["markerclusterjs"]))
        for asset in ("markerclustercss", "markerclusterdefaultcss"):
            fmap.default_css.append((asset, _CDN[asset]))
    fmap.self_contained = self_contained  # read by render()
    fmap.tiles_hosts = TILE_HOSTS if tiles == "osm" else ()
    return fmap


#: Fill of a unit by the number of services it misses: 0, 1, 2, 3-4, 5 and more.
UNIT_COLOURS = ("#1a9850", "#fee08b", "#fdae61", "#f46d43", "#a50f15")
#: The classes of :data:`UNIT_COLOURS`: the share of the assessed services a unit misses
#: (a share, not a count, so that a study of 5 categories and one of 37 read alike).
UNIT_CLASSES = ("0", "≤ 20 %", "20–40 %", "40–60 %", "> 60 %")


def _missing_class(share: float) -> int:
    """The :data:`UNIT_COLOURS` index of a unit missing ``share`` of the services assessed."""
    if not share > 1e-12:
        return 0
    return min(1 + int(np.searchsorted((0.2, 0.4, 0.6), share - 1e-12)), 4)


def _units_layer(units: gpd.GeoDataFrame, study: Study, lang: str, text: dict) -> dict:
    """The planning units coloured by their 缺配 count, named, with their row in a popup."""
    from service_circle.plan import BY_KEY

    zh = lang == "zh"
    write = len(units) <= LABEL_AT_MOST
    props = []
    for row in units.itertuples():
        missing = [k for k in str(row.missing).split(",") if k]
        fill = UNIT_COLOURS[_missing_class(1.0 - float(row.score))]
        popup = [
            ["", str(row.unit_name)],
            [text["township"], str(row.township)],
            [text["residents"], f"{row.residents:,.0f}"],
            [text["complete"], ("是" if zh else "yes") if row.complete else ("否" if zh else "no")],
            [text["missing"], ("、" if zh else ", ").join(
                study.catalogue[k].name(lang) for k in missing if k in study.catalogue) or "—"],
        ]  # fmt: skip
        for key, d in BY_KEY.items():
            value = getattr(row, key, None)
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                continue
            shown = (("是" if zh else "yes") if value else ("否" if zh else "no")) \
                if d.per_unit == "yes/no" else f"{float(value):,.2f}"  # fmt: skip
            popup.append([d.name_zh if zh else d.name_en, shown])
        prop: dict = {"p": popup, "s": {"fillColor": fill}}
        if write:
            prop["label"] = str(row.unit_name)
        else:
            prop["t"] = [["", str(row.unit_name)]]
        props.append(prop)
    return {
        "key": "units",
        "group": text["units"],
        "label": text["units"],
        "order": 200,
        "show": True,
        "labels": write,
        "style": {"color": "#333333", "weight": 1.5, "fillOpacity": 0.25},
        "data": _collection(units, props),
    }


def _as_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Proposed sites as numbered points.

    A lot drawn as a polygon is sited at a point inside it, and a file without a ``rank``
    (a planner's own list) is numbered in its order.
    """
    sites = sites.to_crs("EPSG:4326") if sites.crs is not None else sites.set_crs("EPSG:4326")
    geoms = sites.geometry.to_numpy()
    sites, _ = as_points(sites[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))].copy())
    rank = pd.to_numeric(sites["rank"], errors="coerce") if "rank" in sites else None
    if rank is None or not np.isfinite(rank.to_numpy(np.float64)).all():
        sites["rank"] = np.arange(1, len(sites) + 1)
    return sites


def save_map(fmap: folium.Map, path: str | Path) -> Path:
    """Write the map's HTML atomically."""
    from service_circle.folders import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(render(fmap))
    return path


def render(fmap: folium.Map) -> str:
    """The page as HTML (self-contained if the map was built so)."""
    page = fmap.get_root().render()
    return _embed(page) if getattr(fmap, "self_contained", False) else page


def page_policy(fmap: folium.Map, page: str) -> str:
    """The Content-Security-Policy header for a rendered map page."""
    from service_circle._escape import content_security_policy

    return content_security_policy(page, img_hosts=tuple(getattr(fmap, "tiles_hosts", ())))


# ---------------------------------------------------------------------- pieces
def _bounds(study: Study) -> tuple[float, float, float, float]:
    if not (len(study.demand) or len(study.facilities)):
        raise InputError(f"study {study.name!r} has neither demand points nor facilities")
    return study.extent()


def _collection(frame: gpd.GeoDataFrame, props: list[dict]) -> dict:
    """A FeatureCollection of ``frame``'s geometries (WGS-84) with prepared properties.

    Only the display rows (``t`` tooltip, ``p`` popup, ``s`` style, ``label``) travel to
    the page; empty geometries are left out.
    """
    geoms = frame.to_crs("EPSG:4326").geometry.to_numpy() if len(frame) else np.empty(0)
    if len(props) == 1 and len(geoms) > 1:
        props = props * len(geoms)
    features = []
    for geom, prop in zip(geoms, props, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        features.append(
            {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": prop}
        )
    return {"type": "FeatureCollection", "features": features}


def _pick(
    frame, key: str, thresholds: Sequence[Threshold], *, one_each: bool = False
) -> gpd.GeoDataFrame | None:
    """The rows of ``frame`` for a category and thresholds (in their order), or None.

    ``one_each``: every threshold must have a row (isochrones); else None (compute them).
    """
    if frame is None:
        return None
    parts = [
        frame[(frame["category"] == key) & (frame["threshold"] == t.value)
              & (frame["unit"] == t.unit)]
        for t in thresholds
    ]  # fmt: skip
    if one_each and any(len(part) != 1 for part in parts):
        return None
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=frame.crs)


def _gap_threshold(minutes: float, thresholds: Sequence[Threshold]) -> Threshold:
    own = [t for t in thresholds if t.is_time and t.value == minutes]
    return own[0] if own else thresholds[-1]


def _label(t: Threshold, text: dict) -> str:
    return f"{t.value:g} {text['min'] if t.is_time else text['m']}"


def _cost_label(value: float, cost: CostModel, text: dict) -> str:
    if value is None or not np.isfinite(value):
        return text["unreachable"]
    if cost.kind == "time":
        return f"{float(cost.to_minutes(value)):.1f} {text['min']}"
    return f"{value:,.0f} {text['m']}"


def _breaks(values: np.ndarray) -> np.ndarray:
    """Four class breaks (quantiles, rounded) for the gap choropleth."""
    if values.size == 0:
        return np.zeros(0)
    raw = np.quantile(values, [0.5, 0.75, 0.9, 0.97])
    return np.unique(np.array([_round_nice(v) for v in raw]))


def _round_nice(value: float) -> float:
    """Two significant digits (12 → 12, 1234 → 1200), for class breaks people read."""
    if value <= 0:
        return 0.0
    digits = int(np.floor(np.log10(value))) - 1
    return float(round(value, -digits)) if digits > 0 else float(round(value, max(0, -digits)))


def _fill_style(colour: str, opacity: float) -> dict:
    return {"fillColor": colour, "color": colour, "weight": 0.8, "fillOpacity": opacity}


def _marker_style(colour: str) -> dict:
    return {
        "radius": 6,
        "color": "#ffffff",
        "weight": 1.5,
        "fillColor": colour,
        "fillOpacity": 0.95,
    }


def _facility_rows(row, category_name: str, unit: str, text: dict) -> dict:
    """Tooltip and popup rows of a facility (name, category, capacity, source)."""
    name = getattr(row, "name", None)
    name = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    rows = [["", name or category_name]]
    if name:
        rows.append([text["category"], category_name])
    capacity = getattr(row, "capacity", None)
    if capacity is not None and not pd.isna(capacity):
        rows.append([text["capacity"], f"{float(capacity):,.0f} {unit}".strip()])
    source = getattr(row, "source", None)
    if source is not None and not pd.isna(source) and str(source):
        rows.append([text["source"], str(source)])
    return {"t": rows[:1], "p": rows}


def _legend(
    keys, colour, name, thresholds, text, breaks, with_gaps: bool, with_sites: bool,
    with_units: bool = False,
) -> str:  # fmt: skip
    """The legend's HTML: every swatch in the colour and opacity drawn."""
    shown = thresholds[: len(ISO_OPACITY)]
    head = "".join(f"<th>{html_text(_label(t, text))}</th>" for t in shown)
    rows = []
    for k in keys:
        boxes = "".join(
            f'<td><span class="sc-box" style="background:{colour[k]};'
            f'opacity:{min(1.0, ISO_OPACITY[i] * 2):.2f}"></span></td>'
            for i in range(len(shown))
        )
        rows.append(
            f'<tr><td><span class="sc-dot" style="background:{colour[k]}"></span>'
            f"{html_text(name(k))}</td>{boxes}</tr>"
        )
    table = (
        f'<table class="sc-legend-table"><tr><th>{html_text(text["facilities"])} · '
        f"{html_text(text['isochrones'])}</th>{head}</tr>{''.join(rows)}</table>"
    )
    gap_html = ""
    if with_gaps:
        bounds = [0.0, *[float(b) for b in breaks]]
        classes = []
        for i, colour_ in enumerate(GAP_COLOURS[: len(bounds)]):
            lo = bounds[i]
            label = f"≥ {lo:,.0f}" if i == len(bounds) - 1 else f"{lo:,.0f}–{bounds[i + 1]:,.0f}"
            classes.append(
                f'<div><span class="sc-box" style="background:{colour_};opacity:0.65"></span>'
                f"{html_text(label)}</div>"
            )
        gap_html = f"<div><b>{html_text(text['gap_scale'])}</b></div>{''.join(classes)}"
    site = (
        f'<div><span class="sc-site sc-site-small">1</span> {html_text(text["sites"])}</div>'
        if with_sites
        else ""
    )
    unit_html = ""
    if with_units:
        classes = [
            f'<div><span class="sc-box" style="background:{c};opacity:0.5"></span>'
            f"{html_text(label)}</div>"
            for c, label in zip(UNIT_COLOURS, UNIT_CLASSES, strict=True)
        ]
        unit_html = f"<div><b>{html_text(text['units'])}</b></div>{''.join(classes)}"
    return f"<b>{html_text(text['legend'])}</b>{table}{gap_html}{unit_html}{site}"


def _overlay(title: str, legend: str) -> str:
    return f"""
<style>
  .sc-title {{position:absolute;top:10px;left:50px;z-index:1000;background:#fff;
    padding:6px 12px;border-radius:4px;font:600 15px/1.3 sans-serif;
    box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:45%}}
  .sc-legend {{position:absolute;bottom:36px;left:10px;z-index:1000;background:#fff;
    padding:8px 10px;border-radius:4px;font:12px/1.5 sans-serif;max-height:40%;
    max-width:40%;overflow:auto;box-shadow:0 1px 4px rgba(0,0,0,.3)}}
  .sc-legend-table th {{font-weight:400;color:#555;text-align:left;padding:0 4px 0 0}}
  .sc-legend-table td {{padding:0 4px 0 0;white-space:nowrap}}
  .sc-dot {{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;
    border:1px solid #fff;box-shadow:0 0 0 1px #999}}
  .sc-box {{display:inline-block;width:14px;height:10px;margin-right:6px}}
  .sc-site {{width:24px;height:24px;border-radius:4px;background:#000;color:#ffeb3b;
    font:700 13px/24px sans-serif;text-align:center;border:2px solid #ffeb3b;
    box-sizing:border-box}}
  .sc-site-small {{display:inline-block;width:16px;height:16px;line-height:12px;font-size:10px}}
  .sc-layers {{background:#fff;padding:6px 8px;font:12px/1.5 sans-serif;
    max-height:calc(100vh - 140px);overflow-y:auto;min-width:150px;max-width:260px}}
  .sc-layers-title {{font-weight:600;margin-bottom:2px}}
  .sc-layers summary {{cursor:pointer;font-weight:600;white-space:nowrap}}
  .sc-layers label {{display:block;margin-left:14px;white-space:nowrap;cursor:pointer}}
  .sc-rows th {{font-weight:400;color:#555;text-align:left;padding-right:8px}}
  .sc-rows td {{font-weight:600}}
  .sc-unit-label {{background:rgba(255,255,255,.75);border:0;box-shadow:none;
    font:600 12px sans-serif;color:#222;padding:0 3px}}
  .sc-unit-label:before {{display:none}}
  .leaflet-control-attribution {{font-size:11px;background:rgba(255,255,255,.9)}}
</style>
<div class="sc-title" id="sc-title">{html_text(title)}</div>
<div class="sc-legend" id="sc-legend">{legend}</div>
"""


# the page's own script: layers from prepared JSON, text only through textContent
_RUNTIME = """
function (map, cfg) {
  var sc = {map: map, layers: {}, entries: [], cfg: cfg};
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function rows(list) {
    var table = el('table', 'sc-rows');
    (list || []).forEach(function (row) {
      var tr = el('tr');
      if (row[0]) {
        tr.appendChild(el('th', null, row[0]));
        tr.appendChild(el('td', null, row[1]));
      } else {
        var td = el('td', null, row[1]);
        td.colSpan = 2;
        tr.appendChild(td);
      }
      table.appendChild(tr);
    });
    return table;
  }
  function siteIcon(rank) {
    var box = el('div', 'sc-site', rank);
    return L.divIcon({html: box, className: '', iconSize: [24, 24], iconAnchor: [12, 12]});
  }
  sc.el = el;
  sc.rows = rows;
  sc.add = function (spec) {
    var layer = L.geoJSON(spec.data, {
      style: function (f) {
        return Object.assign({}, spec.style || {}, (f.properties || {}).s || {});
      },
      pointToLayer: function (f, latlng) {
        var p = f.properties || {};
        if (spec.sites) return L.marker(latlng, {icon: siteIcon(p.rank)});
        return L.circleMarker(latlng, Object.assign({}, spec.marker || {}, p.s || {}));
      },
      onEachFeature: function (f, l) {
        var p = f.properties || {};
        if (spec.labels && p.label) {
          l.bindTooltip(el('span', null, p.label),
                        {permanent: true, direction: 'center', className: 'sc-unit-label'});
        } else if (p.t && p.t.length) {
          l.bindTooltip(function () { return rows(p.t); }, {sticky: true});
        }
        if (p.p && p.p.length) l.bindPopup(function () { return rows(p.p); }, {maxWidth: 320});
      }
    });
    var shown = layer;
    if (spec.cluster && L.markerClusterGroup) {
      shown = L.markerClusterGroup();
      shown.addLayer(layer);
    }
    sc.layers[spec.key] = shown;
    sc.entries.push({key: spec.key, group: spec.group, colour: spec.colour,
                     label: spec.label, order: spec.order || 0, layer: shown});
    if (spec.show) shown.addTo(map);
  };
  sc.finish = function () {
    var Control = L.Control.extend({
      options: {position: 'topright'},
      onAdd: function () {
        var box = el('div', 'sc-layers leaflet-bar');
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        box.appendChild(el('div', 'sc-layers-title', cfg.layers_title));
        var groups = {}, order = [];
        sc.entries.forEach(function (e) {
          if (!groups[e.group]) { groups[e.group] = []; order.push(e.group); }
          groups[e.group].push(e);
        });
        order.forEach(function (name) {
          var entries = groups[name].slice().sort(function (a, b) { return a.order - b.order; });
          var details = el('details', 'sc-group');
          details.open = order.length <= 4 || entries.some(function (e) {
            return map.hasLayer(e.layer);
          });
          var summary = el('summary');
          if (entries[0].colour) {
            var dot = el('span', 'sc-dot');
            dot.style.background = entries[0].colour;
            summary.appendChild(dot);
          }
          summary.appendChild(document.createTextNode(name));
          details.appendChild(summary);
          entries.forEach(function (e) {
            var label = el('label', 'sc-layer');
            var input = el('input');
            input.type = 'checkbox';
            input.checked = map.hasLayer(e.layer);
            input.setAttribute('data-layer', e.key);
            input.addEventListener('change', function () {
              if (input.checked) map.addLayer(e.layer); else map.removeLayer(e.layer);
            });
            label.appendChild(input);
            label.appendChild(document.createTextNode(' ' + e.label));
            details.appendChild(label);
          });
          box.appendChild(details);
        });
        return box;
      }
    });
    sc.control = new Control().addTo(map);
    L.control.scale({metric: true, imperial: false}).addTo(map);
    if (cfg.tiles) L.tileLayer(cfg.tiles, {maxZoom: 19}).addTo(map);
    map.attributionControl.addAttribution(cfg.attribution);
  };
  return sc;
}
"""


class _Text(Element):
    """Text already rendered: written as it is, never read as a template."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _Box(Element):
    """A page's header, body or script: each part is written as it was rendered.

    branca hands every rendered macro (folium's scripts, ours) back to its figure as a *new*
    Jinja2 template, so that text from the data inside it (``{{ … }}`` in a POI name) would
    be evaluated on the second pass. Here a plain :class:`~branca.element.Element` made from
    text is written verbatim; only real elements (script and style links) render.
    """

    def render(self, **kwargs) -> str:
        parts = []
        for child in self._children.values():
            text = getattr(child, "_template_str", None)
            parts.append(text if type(child) is Element and text is not None
                         else child.render(**kwargs))  # fmt: skip
        return "".join(parts)


class _Figure(Figure):
    """A figure whose header, body and script never re-evaluate what they hold."""

    def __init__(self) -> None:
        super().__init__()
        for part in ("header", "html", "script"):
            box = _Box()
            box._parent = self
            for name, child in getattr(self, part)._children.items():
                box.add_child(child, name=name)
            setattr(self, part, box)


class _Map(folium.Map):
    """A folium map that knows whether to embed its scripts and where its tiles come from.

    Its page is a :class:`_Figure`: no string from the data reaches a template engine.
    """

    self_contained: bool = False
    tiles_hosts: tuple[str, ...] = ()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        _Figure().add_child(self)


class _Script(MacroElement):
    """A script of the page, written as it is: never compiled or rendered as a template.

    ``code`` is called with the JavaScript name of the map when the page is rendered.
    """

    def __init__(self, name: str, code: Callable[[str], str]):
        super().__init__()
        self._name = name
        self.code = code

    def render(self, **kwargs) -> str:
        parent = self._parent
        assert parent is not None, "a script belongs to a map"
        root = cast(Figure, self.get_root())
        root.script.add_child(_Text(self.code(parent.get_name())), name=self.get_name())
        return ""


def _runtime(config: dict) -> _Script:
    """``window.serviceCircle``: the layer registry, the drawing code and the control."""
    data = json_for_script(config)
    return _Script("ServiceCircleRuntime",
                   lambda m: f"window.serviceCircle = ({_RUNTIME})({m}, {data});")  # fmt: skip


def _layer(spec: dict) -> _Script:
    """One layer, drawn by the runtime from its prepared FeatureCollection."""
    data = json_for_script(spec)
    return _Script("ServiceCircleLayer", lambda _: f"window.serviceCircle.add({data});")


def _finish() -> _Script:
    """The grouped layer control, the metric scale bar and the attribution."""
    return _Script("ServiceCircleFinish", lambda _: "window.serviceCircle.finish();")


def _asset(name: str) -> str:
    package, filename = _ASSETS[name]
    module = import_module(f"xstatic.pkg.{package}")
    text = (Path(module.BASE_DIR) / filename).read_text(encoding="utf-8")
    if name == "leaflet_css":  # the control icons, as data URIs
        for image in ("layers.png", "layers-2x.png"):
            data = (Path(module.BASE_DIR) / "images" / image).read_bytes()
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            text = text.replace(f"images/{image}", uri)
    return text


_TAG = re.compile(
    r'<script src="(?P<js>[^"]+)"></script>|<link rel="stylesheet" href="(?P<css>[^"]+)"/>'
)


def _embed(page: str) -> str:
    """Inline the assets the map links (Leaflet, markercluster) from the XStatic packages."""
    known = {url: name for name, url in _CDN.items()}

    def inline(match: re.Match) -> str:
        url = match.group("js") or match.group("css")
        name = known.get(url)
        if name is None:
            raise InputError(f"the map links {url}, which has no packaged copy to embed")
        body = _asset(name)
        if match.group("js"):
            return f"<script>{body}</script>"
        return f"<style>{body}</style>"

    return _TAG.sub(inline, page)
