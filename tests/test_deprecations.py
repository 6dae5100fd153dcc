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
