"""The API on a real uvicorn server (started with `service-circle serve`).

Schemathesis against the same server is in ``test_api_schema.py``.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import SERVE


def test_live_gaps_siting_and_errors(live):
    with httpx.Client(base_url=live, timeout=60) as client:
        study = client.get("/studies").json()[0]["id"]
        gaps = client.get(f"/studies/{study}/gaps", params={"category": "pharmacy", "minutes": 5})
        assert gaps.status_code == 200
        assert gaps.headers["content-type"].startswith("application/geo+json")
        assert gaps.json()["features"]
        sites = client.post(f"/studies/{study}/siting",
                            json={"category": "pharmacy", "p": 1, "minutes": 5})  # fmt: skip
        assert sites.status_code == 200 and sites.json()["summary"]["sites"] == 1
        missing = client.get("/studies/nowhere")
        assert missing.status_code == 404 and "nowhere" in missing.text
        bad = client.post(f"/studies/{study}/reach", content=b"{not json",
                          headers={"content-type": "application/json"})  # fmt: skip
        assert bad.status_code == 422


def test_live_concurrent_clients_get_the_same_answer(live):
    params = {"category": "convenience_store", "minutes": "5,10,15"}

    def fetch(_):
        with httpx.Client(base_url=live, timeout=60) as client:
            study = client.get("/studies").json()[0]["id"]
            response = client.get(f"/studies/{study}/isochrones", params=params)
            return response.status_code, response.content

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(8)))
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1


def test_serve_refuses_an_empty_studies_folder(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", SERVE, "serve", "--studies", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "holds no study folder" in run.stderr and "Traceback" not in run.stderr


def test_serve_with_several_workers_answers_from_each(sample_cache, tmp_path):
    """`serve --workers 2`: two uvicorn processes, each with the studies, the same answers."""
    from conftest import running_server

    env = {"SC_CACHE_DIR": str(sample_cache), "SC_COMPUTE_PROCESSES": "false"}
    with (
        running_server(tmp_path, env, ("--workers", "2")) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        study = client.get("/studies").json()[0]["id"]
        answers = {client.get(f"/studies/{study}/coverage", params={"minutes": 10}).text
                   for _ in range(6)}  # fmt: skip
    assert len(answers) == 1 and "pharmacy" in answers.pop()
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert "2 worker processes" in log and log.count("Application startup complete") == 2
