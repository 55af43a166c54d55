"""Scratch folders of the local runner's jobs (transform and processing), and the ones killed runs left behind.

A job's folder (a transform's input, output and extracted model; a processing job's /opt/ml/processing)
is ``<work_dir>/tmp/sm-eval-job-<pid>-<random>``,
holding ``.owner.lock``, which its run keeps ``flock``-ed until it removes the folder. A run killed
before that (SIGKILL, power loss) leaves the folder; the next job removes every folder of that prefix
whose lock nobody holds. Nothing else in the folder is touched.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from processing_scripts.outputs import pid_alive

PREFIX = "sm-eval-job-"
LOCK = ".owner.lock"


@contextlib.contextmanager
def job_scratch(parent: Path) -> Iterator[Path]:
    """A fresh folder below ``parent``, removed on exit; stale folders of killed runs are removed first."""
    parent.mkdir(parents=True, exist_ok=True)
    sweep(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
    try:
        with open(folder / LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(parent: Path) -> list[Path]:
    """Remove the scratch folders below ``parent`` that no live run owns; returns them."""
    removed = []
    for folder in sorted(parent.glob(PREFIX + "*")):
        if folder.is_symlink() or not folder.is_dir() or _owned(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _owned(folder: Path) -> bool:
    """Whether a live run holds the folder: its lock is held, or (no lock yet: just created) its pid lives."""
    try:
        handle = open(folder / LOCK, "r+")
    except FileNotFoundError:
        return _alive(folder.name[len(PREFIX):].split("-", 1)[0])
    except OSError:
        return True  # unreadable: not ours to judge
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False  # closing the handle releases the lock; the owner is gone


def _alive(pid: str) -> bool:
    return not pid.isdigit() or pid_alive(int(pid))  # a name we did not write: leave it
