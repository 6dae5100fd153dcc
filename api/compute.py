"""Where the API computes: a bounded pool of worker processes, apart from the event loop.

The event loop only routes requests, answers ``/health`` and serves cached results; every
computation (coverage, gaps, isochrones, reach, neighbourhoods, siting, reports, maps) is
a :class:`~api.tasks.Task` run by one of ``SC_COMPUTE_WORKERS`` worker processes under a
wall-time limit that covers its wait in the queue too. At most ``SC_COMPUTE_QUEUE`` more
may wait; a computation beyond that is refused at once with :class:`BusyError` (503 with
``Retry-After``), so a crowd of heavy requests queues nowhere.

Processes, not threads: parts of a computation (the HiGHS solve, GEOS, pandas) hold
Python's GIL for tens of milliseconds, which would stall the event loop; a process has a
GIL of its own. The library checks the time limit in its long loops and stops cleanly; a
computation still running at its limit (a step that cannot be interrupted) has its worker
killed — a hard limit, which also gives its memory back — and a new worker takes its
place.

Workers are forked, so they share the loaded studies with the server (copy-on-write).
They are forked by a *zygote*: a process forked once, single-threaded, when the studies
have loaded, which forks every worker and every replacement — so no worker is ever forked
from the multi-threaded server. Where ``fork`` does not exist (Windows) the same pool runs
threads instead, with the same admission control and the cooperative limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import ctypes.util
import logging
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from service_circle_api.tasks import Task

from service_circle._deadline import time_limit
from service_circle._errors import ServiceCircleError, TimeLimitError

logger = logging.getLogger(__name__)

#: A computation that took longer than this gives its freed memory back to the system.
TRIM_AFTER_S = 1.0
#: How long past its limit a computation runs before its worker is killed.
GRACE_S = 2.0


#: Who asks for the computation under way: the client's address, set per request by the
#: app (:func:`service_circle_api.main.create_app`); the pool shares its workers by it.
CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("sc_client", default="local")


class BusyError(Exception):
    """Every compute slot is taken: try again after ``retry_after_s`` seconds (503)."""

    status_code = 503

    def __init__(self, running: int, waiting: int, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(
            f"busy: {running} computations running and {waiting} waiting "
            f"(SC_COMPUTE_WORKERS, SC_COMPUTE_QUEUE); try again in {retry_after_s} s"
        )


class ClientBusyError(BusyError):
    """A client already holds its share of the pool: try again later (429)."""

    status_code = 429

    def __init__(self, held: int, share: int, retry_after_s: int):
        self.retry_after_s = retry_after_s
        Exception.__init__(
            self,
            f"too many computations at once from this client: {held} under way, its share of "
            f"the pool is {share} (SC_COMPUTE_PER_CLIENT), so that others are served too; try "
            f"again in {retry_after_s} s",
        )


class WorkerLostError(ServiceCircleError, RuntimeError):
    """A worker process ended in the middle of a computation (out of memory, killed)."""


def _malloc_trim() -> Callable[[], None]:
    """Glibc's ``malloc_trim(0)`` where there is one (returns freed heap to the system)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    return (lambda: trim(0)) if trim is not None else (lambda: None)


def can_fork() -> bool:
    """Whether worker processes can be forked here (not on Windows)."""
    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


class ComputePool:
    """A bounded pool with admission control and a time limit per computation.

    Parameters
    ----------
    workers
        Computations running at once.
    queue
        Computations that may wait for a worker; more are refused with :class:`BusyError`.
    time_limit_s
        The default wall-time limit of a computation, from when it is admitted.
    studies
        The studies tasks run on, by id.
    processes
        Run tasks in forked worker processes (default: where the platform can fork).
    per_client
        Computations one client (:data:`CLIENT`) may have running or waiting at once
        (default: all of ``workers + queue`` but one, at least one: a slot always stays for
        someone else, and the fair queue serves them next); more are refused with
        :class:`ClientBusyError`. A freed worker goes to the waiting client with the fewest
        computations running, so that one client's crowd of requests cannot hold the pool.
    """

    def __init__(
        self,
        workers: int,
        queue: int,
        time_limit_s: float,
        studies: dict | None = None,
        *,
        processes: bool | None = None,
        per_client: int | None = None,
    ):
        self.workers = workers
        self.queue = queue
        self.time_limit_s = time_limit_s
        self.studies = studies or {}
        self.processes = can_fork() if processes is None else processes and can_fork()
        self.per_client = per_client or max(1, workers + queue - 1)
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._held: dict[str, int] = {}  # client → computations admitted
        self._served: dict[str, float] = {}  # client → when it was last handed a worker
        self.stopped = 0  # computations stopped because their client had gone
        self._began: dict[int, float] = {}  # computation → when it reached a worker
        self._mean_s = 1.0
        self._started = False
        self._threads: ThreadPoolExecutor | None = None
        self._zygote: _Zygote | None = None
        self._free: list[Any] = []  # workers (processes) or slots (threads) free now
        self._waiting: list[tuple[str, int, asyncio.Future]] = []
        self._tickets = 0
        self._trim = _malloc_trim()

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Start the workers (processes fork here, once the studies are loaded)."""
        if self._started:
            return
        self._started = True
        if not self.processes:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="sc-compute")
            self._free = list(range(self.workers))  # slots: a thread takes one to run
            return
        self._zygote = _Zygote(self.studies)
        self._free = [self._zygote.spawn() for _ in range(self.workers)]

    def shutdown(self) -> None:
        """Stop the workers; running computations are abandoned."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        if self._zygote is not None:
            self._zygote.stop()
        self._started = False

    @property
    def load(self) -> dict[str, int]:
        """Computations running and waiting now."""
        with self._lock:
            return {"running": self._running, "waiting": self._admitted - self._running}

    # ------------------------------------------------------------------ running
    def _retry_after(self, ahead: int) -> int:
        """Seconds until ``ahead`` more computations have likely finished (with the lock).

        A computation is taken to last the recent mean, or as long as the longest one
        running has already taken when that is longer (a crowd of slow requests shows in
        the estimate at once, not only once they end); never more than the time limit.
        """
        now = time.monotonic()
        longest = max((now - t for t in self._began.values()), default=0.0)
        typical = max(self._mean_s, longest)
        waves = math.ceil(max(ahead, 1) / self.workers)
        return int(min(self.time_limit_s + GRACE_S, max(1, math.ceil(typical * waves))))

    def _admit(self, client: str) -> None:
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                retry = self._retry_after(self._admitted + 1 - self.workers)
                raise BusyError(self._running, self._admitted - self._running, retry)
            held = self._held.get(client, 0)
            if held >= self.per_client:
                raise ClientBusyError(held, self.per_client, self._retry_after(held))
            self._held[client] = held + 1
            self._admitted += 1

    def _done(self, client: str, took_s: float, ran: bool) -> None:
        with self._lock:
            self._admitted -= 1
            self._held[client] -= 1
            if not self._held[client]:
                del self._held[client]
                self._served.pop(client, None)
            if ran:
                self._running -= 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * took_s

    def _on_worker(self, ticket: int, on: bool) -> None:
        with self._lock:
            if on:
                self._running += 1
                self._began[ticket] = time.monotonic()
            else:
                self._began.pop(ticket, None)

    async def _acquire(self, client: str) -> _Worker:
        """A free worker; while none is, wait in the fair queue (see :meth:`_dispatch`)."""
        self._tickets += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.append((client, self._tickets, future))
        self._dispatch()
        try:
            return await future
        except BaseException:
            self._waiting = [w for w in self._waiting if w[2] is not future]
            if future.done() and not future.cancelled() and future.exception() is None:
                self._release(future.result())  # handed a worker as it was given up
            raise

    def _release(self, worker: _Worker) -> None:
        self._free.append(worker)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free workers to the waiting.

        The client with the fewest computations under way (running or waiting) goes
        first, then the one served longest ago, then whoever came first: a client that sent
        many requests at once is served in turn with the others, not before them.
        """
        while self._free and self._waiting:
            best = min(range(len(self._waiting)),
                       key=lambda i: (self._held.get(self._waiting[i][0], 0),
                                      self._served.get(self._waiting[i][0], -math.inf),
                                      self._waiting[i][1]))  # fmt: skip
            client, _, future = self._waiting.pop(best)
            if future.done():
                continue
            self._served[client] = time.monotonic()
            future.set_result(self._free.pop())

    async def run(
        self, task: Task | Callable[[], Any], *, time_limit_s: float | None = None
    ) -> Any:
        """Run a task in the pool under its time limit and await its result.

        Raises
        ------
        BusyError
            When every worker is busy and the queue is full.
        TimeLimitError
            When it runs past its limit, counted from admission.
        WorkerLostError
            When its worker process ended without an answer (out of memory?).
        """
        if not self._started:
            self.start()
        limit = time_limit_s or self.time_limit_s
        client = CLIENT.get()
        self._admit(client)
        admitted = time.monotonic()
        if self.processes and isinstance(task, Task):
            return await self._run_in_process(task, limit, admitted, client)
        return await self._run_in_thread(task, limit, admitted, client)

    async def _wait_for_worker(self, client: str, limit: float) -> tuple[Any, int]:
        """A worker (or a thread's slot) for an admitted computation, and its ticket.

        A computation that waits past its limit, or whose client goes while it waits, gives
        its admission back.
        """
        try:
            worker = await asyncio.wait_for(self._acquire(client), timeout=limit)
        except TimeoutError:
            self._done(client, 0.0, False)
            raise TimeLimitError(
                f"the computation waited past its time limit of {limit:g} s for a worker"
            ) from None
        except BaseException:  # cancelled while waiting: its client went away
            self._done(client, 0.0, False)
            self.stopped += 1
            raise
        self._tickets += 1
        return worker, self._tickets

    async def _run_in_thread(self, task, limit: float, admitted: float, client: str):
        if self._threads is None:  # a plain callable on a process pool
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="sc-compute")
        call = (lambda: task.run(self.studies)) if isinstance(task, Task) else task
        slot, ticket = await self._wait_for_worker(client, limit)
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        left = limit - (began - admitted)
        self._on_worker(ticket, True)

        def job():
            with time_limit(max(left, 1e-3)):
                return call()

        def finished(_) -> None:  # a thread cannot be killed: its slot is free when it ends
            self._on_worker(ticket, False)
            self._done(client, time.monotonic() - began, True)
            with contextlib.suppress(RuntimeError):  # the loop has closed: the pool too
                loop.call_soon_threadsafe(self._release, slot)

        context = contextvars.copy_context()
        future = self._threads.submit(context.run, job)
        future.add_done_callback(finished)
        try:
            # answered within the limit even when a step cannot be interrupted; the thread
            # stays counted as busy until that step ends
            waited = asyncio.wrap_future(future)
            return await asyncio.wait_for(asyncio.shield(waited), timeout=left + GRACE_S)
        except TimeoutError:
            raise TimeLimitError(
                f"the computation did not finish within its time limit of {limit:g} s"
            ) from None

    async def _run_in_process(self, task: Task, limit: float, admitted: float, client: str):
        assert self._zygote is not None
        worker, ticket = await self._wait_for_worker(client, limit)
        self._on_worker(ticket, True)
        began = time.monotonic()
        left = limit - (began - admitted)
        healthy = True
        try:
            reply = await asyncio.wait_for(worker.ask(task, left), timeout=left + GRACE_S)
        except TimeoutError:
            healthy = False
            raise TimeLimitError(
                f"the computation did not finish within its time limit of {limit:g} s: stopped"
            ) from None
        except WorkerLostError:
            healthy = False
            raise
        except BaseException:  # the client went away: the computation is stopped with it
            healthy = False
            self.stopped += 1
            raise
        finally:
            self._on_worker(ticket, False)
            if healthy:
                self._release(worker)
            else:
                worker.kill()
                self._release(self._zygote.spawn())
            self._done(client, time.monotonic() - began, True)
        ok, value = reply
        if ok:
            return value
        raise value


# ---------------------------------------------------------------------- processes
class _Worker:
    """A worker process and the connection to it."""

    def __init__(self, pid: int, conn: Connection):
        self.pid = pid
        self.conn = conn
        self._jobs = 0

    async def ask(self, task: Task, limit_s: float) -> tuple[bool, Any]:
        """Send a task, await ``(ok, value)``."""
        loop = asyncio.get_running_loop()
        self._jobs += 1
        self.conn.send((self._jobs, task, limit_s))
        answer: asyncio.Future = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if answer.done():
                return
            try:
                _job, ok, value = self.conn.recv()
            except (EOFError, OSError):
                answer.set_exception(
                    WorkerLostError(
                        "the computation's worker process ended without an answer (out of "
                        "memory, or killed): try a smaller request"
                    )
                )
                return
            answer.set_result((ok, value))

        loop.add_reader(fd, readable)
        try:
            return await answer
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        """End the process at once (SIGKILL) and close the connection."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.conn.close()


class _Zygote:
    """A single-threaded process that forks the workers, holding the loaded studies."""

    def __init__(self, studies: dict):
        context = multiprocessing.get_context("fork")
        self._sock, theirs = socket.socketpair()
        self._process = context.Process(
            target=_zygote_main, args=(theirs, studies), name="sc-zygote", daemon=True
        )
        self._process.start()
        theirs.close()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []

    def spawn(self) -> _Worker:
        """A new worker, forked by the zygote, connected to this process."""
        ours, theirs = socket.socketpair()
        with self._lock:
            socket.send_fds(self._sock, [b"spawn"], [theirs.fileno()])
            theirs.close()
            pid = int.from_bytes(_receive(self._sock, 8), "little")
        worker = _Worker(pid, Connection(ours.detach()))
        self._workers.append(worker)
        self._workers = [w for w in self._workers if not w.conn.closed]
        return worker

    def stop(self) -> None:
        """Stop the zygote and every worker."""
        for worker in self._workers:
            if not worker.conn.closed:
                worker.kill()
        self._sock.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise WorkerLostError("the compute zygote process ended: restart the service")
        data += chunk
    return data


def _zygote_main(sock: socket.socket, studies: dict) -> None:
    """Fork a worker for each request; the kernel reaps them (SIGCHLD ignored)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 16, 1)
        except OSError:
            return
        if message != b"spawn" or not fds:
            return
        pid = os.fork()
        if pid == 0:
            sock.close()
            code = 0
            try:
                _worker_main(Connection(fds[0]), studies)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        sock.sendall(pid.to_bytes(8, "little"))


def _worker_main(conn: Connection, studies: dict) -> None:
    """Run tasks until the server closes the connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    trim = _malloc_trim()
    while True:
        try:
            job, task, limit_s = conn.recv()
        except (EOFError, OSError):
            return
        began = time.monotonic()
        try:
            with time_limit(max(limit_s, 1e-3)):
                reply = (job, True, task.run(studies))
        except BaseException as exc:  # sent back and raised by the server
            reply = (job, False, _portable(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # a result that cannot be pickled
            conn.send((job, False, RuntimeError(f"the result could not be sent: {exc}")))
        if time.monotonic() - began > TRIM_AFTER_S:
            trim()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it pickles (the library's errors do), else a RuntimeError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
