"""Names README documented before the restructure keep working for one release, with a warning."""

from __future__ import annotations

import pytest

from service_circle import snap, travel_times
from service_circle.synthetic import grid_network, random_points


@pytest.mark.parametrize(
    ("module", "name", "new_home"),
    [
        ("service_circle.coverage", "isochrones", "service_circle.isochrones"),
        ("service_circle.coverage", "gaps", "service_circle.gaps"),
        ("service_circle.coverage", "completeness", "service_circle.completeness"),
        ("service_circle.coverage", "neighbourhood", "service_circle.neighbourhood"),
        ("service_circle.capacity", "two_step_fca", "service_circle.accessibility"),
        ("service_circle.profiles", "Threshold", "service_circle.cost"),
        ("service_circle.siting", "site_study", "service_circle.siting_study"),
    ],
)
def test_moved_names_still_import_with_a_warning(module, name, new_home):
    from importlib import import_module

    with pytest.warns(DeprecationWarning, match=new_home):
        old = getattr(import_module(module), name)
    assert old is getattr(import_module(new_home), name)


def test_renamed_keywords_still_work_with_a_warning():
    net = grid_network(10)
    points = random_points(net, 5, seed=1)
    with pytest.warns(DeprecationWarning, match="max_access_m"):
        old = snap(net, points, max_snap_m=40)
    assert old.max_access_m == 40 and old.max_snap_m == 40
    facilities = snap(net, random_points(net, 2, seed=2))
    with pytest.warns(DeprecationWarning, match="limit_s"):
        cut = travel_times(net, facilities, old, cutoff_s=60)
    assert cut.limit == cut.cutoff == 60


def test_network_distances_former_keyword():
    from service_circle import network_distances

    net = grid_network(10)
    homes = snap(net, random_points(net, 5, seed=1))
    clinics = snap(net, random_points(net, 2, seed=2))
    new = network_distances(net, clinics, homes, limit_m=200)
    with pytest.warns(DeprecationWarning, match="limit_m"):
        old = network_distances(net, clinics, homes, cutoff_m=200)
    assert old.to_frame().equals(new.to_frame())


def test_former_command_line_options_give_the_same_answer(tmp_path):
    from conftest import BEIJING, shared_file

    from service_circle.cli import main

    network = shared_file(f"{BEIJING}.osm.pbf")
    fac, pts = tmp_path / "fac.csv", tmp_path / "pts.csv"
    fac.write_text("id,lon,lat\nk1,116.34642,39.99969\nk2,116.3469,39.99203\n", encoding="utf-8")
    pts.write_text("id,lon,lat\nh1,116.34615,40.00646\nh2,116.34666,39.9997\n", encoding="utf-8")
    base = ["times", "--network", str(network), "--facilities", str(fac), "--points", str(pts)]
    assert (
        main([*base, "--minutes", "5", "--max-access-m", "200", "--out", str(tmp_path / "a.csv")])
        == 0
    )
    assert (
        main([*base, "--cutoff-min", "5", "--max-snap-m", "200", "--out", str(tmp_path / "b.csv")])
        == 0
    )
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
