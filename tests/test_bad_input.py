"""Garbage in, one line out: a battery of bad inputs across the subcommands (issue 30).

Each case was accepted silently or ended in a traceback. Each must now end with exit 2,
one ``error:`` line that names the input, no traceback and no output written; nothing
the user had is changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from test_safety import fingerprint

from service_circle.cli import main


@pytest.fixture(scope="module")
def files(sample_cache, tmp_path_factory) -> dict[str, Path]:
    from importlib import resources

    from service_circle.sample import sample_pbf, sample_study

    folder = tmp_path_factory.mktemp("bad-inputs")
    sample_study(sample_cache).save(folder / "study")
    box = shapely.box(24.94, 60.165, 24.945, 60.17)
    gpd.GeoDataFrame({"population": [100]}, geometry=[box.centroid], crs=4326).to_file(
        folder / "points.geojson"
    )
    gpd.GeoDataFrame({"population": [100]}, geometry=[box], crs=4326).to_file(
        folder / "polygons.geojson"
    )
    gpd.GeoDataFrame({"key": ["a"]}, geometry=[box], crs=4326).to_file(folder / "areas.geojson")
    text = resources.files("service_circle").joinpath("data/categories.toml").read_text("utf-8")
    (folder / "nan.toml").write_text(text.replace("minutes = 15", "minutes = nan", 1), "utf-8")
    (folder / "huge.toml").write_text(text.replace("minutes = 15", "minutes = 1e12", 1), "utf-8")
    _big_workbook(folder / "big.xlsx")
    fifo = folder / "fifo-study"
    sample_study(sample_cache).save(fifo)
    os.mkfifo(fifo / "notes.txt")  # a pipe left in a study folder blocked its reader for good
    pd.DataFrame({"lon": [24.94], "lat": [60.17], "category": ["pharmacy"]}).to_csv(
        folder / "one.csv", index=False
    )
    return {"dir": folder, "study": folder / "study", "pbf": Path(sample_pbf()), "fifo": fifo,
            **{p.stem: p for p in folder.iterdir() if p.is_file() or p.is_fifo()}}  # fmt: skip


def _big_workbook(path: Path, rows: int = 2_000_000) -> None:
    """A workbook of 2 million empty rows: a few MB compressed, minutes to read cell by cell."""
    import io
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["名称", "lon", "lat"])
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(buffer)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename != "xl/worksheets/sheet1.xml":
                out.writestr(item, data)
                continue
            head, _, rest = data.partition(b"</sheetData>")
            with out.open(item.filename, "w") as fh:
                fh.write(head)
                fh.write(b"".join(b'<row r="%d"/>' % i for i in range(2, rows + 2)))
                fh.write(b"</sheetData>" + rest)


CASES = {
    "minutes beyond a living circle": (
        ["analyze", "--study", "{study}", "--minutes", "1e12", "--out", "{out}"], "--minutes"),
    "minutes not a number": (
        ["analyze", "--study", "{study}", "--minutes", "nan", "--out", "{out}"], "--minutes"),
    "negative metres": (
        ["analyze", "--study", "{study}", "--metres=-5", "--out", "{out}"], "--metres"),
    "site minutes beyond": (
        ["site", "--study", "{study}", "--category", "pharmacy", "--p", "1", "--minutes",
         "1e12", "--out", "{out}"], "--minutes"),
    "site with neither p nor a share": (
        ["site", "--study", "{study}", "--category", "pharmacy", "--out", "{out}"],
        "target_share"),
    "unknown hours maybe": (
        ["analyze", "--study", "{study}", "--unknown-hours", "maybe", "--out", "{out}"],
        "--unknown-hours"),
    "road minutes negative": (
        ["analyze", "--study", "{study}", "--road", "--road-minutes=-1", "--out", "{out}"],
        "--road-minutes"),
    "road speed zero": (
        ["analyze", "--study", "{study}", "--road", "--road-speed", "0", "--out", "{out}"],
        "--road-speed"),
    "points given as polygons": (
        ["demand", "--polygons", "{points}", "--out", "{out}/d.geojson"], "not polygons"),
    "age shares over 100 %": (
        ["demand", "--polygons", "{polygons}", "--shares", "pop_60plus=0.9,pop_0_3=0.9",
         "--out", "{out}/d.geojson"], "add up to"),
    "catalogue minutes nan": (["categories", "--catalogue", "{nan}"], "'minutes'"),
    "catalogue minutes huge": (["categories", "--catalogue", "{huge}"], "'minutes'"),
    "two million rows": (
        ["facilities", "--file", "{big}", "--out", "{out}/f.geojson"], "1,048,576"),
    "memory limit lots": (
        ["batch", "--units", "{areas}", "--network", "{pbf}", "--memory-limit", "lots",
         "--out", "{out}"], "--memory-limit"),
    "scheduler garbage": (
        ["batch", "--units", "{areas}", "--network", "{pbf}", "--scheduler", "garbage://x",
         "--out", "{out}"], "--scheduler"),
    "a pipe in a study folder": (
        ["analyze", "--study", "{fifo}", "--out", "{out}"], "not a regular file"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(case, files, tmp_path, capsys):
    args, word = CASES[case]
    out = tmp_path / "out"
    values = {k: str(v) for k, v in files.items()} | {"out": str(out)}
    before = fingerprint(files["dir"])
    rc = main([a.format(**values) for a in args])
    captured = capsys.readouterr()
    assert rc == 2, (case, captured.out[-1500:], captured.err[-1500:])
    err = captured.err
    assert "Traceback" not in err + captured.out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and word in err, err
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))
    assert fingerprint(files["dir"]) == before


def test_a_polygon_file_of_sites_is_drawn_at_points_inside(files, tmp_path):
    page = tmp_path / "map.html"
    assert main(["map", "--study", str(files["study"]), "--sites", str(files["polygons"]),
                 "--out", str(page)]) == 0  # fmt: skip
    assert "serviceCircle.add" in page.read_text(encoding="utf-8")


def test_a_unit_outside_the_network_fails_on_its_data_at_once(files, tmp_path):
    """No street in its box: said as such, not a TypeError retried three times."""
    from service_circle.batch import BatchSpec, read_areas, run_batch

    gpd.GeoDataFrame({"key": ["far"]}, geometry=[shapely.box(10.0, 10.0, 10.01, 10.01)],
                     crs=4326).to_file(tmp_path / "far.geojson")  # fmt: skip
    far = read_areas(tmp_path / "far.geojson")
    from distributed import Client, LocalCluster

    spec = BatchSpec(network=str(files["pbf"]), categories=("pharmacy",), minutes=(5.0,))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        result = run_batch(far, spec, tmp_path / "ds", client=client, retries=2)
    assert result.failed == 1
    failed = json.loads((tmp_path / "ds" / "_failed" / "far.json").read_text(encoding="utf-8"))
    assert "no ways with a highway tag within the box" in failed["error"]


def test_the_batch_summary_keeps_formulas_as_text_and_templates_as_text(files, tmp_path):
    from service_circle.batch import BatchSpec, read_areas, run_batch

    frame = gpd.read_file(files["areas"]).assign(key=["=2+2"], name=["{{ 7*7 }}${7*7}区"])
    frame.to_file(tmp_path / "areas.geojson")
    areas = read_areas(tmp_path / "areas.geojson")
    from distributed import Client, LocalCluster

    spec = BatchSpec(network=str(files["pbf"]), categories=("pharmacy",), minutes=(5.0,))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        run_batch(areas, spec, tmp_path / "ds", client=client)
    text = (tmp_path / "ds" / "summary.csv").read_text(encoding="utf-8-sig")
    assert "\n=2+2" not in text and "'=2+2" in text
    page = (tmp_path / "ds" / "report.html").read_text(encoding="utf-8")
    assert "{{ 7*7 }}${7*7}区" in page and "49" not in page.split("{{ 7*7 }}")[1][:20]


def test_the_batch_reads_repeated_demand_ids_as_build_does(files, tmp_path):
    """build keeps a repeated id as id~2; the batch kept both homes under one id."""
    from distributed import Client, LocalCluster

    from service_circle.batch import BatchSpec, read_areas, read_table, run_batch

    homes = gpd.GeoDataFrame(
        {"id": ["a", "a", "b"], "population": [10, 20, 30]},
        geometry=[shapely.Point(24.9410, 60.1660), shapely.Point(24.9420, 60.1670),
                  shapely.Point(24.9430, 60.1680)], crs=4326,
    )  # fmt: skip
    homes.to_file(tmp_path / "homes.geojson")
    spec = BatchSpec(network=str(files["pbf"]), demand=str(tmp_path / "homes.geojson"),
                     categories=("pharmacy",), minutes=(5.0,))  # fmt: skip
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        result = run_batch(read_areas(files["areas"]), spec, tmp_path / "ds", client=client)
    assert result.done == 1, result.summary[["key", "error"]]
    ids = sorted(read_table(tmp_path / "ds", "homes")["id"])
    assert ids == ["a", "a~2", "b"]
