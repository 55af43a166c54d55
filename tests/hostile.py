"""What every hostile-input case asserts (issue 12), written once: an exit code, one short line naming
the problem and no traceback, an unchanged registry and no partial output.

A case runs a real command (in-process with :func:`tests.helpers.run_main`, or as a subprocess with
:func:`run_cli`) between two :func:`snapshot` calls, then :func:`assert_refused` checks the outcome.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tests.helpers import Finished, assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
MESSAGE_LIMIT = 300  # characters: a message names the file, line, problem and fix, and nothing else
PARTIAL_MARKERS = (".staging-", ".tmp-", ".partial")


def run_cli(module: str, *argv: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m module argv...`` from the checkout, text output captured."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=cwd or ROOT, env=environment,
                          input=stdin, capture_output=True, timeout=timeout, check=False,
                          text=stdin is None)


def registry_rows(database: Path) -> dict[str, list[tuple]] | None:
    """Every row of every table of a local registry (read-only), or None when there is no database."""
    if not database.is_file():
        return None
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr) for table in tables}
    finally:
        connection.close()


def integrity_ok(database: Path) -> bool:
    """``PRAGMA integrity_check`` of a local registry says ok."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        connection.close()


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path: sha256 of its bytes); empty when it does not exist."""
    if not folder.exists():
        return {}
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@dataclass(frozen=True)
class Snapshot:
    """A registry's rows and the files of some output folders, to compare before and after a case."""

    registry: dict[str, list[tuple]] | None
    files: dict[str, dict[str, str]]


def snapshot(registry: Path | None = None, outputs: Sequence[Path] = ()) -> Snapshot:
    return Snapshot(registry_rows(registry) if registry is not None else None,
                    {str(folder): tree(folder) for folder in outputs})


def partial_files(folder: Path) -> list[str]:
    """Files or folders below ``folder`` that an interrupted or refused write left behind."""
    if not folder.exists():
        return []
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if any(marker in path.name for marker in PARTIAL_MARKERS))


def assert_refused(result: Finished, *fragments: str, code: int = 2, before: Snapshot | None = None,
                   after: Snapshot | None = None, clean: Sequence[Path] = ()) -> str:
    """The case's outcome: exit ``code``, one line on stderr (no traceback, under MESSAGE_LIMIT characters)
    holding every fragment; the registry and the outputs as they were; no partial files below ``clean``."""
    line = assert_one_line_error(result, *fragments, code=code)
    assert "Traceback" not in line and len(line) <= MESSAGE_LIMIT, f"{len(line)} characters: {line[:400]!r}"
    if before is not None:
        assert after == before, "the registry or the outputs changed"
    for folder in clean:
        assert partial_files(folder) == [], f"left behind below {folder}: {partial_files(folder)}"
    return line


def assert_step_failed(result: Finished, *fragments: str, before: Snapshot | None = None,
                       after: Snapshot | None = None, clean: Sequence[Path] = ()) -> str:
    """A pipeline run (``--output json``) that a failed step ended: exit 1, stdout the execution's JSON
    and nothing else, its FailureReason one short line holding every fragment, no traceback on stderr;
    the registry and the outputs as they were; no partial files below ``clean``. Returns the reason."""
    import json

    from tests.helpers import assert_one_line

    assert result.returncode == 1, f"exit {result.returncode}, expected 1; stderr: {result.stderr[-2000:]!r}"
    record = json.loads(getattr(result, "stdout"))  # fails on anything the model printed ahead of it
    reason = assert_one_line(record["FailureReason"], *fragments)
    assert len(reason) <= MESSAGE_LIMIT, f"{len(reason)} characters: {reason[:400]!r}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    if before is not None:
        assert after == before, "the registry or the outputs changed"
    for folder in clean:
        assert partial_files(folder) == [], f"left behind below {folder}: {partial_files(folder)}"
    return reason


def leftovers(folder: Path) -> list[str]:
    """:func:`partial_files`, and the temporary files ``processing_scripts.outputs`` names
    ``.<name>.<pid>-<random>.tmp``: everything a writer should not have left below ``folder``."""
    from processing_scripts.outputs import is_temporary

    if not folder.exists():
        return []
    temporaries = [path.relative_to(folder).as_posix() for path in folder.rglob("*") if is_temporary(path)]
    return sorted({*partial_files(folder), *temporaries})


def registry_state(database: Path) -> object:
    """What a registry file holds, comparable before and after a case: its rows when it is a readable
    registry, else its bytes' sha256 (a damaged file), ``"folder"`` or None (no file)."""
    if database.is_dir():
        return "folder"
    if not database.exists():
        return None
    try:
        return registry_rows(database)
    except sqlite3.DatabaseError:
        return hashlib.sha256(database.read_bytes()).hexdigest()


def make_read_only(stack: "contextlib.ExitStack", *paths: Path) -> None:
    """Make ``paths`` unwritable for this process until ``stack`` closes: mode bits for a user, the
    immutable attribute (chattr +i) for root, whom mode bits do not stop. Skips the test when neither
    can be set."""
    import pytest

    if os.geteuid() != 0:
        for path in paths:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            stack.callback(path.chmod, mode)
        return
    for path in paths:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path.name} read-only as root here (chattr: {done.stderr!r})")
        stack.callback(subprocess.run, ["chattr", "-i", str(path)], check=True)
