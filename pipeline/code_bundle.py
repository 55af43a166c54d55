"""The processing code shipped to the evaluation container, addressed by its content hash.

The definition only names ``<s3 root>/code/<sha256>/``; uploading the files there is an explicit step
of upsert (or of the local runner), so building a definition needs no network.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import processing_scripts

PROCESSING_SCRIPTS_DIR = Path(processing_scripts.__file__).resolve().parent


@dataclass(frozen=True)
class CodeBundle:
    """Files (relative path → bytes) and the SHA-256 digest over their names and contents."""

    files: tuple[tuple[str, bytes], ...]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name, data in self.files:
            # Length-prefixed so that moving bytes between a name and a file changes the digest.
            h.update(f"{len(name)}:{name}:{len(data)}:".encode())
            h.update(data)
        return h.hexdigest()


PACKAGE = "processing_scripts"


def processing_code_bundle(directory: Path = PROCESSING_SCRIPTS_DIR) -> CodeBundle:
    """Every ``.py`` file below ``directory``, named ``processing_scripts/<path>``: the container runs
    ``python3 -m processing_scripts.<script>`` with the bundle's folder on PYTHONPATH, so it imports
    exactly the files the tests import."""
    files = tuple(
        (f"{PACKAGE}/{path.relative_to(directory).as_posix()}", path.read_bytes())
        for path in sorted(directory.rglob("*.py"))
        if path.is_file() and "__pycache__" not in path.parts
    )
    if not any(name == f"{PACKAGE}/evaluate.py" for name, _ in files):
        raise FileNotFoundError(f"{directory}/evaluate.py is missing: the evaluation step has nothing to run")
    return CodeBundle(files=files)
