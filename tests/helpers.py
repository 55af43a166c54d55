"""Helpers shared by the tests: assertions written once, and the settings the test environment clears."""
from __future__ import annotations

import subprocess
from typing import Protocol


class Finished(Protocol):
    """What a finished command looks like: subprocess.CompletedProcess, or a captured in-process run."""

    returncode: int
    stderr: str


def deploy_settings_variables() -> set[str]:
    """Every variable a setting is read from (CodeBuild sets them for the deploy; a project name there
    would rename every pipeline the tests build), but the region, which the tests set themselves."""
    from pipeline.config import ENV_VARS
    from pipeline.upsert import SCHEDULER_ROLE_ENV

    return {*ENV_VARS.values(), SCHEDULER_ROLE_ENV} - {"AWS_DEFAULT_REGION"}


def assert_one_line_error(result: Finished | subprocess.CompletedProcess, *fragments: str, code: int = 2) -> str:
    """Assert `result` exited with `code` and wrote exactly one line to stderr, containing every fragment
    (case-sensitive). Returns that line for further checks.

    >>> ran = subprocess.CompletedProcess([], 2, stdout="", stderr="error: bad.csv line 3: blank label\\n")
    >>> assert_one_line_error(ran, "bad.csv", "line 3")
    'error: bad.csv line 3: blank label'
    """
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, f"exit {result.returncode}, expected {code}; stderr: {result.stderr!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {result.stderr!r}"
    missing = [fragment for fragment in fragments if fragment not in lines[0]]
    assert not missing, f"{missing} not in {lines[0]!r}"
    return lines[0]
