"""processing_scripts.outputs, the one atomic writer: whole files or none, durable renames, and the mode
``open()`` gives (0666 & ~umask), not mkstemp's 0600 (the reported bug: definitions, demo CSVs, policies,
execution records and store objects were written 0600)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
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
    # The staged files before any rename; the folder once marked as being replaced, and once replaced.
    assert synced == ["a.json", "b.json", "out", "out"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), outputs.open_atomic(target) as handle:
        handle.write(b"ha")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("failing", range(1, 6))
def test_a_failed_rename_puts_the_previous_set_back(failing, tmp_path, monkeypatch):
    """Whichever rename fails (marking the staging folder, setting the old files aside, moving the new
    ones in), the previous set is there as it was, and no staging folder is left."""
    outputs.write_outputs(tmp_path, {"a.json": b"old", "b.json": b"old"})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace, calls = os.replace, []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == failing:
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        outputs.write_outputs(tmp_path, {"a.json": b"new", "b.json": b"new"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert outputs.check_output_set(tmp_path) == sorted(tmp_path / name for name in before)


def test_a_full_disk_while_staging_replaces_nothing(tmp_path, monkeypatch):
    outputs.write_outputs(tmp_path, {"a.json": b"old"})
    real_write = outputs._write_synced

    def full_on_the_second(path, data):
        if path.name == "b.json":
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(outputs, "_write_synced", full_on_the_second)
    with pytest.raises(OSError):
        outputs.write_outputs(tmp_path, {"a.json": b"new", "b.json": b"new"})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"a.json": b"old"}


@pytest.mark.parametrize("name", ["", "..", "a/b.json", ".staging-1-x"])
def test_an_output_name_must_be_a_plain_file_name(name, tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        outputs.write_outputs(tmp_path, {name: b"1"})
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    """A process id no process has (a child that has exited and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def _leftover(folder: Path, name: str) -> Path:
    path = folder / name
    if name.endswith(".tmp"):
        path.write_bytes(b"half")
    else:
        (path / "sub").mkdir(parents=True)
    return path


@pytest.mark.parametrize("leftover, removed", [
    (".staging-{dead}-k2x9", True),  # a killed writer's staging folder
    (".staging-{dead}-k2x9-committing", True),  # one killed while renaming in (removed once the set is in)
    (".staging-{live}-k2x9", False),  # a running writer's (pid 1 is alive)
    (".staging-k2x9", False),  # not named by this module
    (".a.json.{dead}-ab12.tmp", True),  # a killed writer's temporary file (removed by the next write of a.json)
    (".a.json.{live}-ab12.tmp", False),
])
def test_the_next_write_removes_only_a_killed_writers_leftovers(leftover, removed, tmp_path):
    path = _leftover(tmp_path, leftover.format(dead=_dead_pid(), live=1))
    outputs.write_outputs(tmp_path, {"a.json": b"1"})
    outputs.write_bytes_atomic(tmp_path / "a.json", b"2")
    assert path.exists() is not removed


@pytest.mark.parametrize("mark, whole", [(".staging-{dead}-k2x9-committing", False),
                                         (".staging-{live}-k2x9-committing", False),  # being replaced now
                                         (".staging-{dead}-k2x9", True)])  # staged, nothing moved yet
def test_a_folder_caught_while_its_set_was_replaced_is_refused_by_the_reader(mark, whole, tmp_path):
    outputs.write_outputs(tmp_path, {"a.json": b"1"})
    _leftover(tmp_path, mark.format(dead=_dead_pid(), live=1))
    if whole:
        assert outputs.check_output_set(tmp_path) == [tmp_path / "a.json"]
    else:
        with pytest.raises(outputs.IncompleteOutputs, match="the output set is incomplete"):
            outputs.check_output_set(tmp_path)


def test_scratch_is_removed_at_exit_and_a_killed_runs_by_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs.tempfile, "gettempdir", lambda: str(tmp_path))
    dead, live = _leftover(tmp_path, f"evaluate-{_dead_pid()}-x1"), _leftover(tmp_path, "evaluate-1-x1")
    other = _leftover(tmp_path, "evaluate-report-x1")
    with outputs.scratch_folder("evaluate-") as scratch:
        assert scratch.parent == tmp_path and scratch.name.startswith(f"evaluate-{os.getpid()}-")
        (scratch / "model").mkdir()
        assert not dead.exists() and live.exists() and other.exists()
    assert not scratch.exists()


def test_a_folder_that_cannot_be_fsynced_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def folder_refuses(fd):
        if Path(os.readlink(f"/proc/self/fd/{fd}")).is_dir():
            raise OSError(22, "Invalid argument")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", folder_refuses)
    assert outputs.write_bytes_atomic(tmp_path / "a.bin", b"x").read_bytes() == b"x"
