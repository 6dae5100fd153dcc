"""Safe under bad input and crashes: the command line and the study folder (issue 12).

Each test here reproduces a defect found by probing the CLI: a folder deleted, a crash
that left a half-written result, a number or a damaged file that gave a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from service_circle.cli import main
from service_circle.folders import FAILPOINT_ENV, MARKER

RUN = "import sys; from service_circle.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command in a process of its own (it may be killed)."""
    return subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


def fingerprint(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative path) → its content hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def saved_study(sample_cache, tmp_path_factory) -> Path:
    from service_circle.sample import sample_study

    folder = tmp_path_factory.mktemp("studies") / "helsinki"
    sample_study(sample_cache).save(folder)
    return folder


def one_line_error(capsys, rc: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    return err


# ---------------------------------------------------------------------- folders
def test_build_never_deletes_a_folder_it_did_not_write(tmp_path, capsys, helsinki_pbf):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("a planner's notes")
    (work / "data").mkdir()
    (work / "data" / "homes.csv").write_text("lon,lat\n24.94,60.17\n")
    before = fingerprint(work)
    rc = main(["build", "--network", str(helsinki_pbf), "--facilities", str(helsinki_pbf),
               "--demand", str(tmp_path / "homes.csv"), "--out", str(work)])  # fmt: skip
    one_line_error(capsys, rc, "did not write", "notes.txt", "nothing was changed")
    rc = main(["build", "--network", str(helsinki_pbf), "--facilities", str(helsinki_pbf),
               "--demand", str(work / "data" / "homes.csv"), "--out", str(work)])  # fmt: skip
    one_line_error(capsys, rc, "holds the input --demand", "nothing was changed")
    assert fingerprint(work) == before  # not a file touched, none added
    cwd = Path.cwd()
    os.chdir(work)
    try:  # `--out .` in a working folder (the defect wiped it)
        rc = main(["analyze", "--study", "nowhere", "--out", "."])
    finally:
        os.chdir(cwd)
    one_line_error(capsys, rc, "did not write")
    assert fingerprint(work) == before


def test_outputs_replace_only_what_service_circle_wrote(saved_study, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["analyze", "--study", str(saved_study), "--category", "pharmacy", "--minutes", "5",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "analysis" and "coverage.csv" in marker["files"]
    (out / "my-notes.txt").write_text("keep me")  # the planner adds a file of their own
    (out / "coverage.csv").write_text("stale")
    assert main(args) == 0
    assert (out / "my-notes.txt").read_text() == "keep me"  # carried over, not deleted
    assert (out / "coverage.csv").read_text(encoding="utf-8-sig") != "stale"
    capsys.readouterr()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.docx").write_bytes(b"x")
    for command in (
        ["analyze", "--study", str(saved_study), "--out", str(foreign)],
        ["site", "--study", str(saved_study), "--category", "pharmacy", "--p", "1",
         "--out", str(foreign)],
        ["demo", "--out", str(foreign)],
    ):  # fmt: skip
        one_line_error(capsys, main(command), "did not write", "thesis.docx")
        assert [p.name for p in foreign.iterdir()] == ["thesis.docx"]


def test_names_alone_grant_nothing_only_the_marker_does(tmp_path, capsys, helsinki_pbf):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("mine")  # a name the tool uses, in the user's folder
    (out / "map.html").write_text("<p>mine</p>")
    before = fingerprint(out)
    rc = main(["build", "--network", str(helsinki_pbf), "--facilities", str(helsinki_pbf),
               "--demand", "x.geojson", "--out", str(out)])  # fmt: skip
    one_line_error(capsys, rc, "did not write", "summary.csv", "nothing was changed")
    assert fingerprint(out) == before


def test_an_output_folder_never_is_nor_holds_an_input(saved_study, tmp_path, capsys):
    import shutil

    home = tmp_path / "d"
    study = home / "study"
    shutil.copytree(saved_study, study)
    before = fingerprint(home)
    for command in (
        ["analyze", "--study", str(study), "--out", str(study)],
        ["site", "--study", str(study), "--category", "pharmacy", "--p", "1", "--out",
         str(study)],
        ["analyze", "--study", str(study), "--out", str(home)],
        ["analyze", "--study", str(study), "--out", str(tmp_path)],
    ):  # fmt: skip
        one_line_error(capsys, main(command), "input --study", "outside the inputs")
        assert fingerprint(home) == before


def test_a_users_file_inside_a_folder_we_wrote_is_kept(saved_study, tmp_path):
    from service_circle.folders import publishing

    out = tmp_path / "d"
    for round_ in range(2):
        with publishing(out, kind="demo", command="test") as staging:
            (staging / "study").mkdir()
            (staging / "study" / "study.json").write_text(f"round {round_}")
            (staging / "summary.csv").write_text(f"round {round_}")
        if round_ == 0:
            (out / "study" / "my-notes.txt").write_text("keep me")
            (out / "study" / "mine").mkdir()
            (out / "study" / "mine" / "a.txt").write_text("mine too")
    assert (out / "study" / "study.json").read_text() == "round 1"
    assert (out / "study" / "my-notes.txt").read_text() == "keep me"
    assert (out / "study" / "mine" / "a.txt").read_text() == "mine too"
    marker = json.loads((out / MARKER).read_text())
    assert "study/study.json" in marker["files"] and "study/my-notes.txt" not in marker["files"]


def test_a_symlinked_output_is_written_where_it_points(saved_study, tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    args = ["analyze", "--study", str(saved_study), "--category", "pharmacy", "--minutes", "5"]
    for _ in range(2):
        assert main([*args, "--out", str(link)]) == 0
    assert link.is_symlink() and (real / "coverage.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # nothing hidden


def test_two_writers_of_one_folder_the_second_is_refused(tmp_path):
    from service_circle import InputError
    from service_circle.folders import publishing

    out = tmp_path / "out"
    with publishing(out, kind="analysis", command="first") as staging:
        (staging / "a.csv").write_text("first")
        refused = pytest.raises(InputError, match="another service-circle run is writing")
        with refused, publishing(out, kind="analysis", command="second"):
            pass
    assert (out / "a.csv").read_text() == "first"
    with publishing(out, kind="analysis", command="third") as staging:  # free again
        (staging / "a.csv").write_text("third")
    assert (out / "a.csv").read_text() == "third"


@pytest.mark.parametrize("point", ["staged", "swapped", "published"])
def test_a_killed_analyze_leaves_the_previous_result_or_the_new_one(saved_study, tmp_path, point):
    out = tmp_path / "out"
    args = ["analyze", "--study", str(saved_study), "--category", "pharmacy", "--minutes", "5",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    before = fingerprint(out)
    killed = cli(*args[:-1], str(out), env={FAILPOINT_ENV: point})
    assert killed.returncode == -9, killed.stderr  # SIGKILL at exactly that point
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert leftovers  # what the crash left is hidden beside it
    if point == "swapped":
        assert not out.exists()  # between the two renames: neither, until the next run
    elif point == "staged":
        assert fingerprint(out) == before  # the previous complete result, untouched
    else:
        assert json.loads((out / MARKER).read_text())["kind"] == "analysis"
    again = cli("map", "--study", str(saved_study), "--tiles", "none", "--out",
                str(tmp_path / "m.html"))  # fmt: skip
    assert again.returncode == 0
    assert main(args) == 0  # the next run recovers and tidies
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []
    assert set(fingerprint(out)) == set(before)


def test_a_killed_build_leaves_a_loadable_study(saved_study, tmp_path):
    import shutil

    from service_circle_api.registry import check_studies_dir

    from service_circle.study import Study

    studies = tmp_path / "studies"
    target = studies / "district"
    shutil.copytree(saved_study, target)
    facilities = tmp_path / "facilities.geojson"
    demand = tmp_path / "demand.geojson"
    study = Study.load(target)
    study.facilities.to_file(facilities)
    study.demand.to_file(demand)
    shutil.copy(target / "network.npz", tmp_path / "network.npz")  # an input is never inside
    killed = cli("build", "--network", str(tmp_path / "network.npz"), "--facilities",
                 str(facilities), "--demand", str(demand), "--barriers", "none", "--out",
                 str(target), env={FAILPOINT_ENV: "swapped"})  # fmt: skip
    assert killed.returncode == -9
    assert not target.exists()
    hidden = sorted(p.name for p in studies.iterdir())
    assert hidden and all(name.startswith(".district.") for name in hidden)
    # the server never takes a crash's leftovers for studies, and puts the old one back
    assert [p.name for p in check_studies_dir(studies)] == ["district"]
    assert len(Study.load(target).demand) == len(study.demand)


# ---------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1e9, "(-1e+09)"), ("lots", "('lots')"), (None, "(empty)"), ("inf", "('inf')")],
)
def test_bad_population_stops_the_build_before_anything_is_saved(
    saved_study, tmp_path, capsys, value, shown
):
    from service_circle.study import Study

    study = Study.load(saved_study)
    demand = study.demand[["id", "population", "geometry"]].head(5).copy()
    demand["population"] = demand["population"].astype(object)
    demand.loc[3, "population"] = value
    path = tmp_path / "demand.geojson"
    path.write_text(demand.to_json(), encoding="utf-8")
    if value is None:  # a GeoJSON null: the text of the file says so
        data = json.loads(path.read_text())
        data["features"][3]["properties"]["population"] = None
        path.write_text(json.dumps(data))
    out = tmp_path / "study"
    study.facilities.head(3).to_file(tmp_path / "f.geojson")
    rc = main(["build", "--network", str(saved_study / "network.npz"), "--facilities",
               str(tmp_path / "f.geojson"), "--demand", str(path), "--out", str(out)])  # fmt: skip
    one_line_error(capsys, rc, "demand.geojson", "'population'", f"rows 4 {shown}")
    assert not out.exists()


@pytest.mark.parametrize("limit", ["0", "-1", "nan", "inf"])
def test_site_time_limit_must_be_a_positive_number(saved_study, tmp_path, capsys, limit):
    rc = main(["site", "--study", str(saved_study), "--category", "pharmacy", "--p", "1",
               "--time-limit", limit, "--out", str(tmp_path / "s")])  # fmt: skip
    one_line_error(capsys, rc, "--time-limit must be a finite number > 0")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "5,0"])
def test_thresholds_say_what_is_wrong(saved_study, tmp_path, capsys, value):
    rc = main(["analyze", "--study", str(saved_study), "--minutes", value,
               "--out", str(tmp_path / "a")])  # fmt: skip
    one_line_error(capsys, rc, "--minutes", "is not a finite number > 0")


def test_unused_rows_and_repeated_ids_are_listed(saved_study, tmp_path, capsys):
    rows = pd.DataFrame(
        {
            "id": ["a", "a", "b", "c"],
            "name": ["药店一", "药店二", "某公司", "药店三"],
            "category": ["药店", "pharmacy", "bakery", "pharmacy"],
            "lon": [24.94, 24.945, 24.95, 24.946],
            "lat": [60.17, 60.171, 60.17, "north"],
        }
    )
    pois = tmp_path / "pois.csv"
    rows.to_csv(pois, index=False)
    out = tmp_path / "study"
    from service_circle.study import Study

    Study.load(saved_study).demand.head(20).to_file(tmp_path / "d.geojson")
    rc = main(["build", "--network", str(saved_study / "network.npz"), "--facilities",
               str(pois), "--demand", str(tmp_path / "d.geojson"), "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    err = captured.err
    assert "line 4: not used: unknown category 'bakery'" in err
    assert "line 5: not used: no usable location" in err
    assert "line 3: id 'a' repeats an earlier row: kept as 'a~2'" in err
    problems = pd.read_csv(out / "input_problems.csv")
    assert problems["row"].tolist() == [3, 4, 5] and set(problems["file"]) == {"pois.csv"}
    facilities = Study.load(out).facilities
    assert sorted(facilities["id"]) == ["a", "a~2"]  # 药店 read as pharmacy by its name


# ---------------------------------------------------------------------- damaged studies
def _damage(folder: Path, kind: str) -> None:
    if kind == "truncated network":
        data = (folder / "network.npz").read_bytes()
        (folder / "network.npz").write_bytes(data[: len(data) // 2])
    elif kind == "network out of range":
        with np.load(folder / "network.npz") as npz:
            arrays = dict(npz)
        arrays["arc_head"] = arrays["arc_head"] + 10**6
        np.savez(folder / "network.npz", **arrays)
    elif kind == "garbage snapped":
        (folder / "snapped.npz").write_bytes(b"\x00garbage" * 100)
    elif kind == "short snapped":
        with np.load(folder / "snapped.npz") as npz:
            arrays = {k: v[:-1] for k, v in npz.items()}
        np.savez(folder / "snapped.npz", **arrays)
    elif kind == "study.json not JSON":
        (folder / "study.json").write_text("{not json")
    elif kind == "study.json without keys":
        (folder / "study.json").write_text('{"format": "service-circle/study", "version": 1}')
    elif kind == "truncated demand":
        data = (folder / "demand.gpkg").read_bytes()
        (folder / "demand.gpkg").write_bytes(data[:1000])
    elif kind == "facilities missing":
        (folder / "facilities.gpkg").unlink()
    elif kind == "negative population":
        demand = gpd.read_file(folder / "demand.gpkg")
        demand.loc[0, "population"] = -5
        demand.to_file(folder / "demand.gpkg", driver="GPKG")
    elif kind == "empty catalogue":
        meta = json.loads((folder / "study.json").read_text())
        meta["catalogue"] = "catalogue.toml"
        (folder / "study.json").write_text(json.dumps(meta))
        (folder / "catalogue.toml").write_text("")


DAMAGE = [
    "truncated network", "network out of range", "garbage snapped", "short snapped",
    "study.json not JSON", "study.json without keys", "truncated demand", "facilities missing",
    "negative population", "empty catalogue",
]  # fmt: skip


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_study_is_one_line_naming_the_file(saved_study, tmp_path, capsys, kind):
    import shutil

    folder = tmp_path / "study"
    shutil.copytree(saved_study, folder)
    _damage(folder, kind)
    for command in (
        ["analyze", "--study", str(folder), "--out", str(tmp_path / "a")],
        ["site", "--study", str(folder), "--category", "pharmacy", "--p", "1",
         "--out", str(tmp_path / "s")],
        ["map", "--study", str(folder), "--out", str(tmp_path / "m.html")],
    ):  # fmt: skip
        err = one_line_error(capsys, main(command), str(folder))
        assert err.strip().count("\n") <= 1, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "m.html").exists()


def test_bad_output_paths_are_one_line(saved_study, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["map", "--study", str(saved_study), "--out", str(blocker / "map.html")])
    one_line_error(capsys, rc, "cannot use", "not a folder")
    rc = main(["map", "--study", str(saved_study), "--out", "/proc/no/such/map.html"])
    one_line_error(capsys, rc, "cannot use")
