"""Write a job's output files all at once: no reader ever sees a half-written set (container-safe)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping


def write_outputs(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write every file to a staging folder first, then move each into place: no half-written output.

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_outputs(Path(folder), {"a.json": b"{}"})
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['a.json']
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=output_dir))
    try:
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for name in files:
            os.replace(staging / name, output_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
