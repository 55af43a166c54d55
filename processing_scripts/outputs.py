"""The one atomic writer: readers see a file's old content or its new, never half of it (container-safe).

Each file is written to a temporary file in its own folder (so the rename cannot cross file systems),
fsynced, renamed into place, and the folder fsynced (so the rename survives a crash). Files get the mode
``0666 & ~umask`` that ``open()`` gives (0644 under the usual umask 022), not the 0600 of
``tempfile.mkstemp``. A temporary file is named ``.<name>.<random>.tmp``: see :func:`is_temporary`.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file this module is still writing (not an output yet).

    >>> is_temporary(".report.html.3f9a2c.tmp"), is_temporary("report.html")
    (True, False)
    """
    name = Path(path).name
    return name.startswith(".") and name.endswith(".tmp")


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new empty file beside ``target``, opened for writing; O_EXCL so no one else's file is reused."""
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
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


class _Batch:
    """Temporary files of one folder, renamed into place together by :meth:`commit`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.staged: dict[Path, Path] = {}  # target -> its temporary file

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        target = self.folder / name
        fd, temporary = _create_temporary(target)
        self.staged[target] = temporary
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())

    def commit(self) -> None:
        for target in list(self.staged):
            os.replace(self.staged[target], target)
            del self.staged[target]
        _fsync_folder(self.folder)

    def discard(self) -> None:
        for temporary in self.staged.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


@contextlib.contextmanager
def _batch(folder: Path) -> Iterator[_Batch]:
    folder.mkdir(parents=True, exist_ok=True)
    batch = _Batch(folder)
    try:
        yield batch
        batch.commit()
    finally:
        batch.discard()


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` when the block ends without an error (for streams).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open_atomic(Path(folder) / "a.bin") as handle:
    ...         _ = handle.write(b"whole")
    ...     (Path(folder) / "a.bin").read_bytes()
    b'whole'
    """
    target = Path(path)
    with _batch(target.parent) as batch, batch.open(target.name) as handle:
        yield handle


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); returns the path."""
    with open_atomic(path) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text version of :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_outputs(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write every file beside its target first, then rename each into place: no half-written output.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_outputs(Path(folder), {"a.json": b"{}"})
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['a.json']
    """
    with _batch(Path(output_dir)) as batch:
        for name, data in files.items():
            with batch.open(name) as handle:
                handle.write(data)
