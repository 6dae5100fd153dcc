"""Safe under bad input and load: the HTTP API (issue 12).

NaN bodies, damaged studies, oversized and overlong requests, and a crowd of heavy
requests — each answered with a clear 4xx/503, never a 500, while ``/health`` keeps
answering in milliseconds.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_circle_api.compute import BusyError, ComputePool
from service_circle_api.main import create_app
from service_circle_api.settings import Settings

from service_circle._errors import TimeLimitError


# ---------------------------------------------------------------------- bodies
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_bodies_are_422_not_500(client, study_id, literal):
    bodies = {
        "reach": f'{{"lon": {literal}, "lat": 60.17}}',
        "siting": f'{{"category": "pharmacy", "p": 1, "minutes": {literal}}}',
        "neighbourhood": f'{{"geometry": {{"type": "Polygon", "coordinates": '
        f"[[[24.9, 60.1], [{literal}, 60.1], [25.0, 60.2], [24.9, 60.1]]]}}}}",
    }
    for route, body in bodies.items():
        response = client.post(f"/studies/{study_id}/{route}", content=body,
                                headers={"content-type": "application/json"})  # fmt: skip
        assert response.status_code == 422, (route, response.text)
        assert "finite" in response.text or "number" in response.text
        assert literal.lower().replace("inity", "") in response.text  # named, as text


def test_invalid_utf8_body_is_a_documented_client_error(client, study_id):
    response = client.post(f"/studies/{study_id}/reach", content=b'{"lon": "\xff\xfe"}',
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code in (400, 422)
    documented = client.get("/openapi.json").json()["paths"]
    assert "400" in documented["/studies/{study_id}/reach"]["post"]["responses"]


def test_health_answers_head_and_cors_is_a_setting(client, sample_cache):
    assert client.head("/health").status_code == 200
    plain = client.options("/health", headers={"Origin": "http://evil.example",
                                               "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert "access-control-allow-origin" not in plain.headers
    app = create_app(Settings(cache_dir=sample_cache, cors_origins=["http://intranet.gov.cn"]))
    with TestClient(app) as allowed:
        ok = allowed.get("/health", headers={"Origin": "http://intranet.gov.cn"})
        assert ok.headers["access-control-allow-origin"] == "http://intranet.gov.cn"
        other = allowed.get("/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_input_caps_are_in_the_schema_and_enforced(client, study_id):
    spec = client.get("/openapi.json").json()["components"]["schemas"]
    assert spec["CandidateCollection"]["properties"]["features"]["maxItems"] == 2000
    siting = spec["SitingRequest"]["properties"]
    assert siting["p"]["anyOf"][0]["maximum"] == 500
    assert siting["minutes"]["anyOf"][0]["maximum"] == 60
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}
    body = {"category": "pharmacy", "p": 1,
            "candidates": {"type": "FeatureCollection", "features": [point] * 2001}}  # fmt: skip
    response = client.post(f"/studies/{study_id}/siting", json=body)
    assert response.status_code == 422 and "2000" in response.text


def test_siting_stops_at_its_time_limit_reach_table_included(client, study_id):
    west, south, east, north = client.get(f"/studies/{study_id}").json()["bbox"]
    rng = np.random.default_rng(0)
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}
        for x, y in zip(rng.uniform(west, east, 2000), rng.uniform(south, north, 2000),
                        strict=True)
    ]  # fmt: skip
    body = {"category": "pharmacy", "p": 5, "time_limit_s": 0.05,
            "candidates": {"type": "FeatureCollection", "features": features}}  # fmt: skip
    response = client.post(f"/studies/{study_id}/siting", json=body)
    assert response.status_code == 503, response.text
    assert "time limit" in response.json()["detail"]  # stopped by its limit, not finished


# ---------------------------------------------------------------------- studies
def test_a_damaged_study_is_listed_as_unavailable_and_the_others_work(tmp_path, sample_cache):
    import geopandas as gpd

    from service_circle.sample import sample_study

    studies = tmp_path / "studies"
    sample_study(sample_cache).save(studies / "good")
    shutil.copytree(studies / "good", studies / "bad-population")
    demand = gpd.read_file(studies / "bad-population" / "demand.gpkg")
    demand.loc[0, "population"] = -1e9
    demand.to_file(studies / "bad-population" / "demand.gpkg", driver="GPKG")
    shutil.copytree(studies / "good", studies / "truncated")
    data = (studies / "truncated" / "network.npz").read_bytes()
    (studies / "truncated" / "network.npz").write_bytes(data[:1000])
    shutil.copytree(studies / "good", studies / ".good.old-99999999-0000")  # a crash's leftover
    with TestClient(create_app(Settings(studies_dir=studies))) as c:
        listed = {s["id"]: s for s in c.get("/studies").json()}
        assert set(listed) == {"good", "bad-population", "truncated"}
        assert listed["good"]["status"] == "available"
        assert listed["truncated"]["status"] == "unavailable"
        assert "network.npz" in listed["truncated"]["reason"]
        assert "population" in listed["bad-population"]["reason"]
        broken = c.get("/studies/truncated")
        assert broken.status_code == 503 and "network.npz" in broken.json()["detail"]
        assert c.get("/studies/good/coverage", params={"category": "pharmacy"}).status_code == 200
        assert c.get("/health").json()["unavailable"] == 2


# ---------------------------------------------------------------------- the pool
def test_the_pool_refuses_work_beyond_its_workers_and_queue():
    async def scenario():
        # one client here: its share is the pool; a time limit no busy machine reaches
        pool = ComputePool(1, 1, 120.0, per_client=2, processes=False)
        release = threading.Event()
        try:
            first = asyncio.ensure_future(pool.run(lambda: release.wait(120)))
            second = asyncio.ensure_future(pool.run(lambda: 42))
            await _until(lambda: pool.load == {"running": 1, "waiting": 1})
            with pytest.raises(BusyError) as refused:
                await pool.run(lambda: 0)
            assert refused.value.retry_after_s >= 1
            release.set()
            assert await first is True and await second == 42
            with pytest.raises(TimeLimitError):  # the limit is the library's, checked in loops
                await pool.run(_loop_until_stopped, time_limit_s=0.1)
        finally:
            release.set()  # a failure above must not leave a thread waiting for good
            pool.shutdown()

    asyncio.run(scenario())


@pytest.mark.slow
def test_one_client_cannot_fill_the_pool_and_a_client_that_leaves_stops_its_work(
    sample_cache, tmp_path_factory
):
    """Six heavy sitings from one address gave everyone else 503 for half a minute and ran
    on after their connections closed. Now that client gets its share (429 beyond it),
    another address is served, and a request whose client hangs up is stopped."""
    from conftest import running_server

    env = {"SC_CACHE_DIR": str(sample_cache), "SC_COMPUTE_WORKERS": "1",
           "SC_COMPUTE_QUEUE": "3"}  # fmt: skip
    with running_server(tmp_path_factory.mktemp("fair"), env) as url:

        def client(address: str, timeout: float = 300) -> httpx.Client:
            transport = httpx.HTTPTransport(local_address=address)
            return httpx.Client(base_url=url, timeout=timeout, transport=transport)

        study = httpx.get(f"{url}/studies").json()[0]["id"]
        west, south, east, north = httpx.get(f"{url}/studies/{study}").json()["bbox"]
        rng = np.random.default_rng(1)
        xs = rng.uniform(west, east, 2000).tolist()
        ys = rng.uniform(south, north, 2000).tolist()
        points = [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}}
            for x, y in zip(xs, ys, strict=True)
        ]

        def heavy(minutes: int) -> dict:
            candidates = {"type": "FeatureCollection", "features": points}
            return {"category": "pharmacy", "p": 8, "objective": "pmedian", "minutes": minutes,
                    "candidates": candidates}  # fmt: skip

        with client("127.0.0.2") as crowd, client("127.0.0.3") as neighbour:
            siting = f"/studies/{study}/siting"
            with ThreadPoolExecutor(6) as pool:
                sent = [pool.submit(crowd.post, siting, json=heavy(10 + i)) for i in range(6)]
                time.sleep(0.3)  # the crowd is in: now someone else asks
                params = {"category": "pharmacy", "minutes": "7"}
                other = neighbour.get(f"/studies/{study}/coverage", params=params)
                answers = [f.result() for f in sent]
        statuses = sorted(r.status_code for r in answers)
        assert set(statuses) <= {200, 429} and statuses.count(429) >= 1, statuses
        assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)
        assert other.status_code == 200, other.text  # not 503: the crowd holds its share only
        stopped_before = httpx.get(f"{url}/health").json()["stopped"]
        with client("127.0.0.4", timeout=0.5) as impatient, pytest.raises(httpx.TimeoutException):
            impatient.post(siting, json=heavy(14))  # gives up and hangs up
        health: dict = {}
        for _ in range(600):  # the server notices within a quarter second; bounded wait
            health = httpx.get(f"{url}/health").json()
            if health["stopped"] > stopped_before and health["running"] == 0:
                break
            time.sleep(0.1)
        assert health["stopped"] > stopped_before and health["running"] == 0, health


def test_a_computation_whose_client_left_is_stopped_and_its_worker_replaced(sample_cache):
    """Cancelled (its request's client gone): the worker process is killed, a new one takes
    its place, and the slot is free at once."""
    from service_circle_api.tasks import Task

    from service_circle.sample import sample_study

    study = sample_study(sample_cache)

    async def scenario():
        pool = ComputePool(1, 2, 120.0, {study.name: study}, processes=True)
        pool.start()
        try:
            job = asyncio.ensure_future(pool.run(Task(_stall, study.name, ())))
            await _until(lambda: pool.load["running"] == 1)
            waiting = asyncio.ensure_future(pool.run(Task(_stall, study.name, ())))
            await asyncio.sleep(0.05)
            assert pool.load == {"running": 1, "waiting": 1}
            waiting.cancel()  # gone while it waited
            job.cancel()  # gone while it ran
            for gone in (job, waiting):
                with pytest.raises(asyncio.CancelledError):
                    await gone
            assert pool.load == {"running": 0, "waiting": 0} and pool.stopped == 2
            assert await pool.run(Task(_answer, study.name, ())) == 42  # a fresh worker
        finally:
            pool.shutdown()

    asyncio.run(scenario())


def test_a_shared_computation_stops_only_when_its_last_client_has_gone(sample_cache):
    """Two clients asking the same question share one computation: one leaving does not
    stop it for the other; the last one leaving does."""
    from service_circle_api.registry import Registry
    from service_circle_api.tasks import Task

    from service_circle.sample import sample_study

    study = sample_study(sample_cache)

    async def scenario():
        pool = ComputePool(1, 2, 120.0, {study.name: study}, processes=True)
        pool.start()
        registry = Registry({study.name: study}, pool=pool)
        try:
            ask = [asyncio.ensure_future(registry.get(("same",), Task(_stall, study.name, ())))
                   for _ in range(2)]  # fmt: skip
            await _until(lambda: pool.load["running"] == 1)
            ask[0].cancel()
            with pytest.raises(asyncio.CancelledError):
                await ask[0]
            await asyncio.sleep(0.2)
            assert pool.load["running"] == 1 and pool.stopped == 0  # still asked for
            ask[1].cancel()
            with pytest.raises(asyncio.CancelledError):
                await ask[1]
            await _until(lambda: pool.load["running"] == 0)  # stopped when the loop gets to it
            assert pool.load == {"running": 0, "waiting": 0} and pool.stopped == 1
        finally:
            pool.shutdown()

    asyncio.run(scenario())


def test_a_freed_worker_goes_to_the_client_with_least_under_way():
    """One client's crowd waits its turn: another client's request, sent later, runs next."""
    from service_circle_api.compute import CLIENT, ClientBusyError

    async def scenario():
        pool = ComputePool(1, 3, 60.0, per_client=2, processes=False)
        order: list[str] = []
        gate = threading.Event()

        def job(name: str):
            def run():
                gate.wait(10)
                order.append(name)
                return name

            return run

        async def ask(client: str, name: str):
            CLIENT.set(client)
            return await pool.run(job(name))

        crowd = [asyncio.ensure_future(ask("a", f"a{i}")) for i in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(ClientBusyError) as refused:  # its share is 2: 429, not the pool
            await ask("a", "a-more")
        assert refused.value.retry_after_s >= 1
        other = asyncio.ensure_future(ask("b", "b0"))
        await asyncio.sleep(0.05)
        gate.set()
        assert sorted(await asyncio.gather(*crowd, other)) == ["a0", "a1", "b0"]
        assert order == ["a0", "b0", "a1"], order  # b0 came last and was served second
        pool.shutdown()

    asyncio.run(scenario())


async def _until(condition, tries: int = 6000) -> None:
    """Wait for ``condition``, a bounded number of times (a guard, not a measure of speed)."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the pool never reached the state waited for")


def _stall(study) -> None:
    """A computation that runs until it is stopped (checks the time limit, like the library)."""
    from service_circle._deadline import check

    while True:
        check()
        time.sleep(0.01)


def _answer(study) -> int:
    return 42


def _loop_until_stopped() -> None:
    from service_circle._deadline import check

    while True:
        check()
        time.sleep(0.001)


@pytest.mark.slow
def test_health_stays_fast_while_computations_fill_the_pool(sample_cache, tmp_path_factory):
    """64-client-style load on one worker: /health answers throughout, the rest 503 +
    Retry-After. (How fast it answers is measured by bench/api.py, not asserted here.)"""
    from conftest import running_server

    env = {"SC_CACHE_DIR": str(sample_cache), "SC_COMPUTE_WORKERS": "1",
           "SC_COMPUTE_QUEUE": "1"}  # fmt: skip
    with running_server(tmp_path_factory.mktemp("load"), env) as url:
        study = httpx.get(f"{url}/studies").json()[0]["id"]
        stop = time.monotonic() + 6
        statuses: list[int] = []
        retry_after: list[str] = []

        def heavy(i: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                while time.monotonic() < stop:
                    body = {"category": "pharmacy", "p": 2, "objective": "pmedian",
                            "minutes": 10 + i % 5}  # fmt: skip
                    r = c.post(f"/studies/{study}/siting", json=body)
                    statuses.append(r.status_code)
                    if r.status_code in (429, 503):
                        retry_after.append(r.headers.get("retry-after", ""))
                        time.sleep(0.05)

        latencies: list[float] = []

        def health() -> None:
            time.sleep(0.5)  # let the load build up
            with httpx.Client(base_url=url, timeout=10) as c:
                while time.monotonic() < stop:
                    began = time.perf_counter()
                    assert c.get("/health").status_code == 200
                    latencies.append(time.perf_counter() - began)
                    time.sleep(0.02)

        with ThreadPoolExecutor(13) as pool:
            jobs = [pool.submit(heavy, i) for i in range(12)] + [pool.submit(health)]
            for job in jobs:
                job.result()
        assert set(statuses) <= {200, 429, 503}, sorted(set(statuses))
        refused = statuses.count(429) + statuses.count(503)  # one client: its share is 429
        assert statuses.count(200) >= 2 and refused >= 10
        assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after)
        assert latencies, "/health was never answered while the pool was full"
