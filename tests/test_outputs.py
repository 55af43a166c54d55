"""processing_scripts.outputs, the one atomic writer: whole files or none, durable renames, and the mode
``open()`` gives (0666 & ~umask), not mkstemp's 0600 (the reported bug: definitions, demo CSVs, policies,
execution records and store objects were written 0600)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipeline.local.store import LocalObjectStore
from processing_scripts import outputs


def _stream(path: Path, data: bytes) -> Path:
    with outputs.open_atomic(path) as handle:  # the content lands when the block ends
        handle.write(data)
    return path


def _batch(path: Path, data: bytes) -> Path:
    outputs.write_outputs(path.parent, {path.name: data})
    return path


def _object(path: Path, data: bytes) -> Path:
    """The store keeps ``s3://bucket-1/k`` at ``<root>/s3/bucket-1/k``: root it so that is ``path``."""
    root = path.parent.parent.parent
    assert path.parent.parent.name == "s3"
    store = LocalObjectStore(root)
    return store.path_for(store.put_bytes(f"s3://{path.parent.name}/{path.name}", data))


# Each writes ``data`` to ``path`` and returns the path written.
WRITERS = {
    "write_bytes_atomic": outputs.write_bytes_atomic,
    "write_text_atomic": lambda path, data: outputs.write_text_atomic(path, data.decode()),
    "write_outputs": _batch,
    "open_atomic": _stream,
    "LocalObjectStore.put_bytes": _object,
}


@pytest.fixture
def umask():
    """Set a umask for one test, restoring the runner's."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_mode_of_the_umask(writer, mask, mode, umask, tmp_path):
    umask(mask)
    target = WRITERS[writer](tmp_path / "s3" / "bucket-1" / "a.json", b"{}")
    assert target.read_bytes() == b"{}"
    assert stat.S_IMODE(target.stat().st_mode) == mode


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_replaced_file_takes_the_new_mode_and_leaves_no_temporary(writer, umask, tmp_path):
    target = tmp_path / "s3" / "bucket-1" / "a.json"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    target.chmod(0o600)
    assert WRITERS[writer](target, b"new") == target
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_every_file_and_then_the_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    outputs.write_outputs(tmp_path / "out", {"a.json": b"1", "b.json": b"2"})
    assert [name.split(".")[1] for name in synced[:2]] == ["a", "b"]  # the temporary files, before the renames
    assert all(outputs.is_temporary(name) for name in synced[:2]) and synced[2:] == ["out"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), outputs.open_atomic(target) as handle:
        handle.write(b"ha")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_failed_rename_leaves_the_files_before_it_and_no_temporary(tmp_path, monkeypatch):
    real_replace, calls = os.replace, []

    def failing_second_replace(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_second_replace)
    with pytest.raises(OSError):
        outputs.write_outputs(tmp_path, {"a.json": b"new", "b.json": b"new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_folder_that_cannot_be_fsynced_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def folder_refuses(fd):
        if Path(os.readlink(f"/proc/self/fd/{fd}")).is_dir():
            raise OSError(22, "Invalid argument")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", folder_refuses)
    assert outputs.write_bytes_atomic(tmp_path / "a.bin", b"x").read_bytes() == b"x"
