"""The processing container's layout for tests: the code bundle staged as it is downloaded, and the
command the Processing step runs (``python3 -m processing_scripts.<module>`` with the bundle on
PYTHONPATH), so a test runs exactly the files the container would, not this checkout's."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.code_bundle import processing_code_bundle


def stage_code(folder: Path) -> Path:
    """Write the code bundle below ``folder`` (the container's /opt/ml/processing/input/code)."""
    for name, data in processing_code_bundle().files:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def container_command(module: str, *args: str) -> list[str]:
    """The step's entrypoint and arguments, with this interpreter for ``python3``."""
    return [sys.executable, "-m", f"processing_scripts.{module}", *args]


def container_env(code: Path, *extra_paths: Path) -> dict[str, str]:
    """The environment the step sets: the bundle first on PYTHONPATH (``extra_paths`` after it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (code, *extra_paths))}
