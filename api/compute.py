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


class BusyError(Exception):
    """Every compute slot is taken: try again after ``retry_after_s`` seconds."""

    def __init__(self, running: int, waiting: int, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(
            f"busy: {running} computations running and {waiting} waiting "
            f"(SC_COMPUTE_WORKERS, SC_COMPUTE_QUEUE); try again in {retry_after_s} s"
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
    """

    def __init__(
        self,
        workers: int,
        queue: int,
        time_limit_s: float,
        studies: dict | None = None,
        *,
        processes: bool | None = None,
    ):
        self.workers = workers
        self.queue = queue
        self.time_limit_s = time_limit_s
        self.studies = studies or {}
        self.processes = can_fork() if processes is None else processes and can_fork()
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._mean_s = 1.0
        self._started = False
        self._threads: ThreadPoolExecutor | None = None
        self._zygote: _Zygote | None = None
        self._idle: asyncio.Queue[_Worker] | None = None
        self._trim = _malloc_trim()

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Start the workers (processes fork here, once the studies are loaded)."""
        if self._started:
            return
        self._started = True
        if not self.processes:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="sc-compute")
            return
        self._zygote = _Zygote(self.studies)
        self._idle = asyncio.Queue()
        for _ in range(self.workers):
            self._idle.put_nowait(self._zygote.spawn())

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
    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                waves = math.ceil((self._admitted + 1) / self.workers)
                retry = int(min(60, max(1, math.ceil(self._mean_s * waves))))
                raise BusyError(self._running, self._admitted - self._running, retry)
            self._admitted += 1

    def _done(self, took_s: float, ran: bool) -> None:
        with self._lock:
            self._admitted -= 1
            if ran:
                self._running -= 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * took_s

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
        self._admit()
        admitted = time.monotonic()
        if self.processes and isinstance(task, Task):
            return await self._run_in_process(task, limit, admitted)
        return await self._run_in_thread(task, limit, admitted)

    async def _run_in_thread(self, task, limit: float, admitted: float):
        if self._threads is None:  # a plain callable on a process pool
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="sc-compute")
        call = (lambda: task.run(self.studies)) if isinstance(task, Task) else task
        began = [0.0]  # set when the job starts (0 while it waits)

        def job():
            with self._lock:
                self._running += 1
            began[0] = time.monotonic()
            left = limit - (began[0] - admitted)
            if left <= 0:
                raise TimeLimitError(
                    f"the computation waited past its time limit of {limit:g} s for a worker"
                )
            with time_limit(left):
                return call()

        context = contextvars.copy_context()
        future = self._threads.submit(context.run, job)
        future.add_done_callback(lambda _: self._done(time.monotonic() - began[0], began[0] > 0))
        try:
            # answered within the limit even when a step cannot be interrupted; the thread
            # stays counted as busy until that step ends
            waited = asyncio.wrap_future(future)
            return await asyncio.wait_for(asyncio.shield(waited), timeout=limit + GRACE_S)
        except TimeoutError:
            raise TimeLimitError(
                f"the computation did not finish within its time limit of {limit:g} s"
            ) from None

    async def _run_in_process(self, task: Task, limit: float, admitted: float):
        assert self._idle is not None and self._zygote is not None
        try:
            worker = await asyncio.wait_for(self._idle.get(), timeout=limit)
        except TimeoutError:
            self._done(0.0, False)
            raise TimeLimitError(
                f"the computation waited past its time limit of {limit:g} s for a worker"
            ) from None
        with self._lock:
            self._running += 1
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
        except BaseException:  # the client went away: the worker's answer is unknown
            healthy = False
            raise
        finally:
            if healthy:
                self._idle.put_nowait(worker)
            else:
                worker.kill()
                self._idle.put_nowait(self._zygote.spawn())
            self._done(time.monotonic() - began, True)
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
