"""The score-response contract: a model's ``text/csv`` answer is one probability, P(class 1), per row.

Read here for the champion/challenger scorer (the model's own handlers, in the container) and the
endpoint evaluator (InvokeEndpoint responses). Numbers follow ``labelled.number``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .labelled import number

_PLAIN_SCORES = b"0123456789.+-eE \t\r\n"


class ResponseError(ValueError):
    """A model response that is not one probability per row (one line; the caller adds where)."""


def parse_scores(body: bytes | str, rows: int, *, row_name: Callable[[int], str] = lambda i: f"row {i + 1}",
                 ) -> np.ndarray:
    """The scores of a ``text/csv`` response: one number in [0, 1] per line, exactly ``rows`` lines.

    ``row_name(i)`` names the i-th row in messages (the scorer names its input line).

    >>> parse_scores(b"0.25\\r\\n1.0\\n", 2)
    array([0.25, 1.  ])
    >>> parse_scores("0.5\\nyes\\n", 2)
    Traceback (most recent call last):
    ...
    processing_scripts.score_response.ResponseError: the model's score for row 2 is 'yes', not a number; output_fn must write one score per line
    """
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    lines = data.splitlines()
    if len(lines) != rows:
        raise ResponseError(f"the model returned {len(lines)} lines for {rows} rows; "
                            "output_fn must write one score per row")
    if lines and b"," in lines[0]:
        first = lines[0].decode("utf-8", errors="replace")[:60]
        raise ResponseError(f"the model returned {lines[0].count(b',') + 1} values per row ({first!r}); "
                            "predict_fn must return one score per row, P(class 1)")
    scores = None
    if not data.translate(None, _PLAIN_SCORES):  # plain decimals: numpy reads them as number() does
        try:
            scores = np.array(lines, dtype=np.float64)
        except ValueError:  # e.g. an empty line: named below
            pass
    if scores is None:
        values = [number(line) for line in lines]
        for index, value in enumerate(values):
            if value is None:
                raise ResponseError(f"the model's score for {row_name(index)} is "
                                    f"{lines[index].decode('utf-8', errors='replace')[:60]!r}, not a number; "
                                    "output_fn must write one score per line")
        scores = np.array(values, dtype=np.float64)
    bad = ~((scores >= 0) & (scores <= 1))  # NaN fails both comparisons
    if bad.any():
        index = int(np.argmax(bad))
        raise ResponseError(f"the model scored {row_name(index)} {float(scores[index])!r}, not a probability in "
                            "[0, 1]; predict_fn must return P(class 1), e.g. predict_proba(X)[:, 1]")
    return scores
