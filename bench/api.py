"""Benchmark: the HTTP API on a real uvicorn server, with 1, 8 and 32 concurrent clients.

Run ``python bench/api.py [--workers 2]``. It starts ``service-circle serve`` on a free
loopback port (the bundled sample unless ``--studies DIR``), warms each endpoint once (so
cached endpoints are measured cached), then for each endpoint and concurrency sends
requests from that many concurrent clients (each on its own kept-alive connection, opened
by one unmeasured request) for at most ``--seconds`` or ``--requests``, whichever comes
first, and prints p50/p95 latency and throughput of the answered requests (200). A
computation turned away because every compute worker is busy (503 with Retry-After:
admission control, answered at once) is counted as ``busy``, apart from ``errors``
(anything else). The last rows are a mixed load: cached gaps and ``/health`` measured while
other clients keep asking for computed reaches.

The clients are lean: raw HTTP/1.1 on asyncio streams, the request bytes built once, the
answer read by its Content-Length — an httpx client saturates near 160 requests a second
on these cores and would measure itself. Target: p95 under 100 ms at 32 clients for cached
routes, and for ``/health`` while computations run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def start(studies: str | None, workers: int = 1) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", str(workers)]
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


def request_bytes(url: str, method: str, path: str, body) -> bytes:
    """One HTTP/1.1 request, kept alive, as bytes."""
    host = url.removeprefix("http://")
    payload = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n"
    if payload:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


async def exchange(reader, writer, request: bytes) -> int:
    """Send one request on a kept-alive connection; read its answer whole; its status."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    length, retry = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        retry |= name.lower() == "retry-after"
    await reader.readexactly(length)
    status = int(status_line.split()[1])
    return 1503 if status == 503 and retry else status


async def load(url, method, path, body, clients: int, max_requests: int, seconds: float,
               background: tuple | None = None):  # fmt: skip
    """Latencies of ``clients`` clients on one route.

    With ``background`` (method, path, body, clients), other clients keep another route
    busy meanwhile, unmeasured.
    """
    latencies: list[float] = []
    errors = busy = 0
    stop = time.perf_counter() + seconds
    sent = 0
    host, port = url.removeprefix("http://").split(":")
    request = request_bytes(url, method, path, body)

    async def client(req: bytes, measured: bool):
        nonlocal sent, errors, busy
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            # the first request opens the connection: not measured (kept alive afterwards,
            # as a browser or another service would)
            await exchange(reader, writer, req)
            while time.perf_counter() < stop and (not measured or sent < max_requests):
                t0 = time.perf_counter()
                status = await exchange(reader, writer, req)
                if not measured:
                    if status == 1503:
                        await asyncio.sleep(0.05)  # turned away: try again shortly
                    continue
                sent += 1
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                elif status == 1503:
                    busy += 1
                else:
                    errors += 1
        finally:
            writer.close()

    others = []
    if background is not None:
        b_method, b_path, b_body, b_clients = background
        b_request = request_bytes(url, b_method, b_path, b_body)
        others = [client(b_request, False) for _ in range(b_clients)]
    start = time.perf_counter()
    await asyncio.gather(*(client(request, True) for _ in range(clients)), *others)
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
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    args = parser.parse_args()
    proc, url = start(args.studies, args.workers)
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
        # cached answers and /health while 4 other clients keep asking for computations
        reach = ("POST", f"/studies/{sid}/reach", centre, 4)
        for name, path in (("health, reaches running", "/health"),
                           ("gaps (cached), reaches running",
                            f"/studies/{sid}/gaps?category=pharmacy&minutes=5")):  # fmt: skip
            stats = asyncio.run(load(url, "GET", path, None, 32, args.requests, args.seconds,
                                     background=reach))  # fmt: skip
            rows.append({"endpoint": name, "clients": 32, **stats})
            print(f"  {name} × 32: p95 {stats['p95_ms']:.1f} ms", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(
        f"\nAPI on uvicorn ({args.workers} server process(es) and their compute workers, "
        f"{os.cpu_count()} cores shared with the clients), study {sid!r}; latencies of "
        "answered requests\n"
    )
    print_table(rows, ["endpoint", "clients", "requests", "answered", "busy", "errors",
                       "p50_ms", "p95_ms", "answered_per_s"])  # fmt: skip


if __name__ == "__main__":
    main()
