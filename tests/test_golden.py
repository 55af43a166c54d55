"""Golden test of evaluation.json's layout and values for a small fixed input.

Regenerate (after an intended change, and review the diff): python -m tests.test_golden
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from processing_scripts.evaluate import build_document, to_json

GOLDEN = Path(__file__).with_name("golden") / "evaluation_small.json"
Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1]
S = [0.1, 0.35, 0.4, 0.8, 0.65, 0.9, 0.2, 0.55, 0.35, 0.5, 0.05, 0.7]


def normalized(document):
    """Round floats so the comparison ignores last-bit differences between platforms."""
    if isinstance(document, dict):
        return {k: normalized(v) for k, v in document.items()}
    if isinstance(document, list):
        return [normalized(v) for v in document]
    if isinstance(document, float):
        return round(document, 10)
    return document


def current() -> dict:
    return normalized(to_json(build_document(Y, S, threshold=0.5, n_bootstrap=0)))


def test_evaluation_json_matches_the_golden_file():
    assert current() == json.loads(GOLDEN.read_text())


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(current(), indent=2) + "\n")
    sys.exit(0)
