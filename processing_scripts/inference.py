"""Serving handlers for SageMaker's scikit-learn container: CSV rows in, P(class 1) per row out.

Packed into ``model.tar.gz`` as ``code/inference.py`` beside ``model.joblib`` (see ``pipeline.package``).
The container calls ``model_fn`` once, then ``input_fn`` → ``predict_fn`` → ``output_fn`` per request.
Only the standard library, numpy, pandas and joblib are used (all in the container); no repository code.
"""
from __future__ import annotations

import io
import os

import numpy as np

MODEL_FILE = "model.joblib"
CSV = "text/csv"


def model_fn(model_dir: str):
    """Load the fitted estimator from ``model_dir/model.joblib``.

    >>> model_fn("/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /nonexistent/model.joblib not found: model.tar.gz must contain model.joblib at its root
    """
    import joblib

    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: model.tar.gz must contain {MODEL_FILE} at its root")
    try:
        return joblib.load(path)
    except Exception as error:  # pickle/joblib raise many types for a bad or incompatible file
        raise ValueError(
            f"{path} cannot be loaded ({type(error).__name__}: {_first_line(error)}); save the estimator with "
            "joblib.dump using the scikit-learn version of the serving container"
        ) from None


def input_fn(request_body, content_type: str = CSV) -> np.ndarray:
    """Parse a CSV payload (no header, numeric features, one row per line) into a 2-D float array.

    ``request_body`` is bytes or str; ``\\n`` or ``\\r\\n`` line endings; one or many rows. An empty
    field (``1,,3``) is a missing value and becomes NaN: the model decides whether it accepts NaN
    (most scikit-learn estimators refuse it). Rows of different widths, non-numeric fields (a header
    row), blank rows and an empty payload raise ValueError.

    >>> input_fn("1,2.5\\n3,4\\n", "text/csv")
    array([[1. , 2.5],
           [3. , 4. ]])
    >>> input_fn(b"7,8", "text/csv; charset=utf-8")
    array([[7., 8.]])
    >>> input_fn("1,2\\n3\\n", "text/csv")
    Traceback (most recent call last):
    ...
    ValueError: CSV row 2 has 1 fields, row 1 has 2; every row needs the same number of features
    """
    if not isinstance(content_type, str) or content_type.split(";")[0].strip().lower() != CSV:
        raise ValueError(f"unsupported content type {content_type!r}: send {CSV}")
    if isinstance(request_body, str):
        data = request_body.encode("utf-8")
    elif isinstance(request_body, (bytes, bytearray, memoryview)):
        data = bytes(request_body)
    else:
        raise ValueError(f"unsupported request body of type {type(request_body).__name__}: send CSV bytes or text")
    if not data or data.isspace():
        raise ValueError("empty CSV payload: send at least one row of features")
    if data.endswith(b"\n") and data[-2:-1] in (b"\n", b"\r"):
        data = data.rstrip(b"\r\n")  # trailing blank lines are not rows
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c", skip_blank_lines=False)
    except pd.errors.ParserError as error:
        raise ValueError(f"ragged CSV payload ({_first_line(error)}); every row needs the same number of features") from None
    except ValueError as error:
        raise ValueError(f"CSV payload is not all numeric ({_first_line(error)}); send features only, no header") from None
    # Row-major, like the container's own CSV decoder: the same rows give the same bits as predict_proba
    # on a C-ordered array (a column-major X can round the last bit differently).
    features = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    # The parser pads short and blank rows with NaN; only then is it worth telling them from empty fields.
    if np.isnan(features).any():
        _check_widths(data, features.shape[1])
    return features


def _check_widths(data: bytes, width: int) -> None:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            raise ValueError(f"CSV row {number} is blank; send one row of features per line")
        if line.count(b",") != width - 1:
            raise ValueError(
                f"CSV row {number} has {line.count(b',') + 1} fields, row 1 has {width}; "
                "every row needs the same number of features"
            )


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def predict_fn(input_data: np.ndarray, model) -> np.ndarray:
    """Score per row: ``predict_proba(X)[:, 1]``, the probability of the positive class ``classes_[1]``.

    For labels {0, 1} (or {False, True}) that is P(y = 1). For another pair of labels it is the
    probability of ``classes_[1]``, the larger label once scikit-learn has sorted them (e.g. "yes" of
    {"no", "yes"}); evaluation then treats that label as the positive class.

    >>> from sklearn.linear_model import LogisticRegression
    >>> model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> scores = predict_fn(np.array([[0.0], [3.0]]), model)
    >>> scores.shape, bool(scores[0] < 0.5 < scores[1])
    ((2,), True)
    """
    predict_proba = getattr(model, "predict_proba", None)
    if predict_proba is None:
        raise TypeError(f"{type(model).__name__} has no predict_proba: the pipeline needs scores, not labels")
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise ValueError(f"the model has {len(classes)} classes; this pipeline evaluates binary classifiers")
    probabilities = np.asarray(predict_proba(input_data), dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != 2:
        raise ValueError(
            f"predict_proba returned shape {probabilities.shape}; a binary classifier returns (rows, 2)"
        )
    return probabilities[:, 1]


def output_fn(prediction: np.ndarray, accept: str = CSV) -> tuple[str, str]:
    """``(body, "text/csv")``: one score per line, every digit kept (``repr`` round-trips a float exactly).

    ``accept`` may be ``text/csv`` (parameters allowed) or ``*/*``; an empty prediction is an empty body.
    The container sends the tuple's second item as the response's Content-Type (a bare str would go out
    as text/html). It maps a missing or ``*/*`` Accept to SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default
    application/json) before calling this, so the model's Environment sets that variable to text/csv.

    >>> output_fn(np.array([0.1, 1/3]), "text/csv")
    ('0.1\\n0.3333333333333333\\n', 'text/csv')
    >>> body, content_type = output_fn(np.array([0.1 + 0.2]), "text/csv; charset=utf-8")
    >>> float(body) == 0.1 + 0.2, content_type
    (True, 'text/csv')
    """
    if not isinstance(accept, str) or accept.split(";")[0].strip().lower() not in (CSV, "*/*"):
        raise ValueError(
            f"unsupported accept type {accept!r}: ask for {CSV} (Accept: {CSV}, or no Accept with "
            f"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT={CSV} in the model's environment)"
        )
    values = np.ravel(np.asarray(prediction, dtype=np.float64)).tolist()
    # The list's repr formats every float with repr() in one C loop; ", " never occurs inside a float.
    return (repr(values)[1:-1].replace(", ", "\n") + "\n" if values else ""), CSV
