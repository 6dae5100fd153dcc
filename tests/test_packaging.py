"""The project's promises about itself: README's commands are the ones CI runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_the_two_commands():
    demo, tests = _readme_commands()
    assert "service-circle demo" in demo
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    _, tests = _readme_commands()
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in lines


def test_console_script_and_packages_are_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["service-circle"] == "service_circle.cli:main"
    assert "pandana" in " ".join(meta["project"]["optional-dependencies"]["bench"])
    setuptools = meta["tool"]["setuptools"]
    # the app installs under its own name, never as a bare `api`
    assert setuptools["package-dir"] == {"service_circle_api": "api"}
    assert "api" not in setuptools["packages"] and "service_circle_api" in setuptools["packages"]


def test_readme_python_tour_runs(tmp_path, monkeypatch):
    """The README's Python example, run on the Beijing extract."""
    import numpy as np
    import pandas as pd
    from conftest import BEIJING, shared_file

    from service_circle.readers import read_points

    pbf = shared_file(f"{BEIJING}.osm.pbf")
    rng = np.random.default_rng(0)
    for name, n in (("homes", 200), ("clinics", 4)):
        csv = tmp_path / f"{name}.csv"
        pd.DataFrame(
            {"lon": rng.uniform(116.34, 116.36, n), "lat": rng.uniform(40.0, 40.015, n)}
        ).to_csv(csv, index=False)
        read_points(csv).to_file(tmp_path / f"{name}.geojson")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    api = text.split("## The Python API", 1)[1]
    code = re.search(r"```python\n(.+?)\n```", api, re.S).group(1)
    code = code.replace('"haidian.osm.pbf"', repr(str(pbf)))
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    frame = scope["result"].to_frame()
    assert len(frame) == 200
    assert (tmp_path / "haidian.npz").exists()
    assert frame["status"].isin(["ok", "beyond_threshold", "unreachable", "off_network"]).all()


def test_readme_study_tour_runs(tmp_path, monkeypatch):
    """The README's study example, on a study of the Beijing extract."""
    import shapely
    from conftest import BEIJING, shared_file

    from service_circle.demand import buildings_from_osm, demand_from_buildings
    from service_circle.facilities import facilities_from_osm
    from service_circle.network import load_network
    from service_circle.study import Study

    pbf = shared_file(f"{BEIJING}.osm.pbf")
    facilities, _ = facilities_from_osm(pbf)
    demand = demand_from_buildings(buildings_from_osm(pbf))
    monkeypatch.chdir(tmp_path)
    Study.build(load_network(pbf), facilities, demand).save("studies/haidian")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Studies", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.+?)\n```", section, re.S).group(1)
    scope = {"community_polygon": shapely.box(116.34, 40.0, 116.36, 40.02)}
    exec(compile(code, "README.md", "exec"), scope)
    assert "study" in scope
