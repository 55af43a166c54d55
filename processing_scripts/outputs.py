"""The one atomic writer: readers see a file's old content or its new, never half of it (container-safe).

One file (:func:`open_atomic`, :func:`write_bytes_atomic`): written to a temporary file in its own
folder (so the rename cannot cross file systems), fsynced, renamed into place, and the folder fsynced
(so the rename survives a crash). A temporary file is named ``.<name>.<pid>-<random>.tmp``: see
:func:`is_temporary`.

An output set (:func:`write_outputs`: evaluation.json, the plots and report.html; a baseline; a drift
check's results) is replaced as a whole. The files keep their names directly in the output folder (a
pipeline reads ``<output>/evaluation.json``, and SageMaker's output folder, e.g.
``/opt/ml/processing/evaluation``, is created by the platform and cannot be renamed), so no single
rename can swap the set. Instead every file is first written and fsynced in a ``.staging-<pid>-*``
folder inside the output folder (a full disk fails here, with nothing replaced); that folder is renamed
``...-committing`` (the mark: the set is being replaced), the previous files are moved into it and the
new ones out of it (a failed rename puts the previous ones back), and the mark goes last.
:func:`check_output_set` is the reader's check: a folder with a mark was caught halfway (``kill -9``)
and holds no output set. The next write removes the leftovers of killed writers (staging folders, and
temporary files or scratch folders named with a process id no longer running: :func:`remove_leftovers`),
a mark only once its own set is in.

Files get the mode ``0666 & ~umask`` that ``open()`` gives (0644 under the usual umask 022), not the
0600 of ``tempfile.mkstemp``.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

STAGING_PREFIX = ".staging-"
COMMITTING = "-committing"  # a staging folder's suffix while its files are being renamed in


class IncompleteOutputs(ValueError):
    """An output folder whose set was not committed whole (its writer was interrupted)."""


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file this module is still writing (not an output yet).

    >>> is_temporary(".report.html.41-3f9a2c.tmp"), is_temporary("report.html")
    (True, False)
    """
    name = Path(path).name
    return name.startswith(".") and name.endswith(".tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts: it is not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str, prefix: str, suffix: str = "") -> int | None:
    """The process id in ``<prefix><pid>-<rest><suffix>``, or None when ``name`` is not shaped so.

    >>> _owner_pid(".staging-41-x8k2", ".staging-"), _owner_pid(".staging-x8k2", ".staging-")
    (41, None)
    """
    match = re.fullmatch(re.escape(prefix) + r"(\d+)-.+" + re.escape(suffix), name)
    return int(match.group(1)) if match else None


def remove_leftovers(folder: Path, prefix: str, suffix: str = "", keep_suffix: str | None = None) -> list[str]:
    """Remove the entries of ``folder`` named ``<prefix><pid>-...<suffix>`` whose process is gone and that
    belong to this user: what a killed writer of ours left. Returns their names (others' are kept; so is
    one whose process id was reused by a live process, on the safe side)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if keep_suffix is not None and entry.name.endswith(keep_suffix):
            continue
        pid = _owner_pid(entry.name, prefix, suffix)
        # Our own process id: a concurrent writer in this process (never a leftover to remove).
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue  # someone else removed it, or it is not ours to remove
        removed.append(entry.name)
    return removed


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A private temporary folder ``<tmp>/<prefix><pid>-*``, removed when the block ends; the folders a
    killed run with the same prefix left are removed first."""
    base = Path(tempfile.gettempdir())
    remove_leftovers(base, prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new empty file beside ``target``, opened for writing; O_EXCL so no one else's file is reused."""
    remove_leftovers(target.parent, f".{target.name}.", ".tmp")
    while True:
        temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 lets the kernel apply the umask, as open() does.
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue


def _fsync_folder(folder: Path) -> None:
    """Make the renames into ``folder`` durable (a folder cannot be opened, or fsynced, everywhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` when the block ends without an error (for streams).

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_atomic(Path(folder) / "a.bin") as handle:
    ...         _ = handle.write(b"whole")
    ...     (Path(folder) / "a.bin").read_bytes()
    b'whole'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        _fsync_folder(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); returns the path."""
    with open_atomic(path) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text version of :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _plain(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\0" not in name
            and not name.startswith(STAGING_PREFIX))


def _committing(folder: Path) -> list[str]:
    """The staging folders in ``folder`` that were being renamed in (by anyone): the set is not whole."""
    try:
        return sorted(entry.name for entry in os.scandir(folder)
                      if entry.name.startswith(STAGING_PREFIX) and entry.name.endswith(COMMITTING))
    except OSError:
        return []


def _swap_in(folder: Path, staging: Path, names: list[str]) -> None:
    """Rename the staged files into ``folder``; on an error, put the previous ones back."""
    aside = staging / ".previous"
    aside.mkdir()
    moved: list[str] = []  # names moved aside, to put back
    placed: list[str] = []  # names of the new set renamed in
    try:
        for name in names:
            if (folder / name).is_file():
                os.replace(folder / name, aside / name)
                moved.append(name)
        for name in names:
            os.replace(staging / name, folder / name)
            placed.append(name)
        _fsync_folder(folder)
    except BaseException:
        for name in placed:
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
        for name in moved:
            with contextlib.suppress(OSError):
                os.replace(aside / name, folder / name)
        raise


def write_outputs(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Replace the files ``files`` names (plain names) in ``output_dir`` as a whole; see the module's
    docstring. OSError when it cannot, with the previous files as they were.

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_outputs(Path(folder), {"a.json": b"1", "b.json": b"1"})
    ...     write_outputs(Path(folder), {"a.json": b"2", "b.json": b"2"})
    ...     [path.read_bytes() for path in check_output_set(Path(folder))]
    [b'2', b'2']
    """
    bad = [name for name in files if not _plain(name)]
    if bad:
        raise ValueError(f"output name {bad[0]!r} is not a plain file name")
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # A killed writer's staging folder goes now; one killed while renaming in marks the folder's set as
    # not whole, so it goes only once this set is in.
    remove_leftovers(folder, STAGING_PREFIX, suffix="", keep_suffix=COMMITTING)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
    try:
        for name, data in files.items():
            _write_synced(staging / name, data)
        committing = staging.with_name(staging.name + COMMITTING)
        os.replace(staging, committing)
        staging = committing
        _fsync_folder(folder)  # the mark is durable before the first file moves
        _swap_in(folder, staging, list(files))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    remove_leftovers(folder, STAGING_PREFIX)


def check_output_set(output_dir: Path) -> list[Path]:
    """The output files below ``output_dir`` (staging folders and temporary files left out);
    IncompleteOutputs when a writer was interrupted (or is still) renaming its set in."""
    folder = Path(output_dir)
    if _committing(folder):
        raise IncompleteOutputs("the output set is incomplete (its writer was interrupted while replacing it); "
                                "run it again")
    return sorted(path for path in folder.rglob("*") if path.is_file() and not is_temporary(path)
                  and not path.relative_to(folder).parts[0].startswith(STAGING_PREFIX))
