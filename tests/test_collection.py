"""pytest collects the doctests of every package, so a docstring's example is a test wherever it is written."""
from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_collected_with_its_doctests():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    testpaths = set(ini["pytest"]["testpaths"].split())
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages - {"tests"}, "no package found"
    assert packages <= testpaths, f"not collected: {sorted(packages - testpaths)}"
    assert "--doctest-modules" in ini["pytest"]["addopts"].split()
