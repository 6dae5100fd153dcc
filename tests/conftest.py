"""Shared fixtures: the real networks are loaded once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

BEIJING = "cn_beijing_haidian_cau_map"
GUIXI = "cn_jiangxi_guixi_mapofgx"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test when that folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the real test data of ../shared/data is not here")
    return path


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    from service_circle.sample import sample_pbf

    return sample_pbf()


@pytest.fixture(scope="session")
def helsinki_net(helsinki_pbf):
    from service_circle.network import load_network

    return load_network(helsinki_pbf)


@pytest.fixture(scope="session")
def beijing_net():
    from service_circle.network import load_network

    return load_network(shared_file(f"{BEIJING}.osm.pbf"))


@pytest.fixture(scope="session")
def guixi_net():
    from service_circle.network import load_network

    return load_network(shared_file(f"{GUIXI}.osm.pbf"))


@pytest.fixture(scope="session")
def sample():
    from service_circle.sample import load_sample

    return load_sample()
