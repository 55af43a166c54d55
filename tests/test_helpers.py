"""tests/helpers.py's assertions refuse what they must (so a test using them cannot pass vacuously)."""
from __future__ import annotations

import sys

import pytest

from tests.helpers import Ran, assert_one_line, assert_one_line_error, run_main

GOOD = Ran(2, "error: bad.csv line 3: blank label\n")


@pytest.mark.parametrize("result, fragments, options", [
    (Ran(1, GOOD.stderr), ("bad.csv",), {}),  # another exit code
    (Ran(2, "error: bad.csv\nline 3\n"), (), {}),  # two lines
    (Ran(2, "error: bad.csv line 3: blank label"), (), {}),  # no newline: the line was cut short
    (Ran(2, ""), (), {}),  # nothing said
    (GOOD, ("bad.csv", "line 4"), {}),  # a fragment missing
    (Ran(2, "warning: bad.csv\n"), (), {}),  # not an error line
    (GOOD, (), {"start": "error: other.csv"}),
    (GOOD, (), {"code": 0}),
])
def test_assert_one_line_error_refuses(result, fragments, options):
    with pytest.raises(AssertionError):
        assert_one_line_error(result, *fragments, **options)


def test_assert_one_line_error_accepts_and_returns_the_line():
    assert assert_one_line_error(GOOD, "bad.csv", "line 3") == "error: bad.csv line 3: blank label"
    assert assert_one_line_error(Ran(1, "error: AWS refused it\n"), code=1, start="error: AWS refused")


@pytest.mark.parametrize("message, fragments", [("two\nlines", ()), ("one line", ("two",))])
def test_assert_one_line_refuses(message, fragments):
    with pytest.raises(AssertionError):
        assert_one_line(message, *fragments)


def test_run_main_captures_the_code_and_the_output(capsys):
    def main(argv):
        print("out")
        print("error: " + argv[0], file=sys.stderr)
        return 2

    def usage(argv):
        raise SystemExit(2)

    assert run_main(main, ["x"], capsys) == Ran(2, "error: x\n", "out\n")
    assert run_main(usage, [], capsys).returncode == 2
