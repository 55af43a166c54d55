"""Helpers shared by the tests: assertions written once, and the settings the test environment clears."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence


class Finished(Protocol):
    """A finished command: subprocess.CompletedProcess, or :class:`Ran` for a CLI called in-process."""

    returncode: int
    stderr: str


@dataclass(frozen=True)
class Ran:
    """What a CLI's ``main`` returned (or exited with) and what it printed."""

    returncode: int
    stderr: str
    stdout: str = ""


def run_main(main: Callable[[Sequence[str]], int], argv: Sequence[str], capsys) -> Ran:
    """Call ``main(argv)`` in-process and capture its output (an argparse SystemExit gives the code)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return Ran(code, captured.err, captured.out)


def assert_one_line(message: str, *fragments: str) -> str:
    """Assert ``message`` (an error's text) is one line containing every fragment; returns it.

    >>> assert_one_line("bad.csv line 3: blank label; fill it in", "line 3", "fill it")
    'bad.csv line 3: blank label; fill it in'
    """
    assert "\n" not in message, f"expected one line, got: {message!r}"
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in {message!r}"
    return message


def assert_one_line_error(result: Finished, *fragments: str, code: int = 2, start: str = "error: ") -> str:
    """Assert ``result`` exited with ``code`` after writing exactly one line to stderr, which begins with
    ``start`` and contains every fragment; returns that line (without its newline).

    >>> assert_one_line_error(Ran(2, "error: bad.csv line 3: blank label\\n"), "bad.csv", "line 3")
    'error: bad.csv line 3: blank label'
    """
    assert result.returncode == code, f"exit {result.returncode}, expected {code}; stderr: {result.stderr!r}"
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, \
        f"expected one line on stderr, got: {result.stderr!r}"
    line = assert_one_line(result.stderr[:-1], *fragments)
    assert line.startswith(start), f"{line!r} does not begin with {start!r}"
    return line


def deploy_settings_variables() -> set[str]:
    """Every variable a setting is read from (CodeBuild sets them for the deploy; a project name there
    would rename every pipeline the tests build), but the region, which the tests set themselves."""
    from pipeline.config import ENV_VARS
    from pipeline.aws.schedule import SCHEDULER_ROLE_ENV

    return {*ENV_VARS.values(), SCHEDULER_ROLE_ENV} - {"AWS_DEFAULT_REGION"}
