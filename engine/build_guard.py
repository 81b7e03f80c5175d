"""What the Snakefile does before Snakemake looks at any file: one build at a time, recovery from an interrupted
build, and modification times that can be trusted.

Snakemake leaves three states to the user that this module settles, each when the Snakefile is read (the
only code of a workflow that runs before Snakemake's own checks; ``onstart`` runs only once jobs are about
to start):

* **Two builds at once.** Snakemake locks the outputs only once it has built its plan; a second build
  started meanwhile sees the first one's jobs half done and stops with an ``IncompleteFilesException``.
  :func:`hold_build_lock` takes an exclusive lock on ``.snakemake/build.lock`` (``flock``: the system drops
  it when its process ends, however it ends), and a second build stops at once with a message naming the
  first one.
* **An interrupted build.** After ``kill -9`` or a power loss Snakemake's lock files stay and every build
  stops with a ``LockException`` until ``snakemake --unlock``. Holding the build lock proves that no other
  build runs here, so :func:`recover` removes them, stops the jobs the interrupted build left running (they
  go on writing outputs otherwise), and deletes the partial files of writes they did not finish
  (engine/atomic.py). The jobs it left incomplete are rerun: ``--rerun-incomplete`` is the default of the
  workflow profile (``profiles/default/config.yaml``).
* **Outputs dated in the future.** Snakemake reruns a job when an input is newer than its outputs, and
  only then compares the input's checksum with the one it recorded. Outputs written under a clock that
  ran ahead (``touch -d 2099``, a wrong system time) hide every later edit: "Nothing to be done", and the
  paper keeps the old data. :func:`reset_future_times` moves such outputs back to 1970, which makes each
  of their inputs newer, and lets Snakemake's checksums decide what changed: an unchanged input reruns
  nothing, an edited one reruns what reads it.

:func:`on_snakemake_error` lets the Snakefile withdraw a stale paper when a build fails before any job
(Snakemake's ``onerror`` runs only when a job fails).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.atomic import PARTIAL_SUFFIX

LOCK_FILE = Path(".snakemake") / "build.lock"
SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"
# A file's time and the clock are read from the same kernel clock; the margin covers file systems that keep
# times of their own (network shares) and the moment between a write and this check.
FUTURE_MARGIN_S = 5.0
ORPHAN_GRACE_S = 5.0
# One second after the epoch, not 0: Snakemake skips its newer-input test for outputs whose time is 0.
PAST_NS = 1_000_000_000


class BuildRunning(Exception):
    """Another build holds this project's build lock; the message names it and says what to do."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the build lock: its process, process group and start."""

    pid: int
    pgid: int
    started: float

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.started, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"process {self.pid}, started {when}"


@dataclass
class BuildLock:
    """The held lock (its open file) and the record the previous holder left in it."""

    descriptor: int
    previous: Holder | None


def _read_holder(descriptor: int) -> Holder | None:
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 4096).decode("utf-8", errors="replace")
    try:
        record = json.loads(text)
        return Holder(int(record["pid"]), int(record["pgid"]), float(record["started"]))
    except (ValueError, KeyError, TypeError):
        return None


def hold_build_lock(project: Path) -> BuildLock:
    """Take this project's build lock for as long as this process lives; raise BuildRunning if taken."""
    path = project / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = _read_holder(descriptor)
        os.close(descriptor)
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        who = holder.describe() if holder else "another process"
        raise BuildRunning(
            f"Another build is running in this folder ({who}): wait for it to finish, or stop it, then build "
            "again. Two builds at once would write the same files.") from None
    previous = _read_holder(descriptor)
    me = Holder(os.getpid(), os.getpgrp(), time.time())
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(me.__dict__).encode("utf-8"), 0)
    # A build that ends by itself (success, error, Ctrl-C) leaves no record: only one that was killed
    # does, and the next build then looks for the jobs it left running.
    atexit.register(os.ftruncate, descriptor, 0)
    return BuildLock(descriptor, previous)


def _alive(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def orphans(previous: Holder, project: Path, proc: Path = Path("/proc")) -> list[int]:
    """Processes left running by the build ``previous`` after it ended: members of its process group
    working in ``project``.

    Only when that build led its process group (as a command typed in a terminal does) is the group its
    own: a build started by a script shares the script's group, and nothing is taken for its orphans then.
    Linux only (/proc); elsewhere none are found.
    """
    if previous.pgid != previous.pid or _alive(previous.pid) or not proc.is_dir():
        return []
    root = project.resolve()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            # The process group is the fifth field of stat, after the name in parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cwd = Path(os.readlink(entry / "cwd"))
        except (OSError, IndexError):
            continue
        if int(fields[2]) == previous.pgid and cwd.is_relative_to(root):
            found.append(int(entry.name))
    return sorted(found)


def _stop(pids: Sequence[int]) -> None:
    """SIGTERM, then SIGKILL for any still running after ORPHAN_GRACE_S."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def recover(project: Path, lock: BuildLock, output_dirs: Iterable[Path]) -> list[str]:
    """Clear what an interrupted build left (see the module's doc); returns what was done, one line each.

    Call only while holding the build lock: it is what proves that no other build is running.
    """
    done = []
    if lock.previous is not None:
        left = orphans(lock.previous, project)
        if left:
            _stop(left)
            done.append(f"Stopped {len(left)} job process(es) that an interrupted build ({lock.previous.describe()}) "
                        f"left running (process ids {', '.join(map(str, left))}).")
    locks = sorted((project / SNAKEMAKE_LOCKS).glob("*.lock"))
    for path in locks:
        path.unlink(missing_ok=True)
    if locks:
        done.append(f"Removed the lock of an interrupted build ({project / SNAKEMAKE_LOCKS}): no other build runs "
                    "here.")
    partial = sorted(path for folder in output_dirs for path in (project / folder).rglob(f".*{PARTIAL_SUFFIX}"))
    for path in partial:
        path.unlink(missing_ok=True)
    if partial:
        done.append(f"Deleted {len(partial)} partial file(s) of writes an interrupted job did not finish.")
    return done


def reset_future_times(project: Path, output_dirs: Iterable[Path], now: float | None = None) -> list[Path]:
    """Set to 1970 (:data:`PAST_NS`) the modification time of every output file under ``output_dirs`` dated
    after ``now``.

    Returns those files. Their content is kept: Snakemake, finding every input newer, compares the
    inputs' checksums and reruns only what an edited input feeds.
    """
    limit = (time.time() if now is None else now) + FUTURE_MARGIN_S
    moved = []
    for folder in output_dirs:
        for path in sorted((project / folder).rglob("*")):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime > limit:
                os.utime(path, ns=(path.stat().st_atime_ns, PAST_NS))
                moved.append(path)
    return moved


def report_future_times(moved: Sequence[Path], project: Path) -> str:
    if not moved:
        return ""
    names = ", ".join(path.relative_to(project).as_posix() for path in moved[:3])
    more = f" and {len(moved) - 3} more" if len(moved) > 3 else ""
    return (f"{len(moved)} output(s) were dated in the future ({names}{more}): written under a wrong clock, they "
            "would hide every later edit. Their time is set to 1970, so that Snakemake compares their inputs' "
            "content and reruns only what an edit reaches.")


class _ErrorHook(logging.Handler):
    def __init__(self, callback: Callable[[], None]):
        super().__init__(logging.ERROR)
        self.callback = callback
        self.called = False

    def emit(self, record: logging.LogRecord) -> None:
        from snakemake_interface_logger_plugins.common import LogEvent

        if getattr(record, "event", None) == LogEvent.ERROR and not self.called:
            self.called = True
            self.callback()


def on_snakemake_error(callback: Callable[[], None]) -> None:
    """Call ``callback`` once when Snakemake reports the error that ends a run.

    Every exception that stops Snakemake (a lock, incomplete files, a file it cannot write, an error in
    the Snakefile's own hooks) reaches the user through Snakemake's logger as one ``error`` event (the
    event logger plugins receive); a failed job reports ``job_error`` instead and runs ``onerror``.
    """
    logging.getLogger("snakemake.logging").addHandler(_ErrorHook(callback))
