"""Writing safely: files renamed into place, folders published whole, never over others'.

:func:`atomic_write` writes a file to a temporary name beside the target and renames it
over the target, so that a reader never sees half a file and a failed run leaves the
previous file in place.

Every command that writes a folder (``build``, ``analyze``, ``site``, ``demo``) goes
through :func:`publishing`:

1. **Refuse what is not ours.** The target must be new, empty, or a folder service-circle
   wrote: only the marker file :data:`MARKER`, which lists every file the run wrote, grants
   replacing them (a folder of files that merely carry our names is not ours). The target
   never equals or contains an input of the run. One writer at a time: a second run on the
   same folder is refused while the first holds its lock (``.NAME.lock`` beside it).
   Anything else is refused with one line; nothing is deleted.
2. **Stage.** The run writes into a hidden sibling, ``.NAME.staging-PID-XXXX``.
3. **Publish together.** The marker (what was written, by which command, when) is
   written last into the staging folder; files in the old folder that service-circle did
   not write — at any depth, e.g. a planner's note inside ``study/`` — are carried over
   (hard links); then the old folder is renamed away
   (``.NAME.old-PID-XXXX``), the staging folder renamed into place, and the old one
   removed.
4. **Recover.** A crash leaves the previous complete folder, or the new one, and hidden
   leftovers: the next run (or :func:`recover`, which :meth:`Study.load
   <service_circle.study.Study.load>` and the API call) renames a lone old folder back
   and removes staging folders whose process is gone. Hidden folders are never loaded as
   studies.

For tests, the environment variable ``SERVICE_CIRCLE_FAILPOINT`` names a point of step 3
(``staged``, ``swapped``, ``published``) at which the process kills itself with SIGKILL,
so that a crash is injected exactly there instead of raced with a timer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from service_circle._errors import InputError

logger = logging.getLogger(__name__)

#: The marker file of a folder service-circle wrote.
MARKER = ".service-circle.json"
FAILPOINT_ENV = "SERVICE_CIRCLE_FAILPOINT"
_HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<kind>staging|old)-(?P<pid>\d+)-[0-9a-f]+$")


def _failpoint(name: str) -> None:
    if os.environ.get(FAILPOINT_ENV) == name:
        logger.warning("failpoint %s: killing the process", name)
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(folder: Path) -> list[tuple[Path, str, int]]:
    """Hidden staging/old siblings of ``folder``: (path, kind, pid), newest first."""
    parent = folder.parent
    if not parent.is_dir():
        return []
    found = []
    for entry in parent.iterdir():
        match = _HIDDEN.match(entry.name)
        if match and match.group("name") == folder.name and entry.is_dir():
            found.append((entry, match.group("kind"), int(match.group("pid"))))
    found.sort(key=lambda item: item[0].stat().st_mtime, reverse=True)
    return found


def is_hidden_leftover(path: Path) -> bool:
    """Whether ``path`` is a staging or old folder left by a run (never a study)."""
    return bool(_HIDDEN.match(path.name))


def leftover_of(path: Path) -> Path | None:
    """The folder a staging or old folder was left for, or None if it is not one."""
    match = _HIDDEN.match(path.name)
    return path.with_name(match.group("name")) if match else None


def recover(folder: str | os.PathLike) -> bool:
    """Put back a folder whose last run crashed between its two renames; tidy leftovers.

    A missing ``folder`` with an ``.old`` sibling is renamed back (the previous complete
    result). Staging and old siblings of processes that are gone are removed.

    Returns
    -------
    bool
        Whether a folder was put back.
    """
    folder = Path(folder)
    restored = False
    for path, kind, pid in _leftovers(folder):
        if _pid_alive(pid) and pid != os.getpid():
            continue  # another run is working on it
        if kind == "old" and not folder.exists():
            path.rename(folder)
            logger.warning("%s: put back the previous result after a crashed run", folder)
            restored = True
            continue
        shutil.rmtree(path, ignore_errors=True)
        logger.info("%s: removed %s left by a crashed run", folder, path.name)
    return restored


def _written_names(folder: Path) -> set[str] | None:
    """The paths (relative, ``/``-separated) service-circle wrote in ``folder``.

    They come from its marker; None if it has no marker (then it is not ours, whatever its
    files are called). Markers of earlier versions list top-level names only: a folder named
    there counts as written whole.
    """
    marker = folder / MARKER
    if not marker.is_file() or marker.is_symlink():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        if data.get("written_by") != "service-circle":
            return None
        return {str(n) for n in data.get("files", [])}
    except (OSError, ValueError, AttributeError):
        return None


def _ours(rel: str, written: set[str]) -> bool:
    """Whether the path ``rel`` of a folder was written by the run that listed ``written``."""
    parts = rel.split("/")
    return any("/".join(parts[: i + 1]) in written for i in range(len(parts)))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_inputs(
    folder: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None], *,
    option: str = "--out",
) -> None:  # fmt: skip
    """Refuse an output folder that equals or contains an input of the run.

    Parameters
    ----------
    folder
        The output folder.
    inputs
        Option → path of each input file or folder (``None`` and URLs are skipped).
    option
        The option that named ``folder``, for messages.
    """
    out = Path(folder).resolve()
    for name, value in inputs.items():
        if value is None or "://" in str(value) or ":" in str(value).split("/")[0]:
            continue
        path = Path(value).resolve()
        if path.exists() and _inside(path, out):
            what = "is" if path == out else "holds"
            raise InputError(
                f"{option} {folder}: it {what} the input {name} {value}; nothing was changed: "
                "give an output folder outside the inputs"
            )


def check_target(
    folder: str | os.PathLike, *, option: str = "--out",
    inputs: Mapping[str, str | os.PathLike | None] | None = None,
) -> None:  # fmt: skip
    """Refuse a target that holds an input, or exists and is not empty or ours.

    See the module docstring.
    """
    if inputs:
        check_inputs(folder, inputs, option=option)
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(
            f"{option} {folder}: a file of that name exists; give a folder path that is new, "
            "empty, or written by service-circle"
        )
    entries = sorted(p.name for p in folder.iterdir())
    if not entries or _written_names(folder) is not None:
        return
    shown = ", ".join(entries[:5]) + (" …" if len(entries) > 5 else "")
    raise InputError(
        f"{option} {folder}: the folder holds files service-circle did not write ({shown}); "
        "nothing was changed: give a new or empty folder, or one written by service-circle"
    )


def _carry_foreign(old: Path, staging: Path, ours: set[str]) -> None:
    """Hard-link (or copy) into ``staging`` what the old folder holds that we did not write.

    At any depth: a planner's file inside ``study/`` stays where it was.
    """
    clashes = []

    def carry(folder: Path, rel: str) -> None:
        for entry in sorted(folder.iterdir()):
            name = f"{rel}{entry.name}"
            if name == MARKER:
                continue
            target = staging / name
            real_dir = entry.is_dir() and not entry.is_symlink()
            if _ours(name, ours):
                continue
            if real_dir and any(w.startswith(f"{name}/") for w in ours):
                target.mkdir(exist_ok=True)  # a folder we wrote into: look inside
                carry(entry, f"{name}/")
                continue
            if target.exists() or target.is_symlink():
                clashes.append(name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if real_dir:
                shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(entry, target)

    carry(old, "")
    if clashes:
        raise InputError(
            f"{old}: {', '.join(sorted(clashes))} would replace files service-circle did not "
            "write; move them, or give another output folder"
        )


def _link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _write_marker(staging: Path, kind: str, command: str | None) -> None:
    from service_circle import __version__

    files = sorted(
        p.relative_to(staging).as_posix()
        for p in staging.rglob("*")
        if p.name != MARKER or p.parent != staging
        if not p.is_dir() or p.is_symlink()
    )
    marker = {
        "written_by": "service-circle",
        "version": __version__,
        "kind": kind,
        "command": command or " ".join(["service-circle", *sys.argv[1:]]),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": files,
    }
    (staging / MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=2), "utf-8")


@contextmanager
def publishing(
    folder: str | os.PathLike,
    *,
    kind: str,
    option: str = "--out",
    command: str | None = None,
    inputs: Mapping[str, str | os.PathLike | None] | None = None,
) -> Iterator[Path]:
    """Stage a run's outputs and publish them together into ``folder``.

    Yields the staging folder to write into. On success its content replaces ``folder``
    in one step (see the module docstring); on any error the staging folder is removed
    and ``folder`` is left as it was.

    Parameters
    ----------
    folder
        The output folder.
    kind
        What it holds (``"study"``, ``"analysis"``, ``"siting"``, ``"demo"``), recorded in
        the marker.
    option
        The option that named it, for messages.
    command
        The command line to record (default: this process's arguments).
    inputs
        Option → path of the run's inputs: ``folder`` may neither be nor hold one.

    Raises
    ------
    InputError
        If ``folder`` exists and holds files service-circle did not write, holds an input,
        or another run is writing it.
    """
    folder = Path(folder).resolve()  # a symlinked --out: write where it points
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder, option):
        recover(folder)
        check_target(folder, option=option, inputs=inputs)
        with _publish(folder, kind, command) as staging:
            yield staging


@contextmanager
def _locked(folder: Path, option: str) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``folder`` for the run; refuse if another run holds it."""
    import fcntl

    path = folder.parent / f".{folder.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"{option} {folder}: another service-circle run is writing this folder; "
                "nothing was changed: wait for it to finish, or give another output folder"
            ) from None
        try:  # the file may have been removed by the run that held it: lock the new one
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def _publish(folder: Path, kind: str, command: str | None) -> Iterator[Path]:
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = folder.parent / f".{folder.name}.staging-{tag}"
    staging.mkdir()
    try:
        yield staging
        _write_marker(staging, kind, command)
        old = None
        if folder.exists():
            ours = _written_names(folder) or set()
            _carry_foreign(folder, staging, ours)
            old = folder.parent / f".{folder.name}.old-{tag}"
        _failpoint("staged")
        if old is not None:
            folder.rename(old)
            _failpoint("swapped")
        staging.rename(folder)
        _failpoint("published")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def written_files(folder: str | os.PathLike) -> list[str]:
    """The files the last complete run wrote into ``folder`` (from its marker)."""
    names = _written_names(Path(folder))
    return sorted(names or [])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", *, encoding: str = "utf-8"
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` on success.

    Examples
    --------
    >>> with atomic_write("out.csv") as fh:  # doctest: +SKIP
    ...     frame.to_csv(fh, index=False)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        Path(tmp).chmod(0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
