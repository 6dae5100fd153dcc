"""The service-circle command, in-process and through the installed entry point."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import BEIJING, shared_file

from service_circle.cli import main


def _write_points_csv(path, lon, lat, ids=None):
    ids = ids if ids is not None else [f"p{i}" for i in range(len(lon))]
    pd.DataFrame({"id": ids, "lon": lon, "lat": lat}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def beijing_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(3)
    fac = _write_points_csv(
        folder / "kindergartens.csv", rng.uniform(116.34, 116.36, 5), rng.uniform(40.0, 40.015, 5)
    )
    lon = np.r_[rng.uniform(116.335, 116.365, 60), 116.50]  # the last one is far away
    lat = np.r_[rng.uniform(39.995, 40.018, 60), 40.20]
    pts = _write_points_csv(folder / "homes.csv", lon, lat)
    return shared_file(f"{BEIJING}.osm.pbf"), fac, pts, folder


def test_times_writes_one_row_per_point(beijing_inputs, capsys):
    network, fac, pts, folder = beijing_inputs
    out = folder / "times.csv"
    rc = main(
        ["times", "--network", str(network), "--facilities", str(fac), "--points", str(pts),
         "--out", str(out), "--profile", "elderly"]
    )  # fmt: skip
    assert rc == 0
    table = pd.read_csv(out)
    assert table.columns.tolist() == ["point_id", "time_s", "facility_id", "access_m", "status"]
    assert len(table) == 61
    assert table["point_id"].tolist() == [f"p{i}" for i in range(61)]
    last = table.iloc[-1]
    assert last["status"] == "off_network" and np.isnan(last["time_s"])
    ok = table[table["status"] == "ok"]
    assert len(ok) >= 30 and (ok["time_s"] > 0).all()
    assert set(table["status"]) <= {"ok", "unreachable", "off_network"}
    assert set(ok["facility_id"]) <= {f"p{i}" for i in range(5)}
    err = capsys.readouterr().err
    assert "p60" in err and "not on the network" in err
    # each file says how it was read: tables without a stated system are WGS-84
    assert "kindergartens.csv: a table: WGS-84 (no coordinate system stated)" in err
    assert "homes.csv: a table: WGS-84 (no coordinate system stated)" in err


def test_cutoff_and_speed(beijing_inputs):
    network, fac, pts, folder = beijing_inputs
    base = ["times", "--network", str(network), "--facilities", str(fac), "--points", str(pts)]
    assert main([*base, "--out", str(folder / "a.csv"), "--speed", "1.0"]) == 0
    assert main([*base, "--out", str(folder / "b.csv"), "--speed", "1.0", "--minutes", "4"]) == 0
    a = pd.read_csv(folder / "a.csv")
    b = pd.read_csv(folder / "b.csv")
    within = a["time_s"] <= 240
    np.testing.assert_allclose(b["time_s"][within], a["time_s"][within])
    assert b["time_s"][~within].isna().all()
    assert set(b["status"][~within & a["time_s"].notna()]) == {"beyond_threshold"}


def test_compiled_network_gives_the_same_answer(beijing_inputs):
    network, fac, pts, folder = beijing_inputs
    npz = folder / "beijing.npz"
    assert main(["network", str(network), "--out", str(npz)]) == 0
    for src, name in ((network, "from_pbf.csv"), (npz, "from_npz.csv")):
        rc = main(["times", "--network", str(src), "--facilities", str(fac),
                   "--points", str(pts), "--out", str(folder / name)])  # fmt: skip
        assert rc == 0
    pd.testing.assert_frame_equal(
        pd.read_csv(folder / "from_pbf.csv"), pd.read_csv(folder / "from_npz.csv")
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--network": "missing.osm.pbf"}, "does not exist"),
        ({"--profile": "jogger"}, "unknown walking profile"),
        ({"--network": "bbox:1,2,3"}, "bbox:WEST,SOUTH,EAST,NORTH"),
        ({"--crs": "EPSG:4326"}, "in degrees"),
        ({"--speed": "5.5"}, "km/h"),
        ({"--barriers": "missing.geojson"}, "does not exist"),
        ({"--input-crs": "mars"}, "unknown coordinate system"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(beijing_inputs, capsys, change, message):
    network, fac, pts, folder = beijing_inputs
    args = {
        "--network": str(network),
        "--facilities": str(fac),
        "--points": str(pts),
        "--out": str(folder / "never.csv"),
        **change,
    }
    rc = main(["times", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0 or "network" in err.splitlines()[0]
    assert not (folder / "never.csv").exists()


def test_points_file_problems(beijing_inputs, tmp_path, capsys):
    network, fac, _, _ = beijing_inputs
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("name\nA\n")
    far = _write_points_csv(tmp_path / "far.csv", [100.0, 100.1], [30.0, 30.1])
    for bad, message in ((nocols, "no coordinate columns"), (far, "none of the 2 points")):
        rc = main(["times", "--network", str(network), "--facilities", str(fac),
                   "--points", str(bad), "--out", str(tmp_path / "o.csv")])  # fmt: skip
        err = capsys.readouterr().err
        assert rc == 2 and message in err and "Traceback" not in err


def test_barriers_option(beijing_inputs, capsys):
    network, fac, pts, folder = beijing_inputs
    base = ["times", "--network", str(network), "--facilities", str(fac), "--points", str(pts)]
    assert main([*base, "--out", str(folder / "auto.csv")]) == 0
    assert "water features" in capsys.readouterr().err  # read from the OSM file itself
    assert main([*base, "--out", str(folder / "none.csv"), "--barriers", "none"]) == 0
    assert "water features" not in capsys.readouterr().err
    auto = pd.read_csv(folder / "auto.csv")
    plain = pd.read_csv(folder / "none.csv")
    assert len(auto) == len(plain)


def test_gcj02_inputs_give_the_wgs84_answer(beijing_inputs, tmp_path):
    from service_circle.coords import wgs84_to_gcj02

    network, fac, pts, _ = beijing_inputs
    shifted = []
    for path in (fac, pts):
        table = pd.read_csv(path)
        table["lon"], table["lat"] = wgs84_to_gcj02(table["lon"], table["lat"])
        table.to_csv(tmp_path / path.name, index=False)
        shifted.append(tmp_path / path.name)
    base = ["times", "--network", str(network)]
    assert main([*base, "--facilities", str(fac), "--points", str(pts),
                 "--out", str(tmp_path / "wgs.csv")]) == 0  # fmt: skip
    assert main([*base, "--facilities", str(shifted[0]), "--points", str(shifted[1]),
                 "--input-crs", "gcj02", "--out", str(tmp_path / "gcj.csv")]) == 0  # fmt: skip
    wgs = pd.read_csv(tmp_path / "wgs.csv")
    gcj = pd.read_csv(tmp_path / "gcj.csv")
    np.testing.assert_allclose(gcj["time_s"], wgs["time_s"], atol=0.01)
    # read as if WGS-84, the same file is ~500 m off and the answer changes
    assert main([*base, "--facilities", str(shifted[0]), "--points", str(shifted[1]),
                 "--out", str(tmp_path / "wrong.csv")]) == 0  # fmt: skip
    wrong = pd.read_csv(tmp_path / "wrong.csv")
    assert not np.allclose(wrong["time_s"].fillna(-1), wgs["time_s"].fillna(-1), atol=1)


def test_profiles_lists_the_sources(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "elderly" in out and "1.18" in out and "Willberg" in out


@pytest.mark.slow
def test_demo_through_the_installed_command(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "service_circle.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "convenience_store" in proc.stdout and "≤15 min" in proc.stdout
    assert "OpenStreetMap contributors" in proc.stdout
    for name in ("network.npz", "facilities.geojson", "demand.geojson", "times.csv", "summary.csv"):
        assert (out / name).stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    assert {"pharmacy", "convenience_store", "health_station"} <= set(summary["category"])
    assert (summary["within_15_min"] >= summary["within_5_min"]).all()
    times = pd.read_csv(out / "times.csv")
    assert len(times) == len(summary) * 486  # every building, every category


def test_build_and_analyze_a_study(tmp_path, capsys):
    import geopandas as gpd

    pbf = shared_file(f"{BEIJING}.osm.pbf")
    fac, dem = tmp_path / "facilities.geojson", tmp_path / "demand.geojson"
    assert main(["facilities", "--osm", str(pbf), "--out", str(fac)]) == 0
    assert main(["demand", "--buildings", str(pbf), "--out", str(dem)]) == 0
    study = tmp_path / "studies" / "haidian"
    rc = main(["build", "--network", str(pbf), "--facilities", str(fac), "--demand", str(dem),
               "--out", str(study)])  # fmt: skip
    assert rc == 0 and (study / "study.json").exists()
    out = tmp_path / "out"
    rc = main(["analyze", "--study", str(study), "--metres", "300,500", "--category",
               "kindergarten", "--category", "pharmacy", "--out", str(out)])  # fmt: skip
    assert rc == 0
    # a study in China: the table for people is in Chinese, the raw one in coverage.json
    table = pd.read_csv(out / "coverage.csv")
    assert table["类别代码"].tolist() == ["kindergarten"] * 2 + ["pharmacy"] * 2
    assert table["单位"].unique().tolist() == ["米"]
    assert table["覆盖率"].str.endswith("%").all()
    raw = pd.read_json(out / "coverage.json")
    assert raw["unit"].unique().tolist() == ["m"] and raw["share"].between(0, 1).all()
    iso = gpd.read_file(out / "isochrones.geojson")
    gaps = gpd.read_file(out / "gaps.geojson")
    assert len(iso) == 4 and {"category", "threshold", "unit", "profile"} <= set(iso.columns)
    assert {"population", "group_population", "nearest_distance_m"} <= set(gaps.columns)
    assert oct((out / "coverage.csv").stat().st_mode & 0o777) in ("0o644", "0o664")
    capsys.readouterr()
    assert main(["analyze", "--study", str(tmp_path), "--out", str(out)]) == 2
    assert "not a study folder" in capsys.readouterr().err
    both = tmp_path / "both"  # minutes and metres side by side
    assert main(["analyze", "--study", str(study), "--minutes", "10", "--metres", "300",
                 "--category", "pharmacy", "--out", str(both)]) == 0  # fmt: skip
    raw = pd.read_json(both / "coverage.json")
    assert raw["unit"].tolist() == ["min", "m", "min"]  # and the 5 minutes it is judged at
    assert raw["judged"].tolist() == [False, False, True] and raw["threshold"].iloc[2] == 5
    assert main(["analyze", "--study", str(study), "--category", "nope", "--out", str(out)]) == 2
    direct = tmp_path / "direct"
    rc = main(["analyze", "--network", str(pbf), "--facilities", str(fac), "--demand", str(dem),
               "--metres", "300,500", "--category", "kindergarten", "--category", "pharmacy",
               "--out", str(direct)])  # fmt: skip
    assert rc == 0
    pd.testing.assert_frame_equal(
        pd.read_csv(direct / "coverage.csv"), pd.read_csv(out / "coverage.csv")
    )
    assert main(["analyze", "--out", str(direct)]) == 2


def test_site_on_a_study(tmp_path, capsys):
    import json

    import geopandas as gpd

    pbf = shared_file(f"{BEIJING}.osm.pbf")
    fac, dem = tmp_path / "facilities.geojson", tmp_path / "demand.geojson"
    assert main(["facilities", "--osm", str(pbf), "--out", str(fac)]) == 0
    assert main(["demand", "--buildings", str(pbf), "--out", str(dem)]) == 0
    study = tmp_path / "study"
    assert main(["build", "--network", str(pbf), "--facilities", str(fac), "--demand", str(dem),
                 "--out", str(study)]) == 0  # fmt: skip
    out = tmp_path / "site"
    rc = main(["site", "--study", str(study), "--category", "kindergarten", "--p", "3",
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sites"] == 3 and summary["status"] == "optimal"
    assert summary["share_after"] > summary["share_before"]
    sites = gpd.read_file(out / "sites.geojson")
    assert sites["rank"].tolist() == [1, 2, 3]
    assert sites["marginal_population"].is_monotonic_decreasing
    after = gpd.read_file(out / "gaps_after.geojson")
    total = gpd.read_file(dem)["population"].sum()
    assert after["population"].sum() < total
    pm = tmp_path / "pmedian"
    rc = main(["site", "--study", str(study), "--category", "kindergarten", "--p", "2",
               "--objective", "pmedian", "--out", str(pm)])  # fmt: skip
    assert rc == 0
    summary = json.loads((pm / "summary.json").read_text())
    assert summary["model"] == "pmedian" and summary["sites"] == 2
    assert summary["share_after"] >= summary["share_before"]
    capsys.readouterr()
    rc = main(["site", "--study", str(study), "--category", "kindergarten",
               "--objective", "pmedian", "--target-share", "0.5", "--out", str(pm)])  # fmt: skip
    assert rc == 2 and "pmedian need p" in capsys.readouterr().err
    rc = main(["site", "--study", str(study), "--category", "kindergarten",
               "--target-share", "0.999", "--minutes", "2", "--out", str(out)])  # fmt: skip
    assert rc == 2 and "no set of the" in capsys.readouterr().err
    rc = main(["site", "--study", str(study), "--category", "kindergarten", "--p", "2",
               "--target-share", "0.5", "--out", str(out)])  # fmt: skip
    assert rc == 2
