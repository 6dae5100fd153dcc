"""Benchmark: the HTTP API on a real uvicorn server, with 1, 8 and 32 concurrent clients.

Run ``python bench/api.py``. It starts ``service-circle serve`` on a free loopback port
(the bundled sample unless ``--studies DIR``), warms each endpoint once (so cached
endpoints are measured cached), then for each endpoint and concurrency sends requests from
that many concurrent clients (each on its own kept-alive connection, opened by one
unmeasured request) for at most ``--seconds`` or ``--requests``, whichever comes first,
and prints p50/p95 latency and throughput of the answered requests (200). A computation
turned away because every compute worker is busy (503 with Retry-After: admission control,
answered at once) is counted as ``busy``, apart from ``errors`` (anything else). Target:
p95 under 100 ms for a cached gaps request on the sample.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table

SERVE = "import sys; from service_circle.cli import main; sys.exit(main(sys.argv[1:]))"


def start(studies: str | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-c", SERVE, "serve", "--port", str(port)]
    if studies:
        args += ["--studies", studies]
    env = {**os.environ}
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115
    # access logs would measure the terminal: keep them in a file
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {log.name}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


async def load(url, method, path, body, clients: int, max_requests: int, seconds: float):
    latencies: list[float] = []
    errors = busy = 0
    stop = time.perf_counter() + seconds
    sent = 0
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker():
            nonlocal sent, errors, busy
            # each client's first request opens its connection: not measured (keep-alive
            # afterwards, as a browser or another service would)
            await client.request(method, path, json=body)
            while sent < max_requests and time.perf_counter() < stop:
                sent += 1
                t0 = time.perf_counter()
                response = await client.request(method, path, json=body)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - t0)
                elif response.status_code == 503 and "retry-after" in response.headers:
                    busy += 1
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": sent,
        "answered": len(ms),
        "busy": busy,
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
        "p95_ms": float(np.percentile(ms, 95)) if len(ms) else float("nan"),
        "answered_per_s": len(ms) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", help="a folder of studies (default: the sample)")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=400, help="most per endpoint and level")
    parser.add_argument("--seconds", type=float, default=8.0, help="longest per endpoint and level")
    args = parser.parse_args()
    proc, url = start(args.studies)
    try:
        study = httpx.get(f"{url}/studies").json()[0]
        sid = study["id"]
        west, south, east, north = study["bbox"]
        centre = {"lon": (west + east) / 2, "lat": (south + north) / 2, "minutes": 10}
        endpoints = [
            ("health", "GET", "/health", None),
            ("coverage", "GET", f"/studies/{sid}/coverage?minutes=5,10,15", None),
            ("gaps (cached)", "GET", f"/studies/{sid}/gaps?category=pharmacy&minutes=5", None),
            ("isochrones (cached)", "GET",
             f"/studies/{sid}/isochrones?category=pharmacy&minutes=5,10,15", None),
            ("reach (computed)", "POST", f"/studies/{sid}/reach", centre),
        ]  # fmt: skip
        rows = []
        for name, method, path, body in endpoints:
            httpx.request(method, url + path, json=body, timeout=120)  # warm the cache
            for clients in (int(c) for c in args.clients.split(",")):
                stats = asyncio.run(
                    load(url, method, path, body, clients, args.requests, args.seconds)
                )
                rows.append({"endpoint": name, "clients": clients, **stats})
                print(f"  {name} × {clients}: p95 {stats['p95_ms']:.1f} ms", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(
        f"\nAPI on uvicorn (the event loop and its compute workers, {os.cpu_count()} cores "
        f"shared with the clients), study {sid!r}; latencies of answered requests\n"
    )
    print_table(rows, ["endpoint", "clients", "requests", "answered", "busy", "errors",
                       "p50_ms", "p95_ms", "answered_per_s"])  # fmt: skip


if __name__ == "__main__":
    main()
