"""Every command on a study with everything at once (issue 30, the matrix).

One study over the Guixi extract built with heights from a DEM (``--dem``), crossings of
major roads (``--crossings``), planning units with a township file, facilities with opening
hours, and the drive network for the township tier; then each command a planner runs on it,
in both languages and with the options that touch each of those parts. Each must finish
(exit 0, no traceback) and write what it says. ``analyze`` crashed on such a study (a
median of "unreachable" minutes printed as a whole number).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import GUIXI, shared_file
from test_terrain import hill_dem

from service_circle.cli import main
from service_circle.network import load_network

pytestmark = pytest.mark.slow

UNIT_COLUMNS = "name=社区,code=编码,population=人口数,households=户"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("matrix")
    pbf = shared_file(f"{GUIXI}.osm.pbf")
    west = shapely.box(117.19, 28.28, 117.225, 28.32)
    east = shapely.box(117.225, 28.28, 117.26, 28.32)
    gpd.GeoDataFrame({"社区": ["城东社区", "塘湾村"], "编码": ["360681001", "360681002"],
                      "人口数": [6000, 1500], "户": [2000, 500]},
                     geometry=[west, east], crs=4326).to_file(folder / "units.geojson")  # fmt: skip
    gpd.GeoDataFrame({"名称": ["雄石街道"]}, geometry=[west.union(east)], crs=4326).to_file(
        folder / "towns.geojson"
    )
    pd.DataFrame({
        "名称": ["城东社区服务站", "城东老年食堂", "城东托育园", "雄石大药房", "夜间药店",
                 "雄石卫生院", "城西敬老院"],
        "类别": ["community_service", "elderly_canteen", "childcare", "pharmacy", "pharmacy",
                 "township_health_centre", "nursing_home"],
        "lon": [117.2072, 117.2126, 117.215, 117.22, 117.24, 117.23, 117.191],
        "lat": [28.3008, 28.2927, 28.295, 28.298, 28.30, 28.301, 28.281],  # the last: 420 m out
        "建筑面积": [900, 300, 400, None, None, None, None],
        "托位数": [None, None, 45, None, None, None, None],
        "营业时间": [None, "11:00-13:00", "周一至周五 07:30-18:00", "08:00-21:00", "00:00-24:00",
                     "24/7", None],
    }).to_csv(folder / "bureau.csv", index=False)  # fmt: skip
    dem = hill_dem(load_network(pbf), folder / "hill.tif")
    demand = folder / "demand.geojson"
    assert main(["demand", "--buildings", str(pbf), "--out", str(demand)]) == 0
    study = folder / "study"
    assert main(["build", "--network", str(pbf), "--facilities", str(pbf), "--facilities",
                 str(folder / "bureau.csv"), "--input-crs", "wgs84", "--demand", str(demand),
                 "--units", str(folder / "units.geojson"), "--unit-columns", UNIT_COLUMNS,
                 "--townships", str(folder / "towns.geojson"), "--dem", str(dem),
                 "--crossings", "--out", str(study)]) == 0  # fmt: skip
    return {"pbf": pbf, "dem": dem, "demand": demand, "study": study,
            "bureau": folder / "bureau.csv"}  # fmt: skip


COMMANDS = {
    "analyze": (["analyze", "--study", "{study}", "--out", "{out}"], ["report.xlsx", "map.html"]),
    "analyze-en-subset": (
        ["analyze", "--study", "{study}", "--lang", "en", "--category", "pharmacy",
         "--category", "elderly_canteen", "--out", "{out}"], ["report.html", "units.csv"]),
    "analyze-road-at": (
        ["analyze", "--study", "{study}", "--road", "--road-network", "{pbf}", "--at",
         "周二 23:00", "--unknown-hours", "closed", "--out", "{out}"],
        ["road_circle.csv", "report.json"]),
    "analyze-metres": (["analyze", "--study", "{study}", "--metres", "300,500,1000",
                        "--out", "{out}"], ["coverage.csv"]),
    "site": (["site", "--study", "{study}", "--category", "elderly_canteen", "--p", "1",
              "--out", "{out}"], ["sites.geojson", "summary.json"]),
    "site-share": (["site", "--study", "{study}", "--category", "pharmacy", "--target-share",
                    "0.5", "--out", "{out}"], ["sites.geojson"]),
    "map": (["map", "--study", "{study}", "--out", "{out}/map.html"], ["map.html"]),
    "map-en": (["map", "--study", "{study}", "--lang", "en", "--category", "pharmacy",
                "--out", "{out}/map.html"], ["map.html"]),
    "times": (["times", "--network", "{pbf}", "--dem", "{dem}", "--crossings", "--facilities",
               "{bureau}", "--input-crs", "wgs84", "--points", "{demand}", "--out",
               "{out}/times.csv"], ["times.csv"]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_on_a_study_with_hills_crossings_units_and_hours(
    name, inputs, tmp_path, capsys
):
    args, files = COMMANDS[name]
    out = tmp_path / "out"
    if args[-1].startswith("{out}/"):
        out.mkdir()
    values = {k: str(v) for k, v in inputs.items()} | {"out": str(out)}
    rc = main([a.format(**values) for a in args])
    captured = capsys.readouterr()
    assert rc == 0, captured.err[-2000:]
    assert "Traceback" not in captured.out + captured.err
    for file in files:
        assert (out / file).is_file(), (file, sorted(p.name for p in out.iterdir()))
    if name == "analyze":  # the terrain's section, in the console and in the report
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        assert report["terrain_effect"]["summary"]
        assert "地形" in captured.out or "过街" in captured.out


def test_a_moment_narrows_who_can_reach_never_what_exists(inputs, tmp_path):
    """At 23:00 the childcare centre is closed: its places still exist (1.90 → 0.47 per
    1000 before), and a service nobody can reach open then is missing, not dropped."""
    reports, units = {}, {}
    for label, extra in (("all", []), ("night", ["--at", "周二 23:00"])):
        out = tmp_path / label
        assert main(["analyze", "--study", str(inputs["study"]), "--lang", "en", *extra,
                     "--out", str(out)]) == 0  # fmt: skip
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        reports[label] = {i["key"]: i for i in report["indicators"]}
        units[label] = pd.read_csv(out / "units.csv", encoding="utf-8-sig")
    for key in ("childcare_places_per_1000", "community_service_area_per_100_households"):
        assert reports["night"][key]["value"] == pytest.approx(reports["all"][key]["value"]), key
        assert reports["all"][key]["value"] > 0
    missing = {label: [set(filter(None, str(m).split(", "))) for m in
                       frame.iloc[:-1]["missing"].fillna("")]
               for label, frame in units.items()}  # fmt: skip
    for day, night in zip(missing["all"], missing["night"], strict=True):
        assert day <= night  # closed at night: missing then too, never dropped


def test_siting_starts_from_the_figure_the_report_gives(inputs, tmp_path, capsys):
    """The elderly canteen is judged at the elderly's pace: siting used the adult's."""
    analysis = tmp_path / "analysis"
    assert main(["analyze", "--study", str(inputs["study"]), "--out", str(analysis)]) == 0
    coverage = json.loads((analysis / "coverage.json").read_text(encoding="utf-8"))
    judged = [r for r in coverage if r["category"] == "elderly_canteen" and r["judged"]]
    assert len(judged) == 1 and judged[0]["profile"] == "elderly"
    capsys.readouterr()
    out = tmp_path / "site"
    assert main(["site", "--study", str(inputs["study"]), "--category", "elderly_canteen",
                 "--p", "1", "--out", str(out)]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["profile"] == "elderly"
    assert summary["share_before"] == pytest.approx(judged[0]["group_share"])
    said = capsys.readouterr().out
    assert "老年人" in said and "新增老年食堂" in said  # the study's language


def test_a_facility_off_the_network_is_named_with_its_reason(inputs, tmp_path, capsys):
    """Every resident showed 路网不可达 for 养老院 with an English warning naming neither the
    category nor the institution 420 m from the streets."""
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    out = tmp_path / "out"
    assert main(["analyze", "--study", str(inputs["study"]), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "养老院" in err and "城西敬老院" in err and "距最近道路超过 300 米" in err, err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    unplaced = report["unplaced_facilities"]
    assert [(u["name"], u["category"], u["status"]) for u in unplaced] == [
        ("城西敬老院", "nursing_home", "off_network")]  # fmt: skip
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id='unplaced'" in page and "城西敬老院" in page and "未接入路网" in page
    app = create_app(Settings(studies_dir=inputs["study"].parent, compute_processes=False))
    with TestClient(app) as client:
        unit = client.get("/studies/study/units/360681001").json()
    assert [u["name"] for u in unit["unplaced"]] == ["城西敬老院"]


#: Words a Chinese reader meets as they are: names of data, standards and their licence.
PROPER = {"OSM", "OpenStreetMap", "ODbL", "contributors", "EPSG", "WGS", "GCJ", "Tobler"}
#: Columns of codes (category and indicator keys), for machines and formulas.
CODE_COLUMNS = {"类别代码", "指标代码", "编号", "代码", "来源", "osm_type"}


def test_a_chinese_study_speaks_chinese_in_every_output(inputs, tmp_path, capsys):
    """No English word a user reads in the console, report, tables or workbook of a Chinese
    study (profile names, file-writing lines, definitions, terrain, warnings were English)."""
    import html
    import re

    out = tmp_path / "out"
    assert main(["analyze", "--study", str(inputs["study"]), "--out", str(out)]) == 0
    said = capsys.readouterr()
    allowed = set(PROPER)
    for path in (*inputs.values(), out):  # file and folder names the outputs name
        allowed |= set(re.findall(r"[A-Za-z][A-Za-z_]+", str(path)))
    allowed |= {"csv", "html", "json", "xlsx", "geojson", "gpkg", "osm", "pbf", "tif", "node",
                "way", "relation", *re.findall(r"[A-Za-z_]+", " ".join(p.name for p in
                                                                    out.iterdir()))}  # fmt: skip
    texts = {"console": (said.out + said.err).replace("\n", "")}  # lines wrap mid-word
    page = (out / "report.html").read_text(encoding="utf-8")
    page = re.sub(r"<style.*?</style>|<script.*?</script>", "", page, flags=re.S)
    texts["report.html"] = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for name in ("units.csv", "open_when_needed.csv", "terrain_effect.csv", "coverage.csv",
                 "report.csv"):  # fmt: skip
        frame = pd.read_csv(out / name, encoding="utf-8-sig", dtype=str)
        texts[name] = " ".join(
            frame.drop(columns=[c for c in frame if c in CODE_COLUMNS])
            .fillna("")
            .to_numpy()
            .ravel()
            .tolist()
            + list(frame.columns)
        )
    for sheet, frame in pd.read_excel(out / "report.xlsx", sheet_name=None, dtype=str).items():
        kept = frame.drop(columns=[c for c in frame if c in CODE_COLUMNS])
        texts[f"report.xlsx:{sheet}"] = " ".join(kept.fillna("").to_numpy().ravel().tolist())
    for name, text in texts.items():
        english = set(re.findall(r"[A-Za-z][A-Za-z_]{2,}", text)) - allowed
        assert not english, (name, sorted(english))


def test_the_cli_and_the_api_report_the_same_study_alike(inputs, tmp_path):
    """One door, one answer: the API's report dropped what the hills and crossings cost."""
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    out = tmp_path / "out"
    assert main(["analyze", "--study", str(inputs["study"]), "--out", str(out)]) == 0
    cli = json.loads((out / "report.json").read_text(encoding="utf-8"))
    app = create_app(Settings(studies_dir=inputs["study"].parent, compute_processes=False))
    with TestClient(app) as client:
        api = client.get("/studies/study/report").json()
        page = client.get("/studies/study/report.html").text
    assert api["terrain_effect"] is not None and "id='terrain'" in page
    for part in ("indicators", "lacking", "terrain_effect", "unplaced_facilities", "judged",
                 "completeness", "population"):  # fmt: skip
        assert api[part] == cli[part], part


def _layers(page: str) -> dict[str, int]:
    """Each layer drawn on a map page (its key) and how many features it holds."""
    import re

    found = {}
    for body in re.findall(r"window\.serviceCircle\.add\((\{.*?\})\);", page):
        spec = json.loads(body)
        found[spec["key"]] = len(spec["data"]["features"])
    return found


def test_three_doors_draw_one_map(inputs, tmp_path):
    """`map` drew no unit layer and judged every category at one pace; analyze's map and
    GET /map judged each at its group's. Now all three draw the same layers alike."""
    from fastapi.testclient import TestClient
    from service_circle_api.main import create_app
    from service_circle_api.settings import Settings

    assert main(["analyze", "--study", str(inputs["study"]), "--out", str(tmp_path / "a")]) == 0
    assert main(["map", "--study", str(inputs["study"]), "--out", str(tmp_path / "m.html")]) == 0
    app = create_app(Settings(studies_dir=inputs["study"].parent, compute_processes=False))
    with TestClient(app) as client:
        api = client.get("/studies/study/map", params={"self_contained": True}).text
    analyze = _layers((tmp_path / "a" / "map.html").read_text(encoding="utf-8"))
    command = _layers((tmp_path / "m.html").read_text(encoding="utf-8"))
    served = _layers(api)
    assert "units" in analyze and analyze == command == served
    assert "gaps/elderly_canteen" in analyze and "windows/pharmacy/night" in analyze
