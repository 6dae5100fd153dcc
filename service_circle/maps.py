"""Folium maps of a study: facilities, isochrones, gaps, proposed sites, neighbourhoods.

The page is bilingual (``lang="zh"`` or ``"en"``), carries the OSM attribution, a layer
control, a legend and a title. It draws circle markers and small HTML labels only, so it
needs Leaflet (and Leaflet.markercluster where facilities are dense) and nothing else:
Bootstrap, Font Awesome and the awesome-markers plugin that folium links by default are
dropped.

``self_contained=True`` embeds those scripts and styles in the page, taken at run time
from the XStatic packages installed from PyPI (Leaflet 1.9.3, Leaflet.markercluster 1.4.1,
jQuery 3.7.1 — folium's own versions), so the page works on an intranet without internet.
With ``tiles="none"`` nothing at all is loaded from the network.

Each layer is registered in ``window.serviceCircle.layers`` (name → Leaflet layer) so that
a browser test can count what was drawn.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Literal

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from service_circle._errors import InputError
from service_circle.profiles import Profile, Threshold, get_profile
from service_circle.sample import ATTRIBUTION
from service_circle.study import Study

#: Colours of the categories, in catalogue order (distinct on a light base map).
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354", "#756bb1", "#636363",
)  # fmt: skip
#: Above this many facilities in a category, its markers are clustered.
CLUSTER_ABOVE = 50
#: Isochrone fill opacity from the shortest threshold to the longest (graded).
ISO_OPACITY = (0.45, 0.3, 0.18, 0.12, 0.08, 0.05)
#: Gap choropleth classes (population), light to dark.
GAP_COLOURS = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")

_TEXT = {
    "zh": {
        "title": "一刻钟便民生活圈 — {name}",
        "facilities": "设施",
        "isochrones": "步行可达范围",
        "gaps": "覆盖缺口（人口）",
        "sites": "拟新增设施",
        "neighbourhoods": "社区边界",
        "population": "人口",
        "group_population": "服务人群",
        "nearest": "最近设施用时",
        "rank": "排序",
        "gain": "新增覆盖人口",
        "capacity": "容量",
        "source": "来源",
        "minutes": "分钟",
        "metres": "米",
        "unreachable": "不可达",
        "legend": "图例",
        "none": "无底图",
    },
    "en": {
        "title": "15-minute living circle — {name}",
        "facilities": "facilities",
        "isochrones": "walkable area",
        "gaps": "coverage gaps (population)",
        "sites": "proposed sites",
        "neighbourhoods": "neighbourhoods",
        "population": "population",
        "group_population": "group served",
        "nearest": "nearest facility",
        "rank": "rank",
        "gain": "newly covered",
        "capacity": "capacity",
        "source": "source",
        "minutes": "min",
        "metres": "m",
        "unreachable": "unreachable",
        "legend": "legend",
        "none": "no base map",
    },
}

# the assets a map uses: name in folium → (XStatic package, file)
_ASSETS = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "jquery": ("jquery", "jquery.min.js"),
    "markerclusterjs": ("leaflet_markercluster", "leaflet.markercluster.js"),
    "markerclustercss": ("leaflet_markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet_markercluster", "MarkerCluster.Default.css"),
}
_MAP_JS = [(k, u) for k, u in folium.Map.default_js if k in ("leaflet", "jquery")]
_MAP_CSS = [(k, u) for k, u in folium.Map.default_css if k == "leaflet_css"]


def study_map(
    study: Study,
    *,
    categories: Sequence[str] | None = None,
    thresholds: Sequence[Threshold] | None = None,
    profile: str | Profile | None = None,
    lang: Literal["zh", "en"] = "zh",
    tiles: Literal["osm", "none"] = "osm",
    self_contained: bool = False,
    sites: gpd.GeoDataFrame | None = None,
    neighbourhoods: gpd.GeoDataFrame | None = None,
    gaps_threshold: Threshold | None = None,
    computed_isochrones: gpd.GeoDataFrame | None = None,
    computed_gaps: gpd.GeoDataFrame | None = None,
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
        ``"osm"`` (OpenStreetMap tiles) or ``"none"`` (no base map, nothing from the
        network; for offline use).
    self_contained
        Embed Leaflet and its plugins in the page (see the module docstring).
    sites
        Proposed sites (from :func:`~service_circle.siting.site_study`): ``rank``,
        ``marginal_population``, ``category``.
    neighbourhoods
        Community boundaries (polygons, with a ``name`` column if there is one).
    gaps_threshold
        The threshold of the gap layer (default: each category's own circle minutes when
        they are among ``thresholds``, else the longest of ``thresholds``).
    computed_isochrones, computed_gaps
        Outputs of :func:`~service_circle.coverage.isochrones` and
        :func:`~service_circle.coverage.gaps` already at hand (``analyze`` has them): the
        rows of each category and threshold are taken from them instead of computed again.
    """
    from service_circle.coverage import gaps, isochrones

    if lang not in _TEXT:
        raise InputError(f"lang must be 'zh' or 'en', got {lang!r}")
    if tiles not in ("osm", "none"):
        raise InputError(f"tiles must be 'osm' or 'none', got {tiles!r}")
    text = _TEXT[lang]
    prof = get_profile(profile)
    present = set(study.facilities["category"])
    keys = list(categories) if categories else [c.key for c in study.catalogue if c.key in present]
    for key in keys:
        study.catalogue[key]
    thresholds = list(thresholds or [Threshold.minutes(m) for m in (5, 10, 15)])
    thresholds.sort(key=lambda t: t.cost_limit(prof))
    colour = {c.key: PALETTE[i % len(PALETTE)] for i, c in enumerate(study.catalogue)}

    west, south, east, north = _bounds(study)
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    fmap.default_js, fmap.default_css = list(_MAP_JS), list(_MAP_CSS)
    fmap.fit_bounds([[south, west], [north, east]])
    if tiles == "osm":
        folium.TileLayer(
            "OpenStreetMap", name="OpenStreetMap", attr=ATTRIBUTION, control=True
        ).add_to(fmap)
    registry: dict[str, str] = {}

    def name(cat_key: str) -> str:
        cat = study.catalogue[cat_key]
        return cat.name_zh if lang == "zh" else cat.name_en

    # isochrones, widest first so the narrower ones sit on top
    for key in keys:
        iso = _pick(computed_isochrones, key, thresholds, one_each=True)
        if iso is None:
            iso = isochrones(study, key, thresholds, profile=prof)
        for i in reversed(range(len(iso))):
            row = iso.iloc[[i]]
            t = thresholds[i]
            label = f"{text['isochrones']} · {name(key)} · {_label(t, text)}"
            layer = folium.GeoJson(
                _geojson(row[["threshold", "unit", "area_km2", "geometry"]]),
                name=label,
                style_function=_fill(colour[key], ISO_OPACITY[min(i, len(ISO_OPACITY) - 1)]),
                show=i == len(iso) - 1 and key == keys[0],
            ).add_to(fmap)
            registry[f"isochrones/{key}/{t.label}"] = layer.get_name()

    # gaps: a population choropleth with tooltips
    for key in keys:
        cat = study.catalogue[key]
        threshold = gaps_threshold or _gap_threshold(cat.minutes, thresholds)
        gap = _pick(computed_gaps, key, [threshold])
        if gap is None:
            gap = gaps(study, key, threshold, profile=prof)
        gap = gap[~gap.geometry.is_empty & gap.geometry.notna()]
        if gap.empty:
            continue
        cost = "nearest_time_s" if threshold.is_time else "nearest_distance_m"
        shown = gap[["rank", "population", "group_population", cost, "geometry"]].copy()
        shown["population"] = shown["population"].round(0)
        shown["group_population"] = shown["group_population"].round(1)
        shown["nearest"] = [_cost_label(v, threshold.is_time, text) for v in shown[cost]]
        breaks = _breaks(shown["population"].to_numpy())
        shown["fill"] = [GAP_COLOURS[int(np.searchsorted(breaks, v, side="right"))]
                         for v in shown["population"]]  # fmt: skip
        layer = folium.GeoJson(
            _geojson(shown.drop(columns=[cost])),
            name=f"{text['gaps']} · {name(key)} · {threshold.label}",
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "color": "#a50f15",
                "weight": 0.6,
                "fillOpacity": 0.65,
            },
            tooltip=folium.GeoJsonTooltip(
                ["rank", "population", "group_population", "nearest"],
                aliases=[
                    text["rank"],
                    text["population"],
                    text["group_population"],
                    text["nearest"],
                ],
            ),
            show=False,
        ).add_to(fmap)
        registry[f"gaps/{key}"] = layer.get_name()

    # facilities: circle markers, clustered where dense
    for key in keys:
        rows = study.facilities[study.facilities["category"] == key]
        group = folium.FeatureGroup(name=f"{text['facilities']} · {name(key)}", show=True)
        holder = (
            folium.plugins.MarkerCluster(control=False).add_to(group)
            if len(rows) > CLUSTER_ABOVE
            else group
        )
        for row in rows.itertuples():
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=6,
                color="#ffffff",
                weight=1.5,
                fill=True,
                fill_color=colour[key],
                fill_opacity=0.95,
                popup=folium.Popup(_facility_popup(row, study, key, text), max_width=320),
                tooltip=str(getattr(row, "name", "") or name(key)),
            ).add_to(holder)
        group.add_to(fmap)
        registry[f"facilities/{key}"] = holder.get_name()

    if sites is not None and len(sites):
        group = folium.FeatureGroup(name=text["sites"], show=True)
        for row in sites.to_crs("EPSG:4326").itertuples():
            gain = float(getattr(row, "marginal_population", np.nan))
            tip = f"{text['rank']} {row.rank} · {text['gain']} {gain:,.0f}"
            folium.Marker(
                [row.geometry.y, row.geometry.x],
                icon=folium.DivIcon(
                    html=('<div class="sc-site">' + str(int(row.rank)) + "</div>"),
                    icon_size=(24, 24),
                    icon_anchor=(12, 12),
                ),
                tooltip=tip,
                popup=folium.Popup(html.escape(tip), max_width=260),
            ).add_to(group)
        group.add_to(fmap)
        registry["sites"] = group.get_name()

    if neighbourhoods is not None and len(neighbourhoods):
        cols = [c for c in ("name",) if c in neighbourhoods.columns]
        layer = folium.GeoJson(
            _geojson(neighbourhoods.to_crs("EPSG:4326")[[*cols, "geometry"]]),
            name=text["neighbourhoods"],
            style_function=lambda f: {
                "color": "#222222",
                "weight": 2,
                "fill": False,
                "dashArray": "4 4",
            },
            tooltip=folium.GeoJsonTooltip(cols) if cols else None,
        ).add_to(fmap)
        registry["neighbourhoods"] = layer.get_name()

    folium.LayerControl(collapsed=len(keys) > 3).add_to(fmap)
    title = _TEXT[lang]["title"].format(name=study.name)
    fmap.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"))
    fmap.get_root().html.add_child(Element(_overlay(title, keys, colour, name, thresholds,
                                                    text, tiles)))  # fmt: skip
    fmap.add_child(_Registry(registry))
    if self_contained:
        fmap.self_contained = True  # read by render()
    return fmap


def save_map(fmap: folium.Map, path: str | Path) -> Path:
    """Write the map's HTML atomically."""
    from service_circle.io import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(render(fmap))
    return path


def render(fmap: folium.Map) -> str:
    """The page as HTML (self-contained if the map was built so)."""
    page = fmap.get_root().render()
    return _embed(page) if getattr(fmap, "self_contained", False) else _drop_unused(page)


# ---------------------------------------------------------------------- pieces
def _bounds(study: Study) -> tuple[float, float, float, float]:
    frames = [f for f in (study.demand, study.facilities) if len(f)]
    if not frames:
        raise InputError(f"study {study.name!r} has neither demand points nor facilities")
    b = np.array([f.total_bounds for f in frames])
    b = b[np.all(np.isfinite(b), axis=1)]
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


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
    return f"{t.value:g} {text['minutes'] if t.is_time else text['metres']}"


def _cost_label(value: float, is_time: bool, text: dict) -> str:
    if value is None or not np.isfinite(value):
        return text["unreachable"]
    return f"{value / 60:.1f} {text['minutes']}" if is_time else f"{value:,.0f} {text['metres']}"


def _breaks(values: np.ndarray) -> np.ndarray:
    """Four class breaks (quantiles) for the gap choropleth."""
    if values.size == 0:
        return np.zeros(len(GAP_COLOURS) - 1)
    return np.unique(np.quantile(values, [0.5, 0.75, 0.9, 0.97]))


def _geojson(frame: gpd.GeoDataFrame) -> dict:
    frame = frame.to_crs("EPSG:4326")
    return json.loads(frame.to_json(na="null", drop_id=True))


def _fill(colour: str, opacity: float):
    def style(_feature):
        return {"fillColor": colour, "color": colour, "weight": 0.8, "fillOpacity": opacity}

    return style


def _facility_popup(row, study: Study, key: str, text: dict) -> str:
    cat = study.catalogue[key]
    fields = [
        ("", str(getattr(row, "name", "") or "")),
        ("", f"{cat.name_zh} / {cat.name_en}"),
    ]
    capacity = getattr(row, "capacity", None)
    if capacity is not None and not (isinstance(capacity, float) and np.isnan(capacity)):
        fields.append((text["capacity"], f"{capacity:g} {cat.capacity_unit}"))
    source = getattr(row, "source", None)
    if source:
        fields.append((text["source"], str(source)))
    lines = [
        f"<b>{html.escape(k)}</b> {html.escape(v)}" if k else html.escape(v) for k, v in fields if v
    ]
    return "<br>".join(lines)


def _overlay(title, keys, colour, name, thresholds, text, tiles) -> str:
    swatches = "".join(
        f'<div><span class="sc-dot" style="background:{colour[k]}"></span>{html.escape(name(k))}'
        "</div>"
        for k in keys
    )
    grades = "".join(
        f'<div><span class="sc-box" style="background:#555;opacity:{ISO_OPACITY[i]}"></span>'
        f"{html.escape(_label(t, text))}</div>"
        for i, t in enumerate(thresholds[: len(ISO_OPACITY)])
    )
    gap_boxes = "".join(f'<span class="sc-box" style="background:{c}"></span>' for c in GAP_COLOURS)
    attribution = (
        f'<div class="sc-attribution">{html.escape(ATTRIBUTION)}</div>' if tiles == "none" else ""
    )
    return f"""
<style>
  .sc-title {{position:absolute;top:10px;left:50px;z-index:1000;background:#fff;
    padding:6px 12px;border-radius:4px;font:600 15px/1.3 sans-serif;
    box-shadow:0 1px 4px rgba(0,0,0,.3)}}
  .sc-legend {{position:absolute;bottom:56px;left:10px;z-index:1000;background:#fff;
    padding:8px 10px;border-radius:4px;font:12px/1.5 sans-serif;max-height:45%;
    overflow:auto;box-shadow:0 1px 4px rgba(0,0,0,.3)}}
  .sc-dot {{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;
    border:1px solid #fff;box-shadow:0 0 0 1px #999}}
  .sc-box {{display:inline-block;width:14px;height:10px;margin-right:6px}}
  .sc-site {{width:24px;height:24px;border-radius:4px;background:#000;color:#ffeb3b;
    font:700 13px/24px sans-serif;text-align:center;border:2px solid #ffeb3b}}
  .sc-attribution {{position:absolute;bottom:0;right:0;z-index:1000;background:#fff;
    padding:0 5px;font:11px sans-serif;opacity:.85}}
</style>
<div class="sc-title" id="sc-title">{html.escape(title)}</div>
<div class="sc-legend" id="sc-legend"><b>{html.escape(text["legend"])}</b>
  <div>{html.escape(text["facilities"])}</div>{swatches}
  <div>{html.escape(text["isochrones"])}</div>{grades}
  <div>{html.escape(text["gaps"])}</div><div>{gap_boxes}</div>
  <div><span class="sc-site" style="display:inline-block;width:16px;height:16px;
    line-height:16px;font-size:10px">1</span> {html.escape(text["sites"])}</div>
</div>
{attribution}
"""


class _Registry(MacroElement):
    """``window.serviceCircle.layers``: layer names → Leaflet layers, for tests and scripts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.serviceCircle = {map: {{ this._parent.get_name() }}, layers: {
        {%- for key, var in this.layers.items() %}
            {{ key|tojson }}: {{ var }},
        {%- endfor %}
        }};
        {% endmacro %}
        """
    )

    def __init__(self, layers: dict[str, str]):
        super().__init__()
        self._name = "ServiceCircleRegistry"
        self.layers = layers


def _asset(name: str) -> str:
    package, filename = _ASSETS[name]
    module = import_module(f"xstatic.pkg.{package}")
    text = (Path(module.BASE_DIR) / filename).read_text(encoding="utf-8")
    if name == "leaflet_css":  # the layer control's icons, as data URIs
        for image in ("layers.png", "layers-2x.png"):
            data = (Path(module.BASE_DIR) / "images" / image).read_bytes()
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            text = text.replace(f"images/{image}", uri)
    return text


_TAG = re.compile(
    r'<script src="(?P<js>[^"]+)"></script>|<link rel="stylesheet" href="(?P<css>[^"]+)"/>'
)


def _known_urls() -> dict[str, str]:
    urls = dict(folium.Map.default_js + folium.Map.default_css)
    urls |= dict(folium.plugins.MarkerCluster.default_js + folium.plugins.MarkerCluster.default_css)
    return {url: name for name, url in urls.items()}


def _drop_unused(page: str) -> str:
    """Remove links to assets the map does not use (folium adds some by default)."""
    known = _known_urls()

    def keep(match: re.Match) -> str:
        url = match.group("js") or match.group("css")
        return match.group(0) if known.get(url) in _ASSETS or url not in known else ""

    return _TAG.sub(keep, page)


def _embed(page: str) -> str:
    """Inline the assets the map uses; drop the rest of folium's defaults."""
    known = _known_urls()

    def inline(match: re.Match) -> str:
        url = match.group("js") or match.group("css")
        name = known.get(url)
        if name not in _ASSETS:
            if url in known:
                return ""
            raise InputError(f"the map links {url}, which has no packaged copy to embed")
        body = _asset(name)
        if match.group("js"):
            return f"<script>{body}</script>"
        return f"<style>{body}</style>"

    return _TAG.sub(inline, page)
