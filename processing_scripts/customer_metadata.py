"""SageMaker's rules for a model package's CustomerMetadataProperties, declared once.

The map holds at most 50 entries; each key is 1-128 and each value 1-256 characters, every one of
them a letter, digit or space (Unicode categories L, N, Z) or one of ``_.:/=+-@`` (botocore's
CustomerMetadataMap, CustomerMetadataKey and CustomerMetadataValue shapes, which tests/test_limits.py
reads). The gate writes its decision record with ``value``; the registries refuse, with ``problem``,
what SageMaker would refuse; the definition's schema check uses ``KEY_PATTERN``.

Standard library only: this module runs inside the processing container.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

KEY_MAX = 128
VALUE_MAX = 256
MAX_ENTRIES = 50
EXTRA_CHARACTERS = "_.:/=+-@"
# One allowed character. The API says [\p{L}\p{Z}\p{N}_.:/=+\-@]; Python's re has no \p, but \w is
# exactly L, N and "_", and \s is exactly Z plus the ASCII and C1 control characters excluded here.
CHARACTER = r"(?:[\w.:/=+\-@]|(?![\t\n\v\f\r\x1c-\x1f\x85])\s)"
KEY_PATTERN = f"^{CHARACTER}{{1,{KEY_MAX}}}$"
DESCRIBED = f"letters, digits, spaces and {EXTRA_CHARACTERS}"

_ONE = re.compile(CHARACTER)


def value(text: Any, empty: str = "none") -> str:
    """``text`` as a metadata value: runs of whitespace become one space, other characters SageMaker
    refuses are dropped, at most 256 are kept; ``empty`` when nothing is left.

    >>> value("auc>=0.75 (lower bound);\\n ok")
    'auc=0.75 lower bound ok'
    >>> value("")
    'none'
    >>> len(value("x" * 300))
    256
    """
    kept = "".join(_ONE.findall(re.sub(r"\s+", " ", str(text))))
    return re.sub(" {2,}", " ", kept).strip()[:VALUE_MAX] or empty


def _text_problem(what: str, text: Any, longest: int) -> str | None:
    if not isinstance(text, str):
        return f"the {what} is not a string ({type(text).__name__})"
    if not 1 <= len(text) <= longest:
        return f"the {what} has {len(text)} characters, not 1-{longest}"
    bad = sorted({c for c in text if not _ONE.fullmatch(c)})
    if bad:
        return f"the {what} has {''.join(bad)!r}: only {DESCRIBED} are allowed"
    return None


def problem(properties: Mapping[Any, Any] | None) -> str | None:
    """Why SageMaker would refuse ``properties`` as CustomerMetadataProperties (one line), or None.

    >>> problem({"gate_passed": "true"}) is None
    True
    >>> problem({"auc": 0.91})
    "bad customer metadata 'auc': 0.91: the value is not a string (float)"
    >>> problem({"why": "a<b"})
    "bad customer metadata 'why': 'a<b': the value has '<': only letters, digits, spaces and _.:/=+-@ are allowed"
    """
    properties = properties or {}
    if len(properties) > MAX_ENTRIES:
        return f"bad customer metadata: {len(properties)} entries, more than {MAX_ENTRIES}"
    for key, text in properties.items():
        why = _text_problem("key", key, KEY_MAX) or _text_problem("value", text, VALUE_MAX)
        if why:
            return f"bad customer metadata {key!r}: {text!r}: {why}"
    return None
